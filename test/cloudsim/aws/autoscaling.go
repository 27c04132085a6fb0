package aws

import (
	"encoding/base64"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

var autoscalingService = &service{
	name:    ServiceAutoScaling,
	version: "2011-01-01",
	xmlns:   "http://autoscaling.amazonaws.com/doc/2011-01-01/",
	ops: map[string]opFunc{
		"CreateAutoScalingGroup":         (*Sim).createAutoScalingGroup,
		"DescribeAutoScalingGroups":      (*Sim).describeAutoScalingGroups,
		"UpdateAutoScalingGroup":         onGroup((*Sim).updateAutoScalingGroup),
		"DeleteAutoScalingGroup":         (*Sim).deleteAutoScalingGroup,
		"AttachLoadBalancerTargetGroups": onGroup((*Sim).attachLoadBalancerTargetGroups),
		"DetachLoadBalancerTargetGroups": onGroup((*Sim).detachLoadBalancerTargetGroups),
		"SuspendProcesses":               onGroup((*Sim).suspendProcesses),
		"ResumeProcesses":                onGroup((*Sim).resumeProcesses),
		"SetDesiredCapacity":             onGroup((*Sim).setDesiredCapacity),
		"CreateOrUpdateTags":             (*Sim).createOrUpdateTags,
	},
}

func (s *Sim) createAutoScalingGroup(c *call) (any, error) {
	rs := s.region(c.region)
	name, err := requireParam(c.form, "AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	if _, exists := rs.groups[name]; exists {
		// Also while the old group is still being deleted, as in AWS.
		return nil, errf(http.StatusBadRequest, "AlreadyExists", "AutoScalingGroup by this name already exists - A group with the name %s already exists", name)
	}
	if c.form.Get("LaunchTemplate.LaunchTemplateId") == "" && c.form.Get("LaunchTemplate.LaunchTemplateName") == "" {
		return nil, validation("Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.")
	}
	ref, err := s.groupTemplateParam(rs, c)
	if err != nil {
		return nil, err
	}
	minSize, maxSize, desired, err := groupSizes(c, nil)
	if err != nil {
		return nil, err
	}
	azs, vpcZone, err := groupZones(c, nil)
	if err != nil {
		return nil, err
	}
	tgs := memberList(c.form, "TargetGroupARNs")
	if err := s.checkTargetGroups(c.region, tgs); err != nil {
		return nil, err
	}
	var tags []asgTag
	for _, p := range structList(c.form, "Tags.member") {
		tags = append(tags, asgTag{key: c.form.Get(p + ".Key"), value: c.form.Get(p + ".Value"), propagate: boolParam(c.form, p+".PropagateAtLaunch")})
	}

	g := &group{
		name:         name,
		arn:          "arn:aws:autoscaling:" + c.region + ":" + s.opts.AccountID + ":autoScalingGroup:" + uuidLike(s.nextID(32)) + ":autoScalingGroupName/" + name,
		lt:           ref,
		min:          minSize,
		max:          maxSize,
		desired:      desired,
		azs:          azs,
		vpcZone:      vpcZone,
		targetGroups: dedupe(tgs),
		tags:         tags,
		suspended:    map[string]string{},
		created:      c.now,
	}
	rs.groups[name] = g
	s.reconcile(rs, g, c.now)
	return nil, nil
}

// groupTemplateParam reads and checks the LaunchTemplate parameter of
// CreateAutoScalingGroup and UpdateAutoScalingGroup.
func (s *Sim) groupTemplateParam(rs *regionState, c *call) (ltRef, error) {
	id := c.form.Get("LaunchTemplate.LaunchTemplateId")
	name := c.form.Get("LaunchTemplate.LaunchTemplateName")
	version := c.form.Get("LaunchTemplate.Version")
	if (id == "") == (name == "") {
		return ltRef{}, validation("Valid requests must contain either launchTemplateId or LaunchTemplateName")
	}
	var lt *launchTemplate
	if id != "" {
		if lt = rs.templates[id]; lt == nil {
			return ltRef{}, validation("The specified launch template, with template ID %s, does not exist.", id)
		}
	} else {
		if lt = rs.templates[rs.ltByName[name]]; lt == nil {
			return ltRef{}, validation("The specified launch template, with template name %s, does not exist.", name)
		}
	}
	if version == "" {
		version = "$Default"
	}
	if _, ok := lt.resolveVersion(version); !ok {
		return ltRef{}, validation("The specified launch template, with template ID %s, version %s, does not exist.", lt.id, version)
	}
	return ltRef{id: lt.id, name: lt.name, version: version}, nil
}

// groupSizes reads MinSize, MaxSize and DesiredCapacity and checks them. cur is
// the group being updated, whose bounds stand for those not given, or nil on
// create, where both bounds are required and the desired capacity defaults to
// the min.
func groupSizes(c *call, cur *group) (minSize, maxSize, desired int32, err error) {
	minSize, hasMin, err := optInt32(c.form, "MinSize")
	if err != nil {
		return 0, 0, 0, err
	}
	maxSize, hasMax, err := optInt32(c.form, "MaxSize")
	if err != nil {
		return 0, 0, 0, err
	}
	if cur == nil && !hasMin {
		return 0, 0, 0, validation("1 validation error detected: Value null at 'minSize' failed to satisfy constraint: Member must not be null")
	}
	if cur == nil && !hasMax {
		return 0, 0, 0, validation("1 validation error detected: Value null at 'maxSize' failed to satisfy constraint: Member must not be null")
	}
	desired, hasDesired, err := optInt32(c.form, "DesiredCapacity")
	if err != nil {
		return 0, 0, 0, err
	}
	// Only an update gets here with a bound left out.
	if !hasMin {
		minSize = cur.min
	}
	if !hasMax {
		maxSize = cur.max
	}
	if !hasDesired {
		if cur == nil {
			desired = minSize
		} else {
			// As in AWS: moving a bound past the current desired capacity
			// drags the desired capacity along.
			desired = max(minSize, min(maxSize, cur.desired))
		}
	}
	if err := checkSizes(minSize, maxSize, desired); err != nil {
		return 0, 0, 0, err
	}
	return minSize, maxSize, desired, nil
}

func checkSizes(minSize, maxSize, desired int32) error {
	if minSize < 0 || maxSize < 0 {
		return validation("Group size bounds must not be negative.")
	}
	if minSize > maxSize {
		return validation("Max bound, %d, must be greater than or equal to min bound, %d", maxSize, minSize)
	}
	if desired < minSize || desired > maxSize {
		return validation("Desired capacity:%d must be between the specified min size:%d and max size:%d", desired, minSize, maxSize)
	}
	return nil
}

// groupZones reads AvailabilityZones and VPCZoneIdentifier. With subnets, each
// subnet stands for one zone of the region (a, b, c, ... in order), since the
// sim has no VPC model. cur is the group being updated, or nil on create.
func groupZones(c *call, cur *group) (azs []string, vpcZone string, err error) {
	azs = memberList(c.form, "AvailabilityZones")
	_, hasVPC := c.form["VPCZoneIdentifier"]
	vpcZone = c.form.Get("VPCZoneIdentifier")
	if cur != nil && len(azs) == 0 && !hasVPC {
		return cur.azs, cur.vpcZone, nil
	}
	for _, az := range azs {
		if !strings.HasPrefix(az, c.region) || len(az) != len(c.region)+1 {
			return nil, "", validation("Invalid Availability Zone %s for region %s", az, c.region)
		}
	}
	if subnets := splitTrim(vpcZone); len(subnets) > 0 {
		if len(azs) == 0 {
			for i := range subnets {
				azs = append(azs, c.region+string(rune('a'+i%6)))
			}
		}
	}
	if len(azs) == 0 {
		return nil, "", validation("At least one Availability Zone or VPC Subnet is required.")
	}
	return dedupe(azs), vpcZone, nil
}

func (s *Sim) checkTargetGroups(region string, arns []string) error {
	for _, arn := range arns {
		if tg := s.targetGroups[arn]; tg == nil || !tg.visibleIn(region) {
			return validation("Provided Target Groups may not be valid. Please ensure they exist and try again.")
		}
	}
	return nil
}

func dedupe(in []string) []string {
	var out []string
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func uuidLike(hex32 string) string {
	return hex32[0:8] + "-" + hex32[8:12] + "-" + hex32[12:16] + "-" + hex32[16:20] + "-" + hex32[20:32]
}

// lookupGroup finds a group that can still be changed.
func lookupGroup(rs *regionState, c *call) (*group, error) {
	name, err := requireParam(c.form, "AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	g := rs.groups[name]
	if g == nil {
		return nil, validation("AutoScalingGroup name not found - AutoScalingGroup %s not found", name)
	}
	if g.deleting {
		return nil, errf(http.StatusBadRequest, "ScalingActivityInProgress", "AutoScalingGroup %s is pending delete.", name)
	}
	return g, nil
}

// groupOpFunc implements an operation on the one group that AutoScalingGroupName
// names, in the caller's region rs; the group can still be changed.
type groupOpFunc func(s *Sim, c *call, rs *regionState, g *group) (any, error)

// onGroup makes an operation of op that first looks up its group with
// lookupGroup, refusing the request when there is none to change.
func onGroup(op groupOpFunc) opFunc {
	return func(s *Sim, c *call) (any, error) {
		rs := s.region(c.region)
		g, err := lookupGroup(rs, c)
		if err != nil {
			return nil, err
		}
		return op(s, c, rs, g)
	}
}

// XML shapes of DescribeAutoScalingGroups.

type describeASGResult struct {
	AutoScalingGroups []asgXML `xml:"AutoScalingGroups>member"`
	NextToken         string   `xml:"NextToken,omitempty"`
}

type asgXML struct {
	AutoScalingGroupName             string         `xml:"AutoScalingGroupName"`
	AutoScalingGroupARN              string         `xml:"AutoScalingGroupARN"`
	LaunchTemplate                   *ltSpecXML     `xml:"LaunchTemplate,omitempty"`
	MinSize                          int32          `xml:"MinSize"`
	MaxSize                          int32          `xml:"MaxSize"`
	DesiredCapacity                  int32          `xml:"DesiredCapacity"`
	DefaultCooldown                  int32          `xml:"DefaultCooldown"`
	AvailabilityZones                []string       `xml:"AvailabilityZones>member"`
	TargetGroupARNs                  []string       `xml:"TargetGroupARNs>member"`
	HealthCheckType                  string         `xml:"HealthCheckType"`
	HealthCheckGracePeriod           int32          `xml:"HealthCheckGracePeriod"`
	Instances                        []asgInstXML   `xml:"Instances>member"`
	CreatedTime                      string         `xml:"CreatedTime"`
	SuspendedProcesses               []suspendedXML `xml:"SuspendedProcesses>member"`
	VPCZoneIdentifier                string         `xml:"VPCZoneIdentifier,omitempty"`
	Status                           string         `xml:"Status,omitempty"`
	Tags                             []asgTagXML    `xml:"Tags>member"`
	TerminationPolicies              []string       `xml:"TerminationPolicies>member"`
	NewInstancesProtectedFromScaleIn bool           `xml:"NewInstancesProtectedFromScaleIn"`
}

type ltSpecXML struct {
	LaunchTemplateID   string `xml:"LaunchTemplateId"`
	LaunchTemplateName string `xml:"LaunchTemplateName"`
	Version            string `xml:"Version"`
}

type asgInstXML struct {
	InstanceID           string     `xml:"InstanceId"`
	InstanceType         string     `xml:"InstanceType,omitempty"`
	AvailabilityZone     string     `xml:"AvailabilityZone"`
	LifecycleState       string     `xml:"LifecycleState"`
	HealthStatus         string     `xml:"HealthStatus"`
	LaunchTemplate       *ltSpecXML `xml:"LaunchTemplate,omitempty"`
	ProtectedFromScaleIn bool       `xml:"ProtectedFromScaleIn"`
}

type suspendedXML struct {
	ProcessName      string `xml:"ProcessName"`
	SuspensionReason string `xml:"SuspensionReason"`
}

type asgTagXML struct {
	ResourceID        string `xml:"ResourceId"`
	ResourceType      string `xml:"ResourceType"`
	Key               string `xml:"Key"`
	Value             string `xml:"Value"`
	PropagateAtLaunch bool   `xml:"PropagateAtLaunch"`
}

func groupXML(g *group, includeInstances bool) asgXML {
	x := asgXML{
		AutoScalingGroupName:   g.name,
		AutoScalingGroupARN:    g.arn,
		LaunchTemplate:         &ltSpecXML{LaunchTemplateID: g.lt.id, LaunchTemplateName: g.lt.name, Version: g.lt.version},
		MinSize:                g.min,
		MaxSize:                g.max,
		DesiredCapacity:        g.desired,
		DefaultCooldown:        300,
		AvailabilityZones:      g.azs,
		TargetGroupARNs:        g.targetGroups,
		HealthCheckType:        "EC2",
		HealthCheckGracePeriod: 300,
		CreatedTime:            isoTS(g.created),
		VPCZoneIdentifier:      g.vpcZone,
		TerminationPolicies:    []string{"Default"},
	}
	if g.deleting {
		x.Status = "Delete in progress"
	}
	if includeInstances {
		for _, in := range g.instances {
			x.Instances = append(x.Instances, asgInstXML{
				InstanceID:       in.id,
				InstanceType:     in.instanceType,
				AvailabilityZone: in.az,
				LifecycleState:   string(in.state),
				// Health checks are of type EC2 and instances never fail
				// them: an application failing behind a load balancer shows
				// up only in target health (see NeverHealthy).
				HealthStatus:   "Healthy",
				LaunchTemplate: &ltSpecXML{LaunchTemplateID: in.ltID, LaunchTemplateName: in.ltName, Version: itoa64(in.ltVersion)},
			})
		}
	}
	for _, p := range sortedKeys(g.suspended) {
		x.SuspendedProcesses = append(x.SuspendedProcesses, suspendedXML{ProcessName: p, SuspensionReason: g.suspended[p]})
	}
	for _, t := range g.tags {
		x.Tags = append(x.Tags, asgTagXML{ResourceID: g.name, ResourceType: "auto-scaling-group", Key: t.key, Value: t.value, PropagateAtLaunch: t.propagate})
	}
	return x
}

func (s *Sim) describeAutoScalingGroups(c *call) (any, error) {
	rs := s.region(c.region)
	names := memberList(c.form, "AutoScalingGroupNames")
	filters, err := asgFilters(c)
	if err != nil {
		return nil, err
	}
	maxRecords, ok, err := optInt32(c.form, "MaxRecords")
	if err != nil {
		return nil, err
	}
	if !ok {
		maxRecords = 50
	}
	if maxRecords < 1 || maxRecords > 100 {
		return nil, validation("1 validation error detected: Value '%d' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to 100", maxRecords)
	}
	// The token is the name of the last group returned: groups are listed
	// in name order, so paging stays stable while groups come and go.
	after := ""
	if tok := c.form.Get("NextToken"); tok != "" {
		b, derr := base64.RawURLEncoding.DecodeString(tok)
		if derr != nil || len(b) == 0 {
			return nil, errf(http.StatusBadRequest, "InvalidNextToken", "The token '%s' is invalid.", tok)
		}
		after = string(b)
	}
	includeInstances := c.form.Get("IncludeInstances") != "false"

	var matched []*group
	for _, name := range sortedGroupNames(rs) {
		g := rs.groups[name]
		if len(names) > 0 && !slices.Contains(names, name) {
			continue
		}
		if !filters(g) || (after != "" && name <= after) {
			continue
		}
		matched = append(matched, g)
	}
	var res describeASGResult
	for i, g := range matched {
		if i == int(maxRecords) {
			res.NextToken = base64.RawURLEncoding.EncodeToString([]byte(matched[i-1].name))
			break
		}
		res.AutoScalingGroups = append(res.AutoScalingGroups, groupXML(g, includeInstances))
	}
	return res, nil
}

// asgFilters supports the tag filters of DescribeAutoScalingGroups: "tag:KEY",
// "tag-key" and "tag-value". Filters are ANDed, values within one ORed.
func asgFilters(c *call) (func(*group) bool, error) {
	type filter struct {
		name   string
		values []string
	}
	var fs []filter
	for _, p := range structList(c.form, "Filters.member") {
		f := filter{name: c.form.Get(p + ".Name"), values: memberList(c.form, p+".Values")}
		if !strings.HasPrefix(f.name, "tag:") && f.name != "tag-key" && f.name != "tag-value" {
			return nil, validation("Filter %s is not supported by this simulator (supported: tag:<key>, tag-key, tag-value).", f.name)
		}
		fs = append(fs, f)
	}
	return func(g *group) bool {
		for _, f := range fs {
			ok := false
			for _, t := range g.tags {
				switch {
				case f.name == "tag-key":
					ok = ok || slices.Contains(f.values, t.key)
				case f.name == "tag-value":
					ok = ok || slices.Contains(f.values, t.value)
				default:
					ok = ok || (t.key == f.name[len("tag:"):] && slices.Contains(f.values, t.value))
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}, nil
}

func (s *Sim) updateAutoScalingGroup(c *call, rs *regionState, g *group) (any, error) {
	ref := g.lt
	if c.form.Get("LaunchTemplate.LaunchTemplateId") != "" || c.form.Get("LaunchTemplate.LaunchTemplateName") != "" {
		var err error
		if ref, err = s.groupTemplateParam(rs, c); err != nil {
			return nil, err
		}
	}
	minSize, maxSize, desired, err := groupSizes(c, g)
	if err != nil {
		return nil, err
	}
	azs, vpcZone, err := groupZones(c, g)
	if err != nil {
		return nil, err
	}
	g.lt, g.min, g.max, g.desired, g.azs, g.vpcZone = ref, minSize, maxSize, desired, azs, vpcZone
	s.reconcile(rs, g, c.now)
	return nil, nil
}

func (s *Sim) deleteAutoScalingGroup(c *call) (any, error) {
	rs := s.region(c.region)
	name, err := requireParam(c.form, "AutoScalingGroupName")
	if err != nil {
		return nil, err
	}
	g := rs.groups[name]
	if g == nil {
		return nil, validation("AutoScalingGroup name not found - AutoScalingGroup %s not found", name)
	}
	if g.deleting {
		// Deleting twice is fine in AWS too; the first delete wins.
		return nil, nil
	}
	if !boolParam(c.form, "ForceDelete") {
		if len(g.active()) > 0 {
			return nil, errf(http.StatusBadRequest, "ResourceInUse", "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.")
		}
		if len(g.instances) > 0 {
			return nil, errf(http.StatusBadRequest, "ScalingActivityInProgress", "You cannot delete an AutoScalingGroup while there are scaling activities in progress for that group.")
		}
	}
	g.deleting = true
	g.deleteAt = c.now.Add(s.opts.DeleteDelay)
	g.min, g.max, g.desired = 0, 0, 0
	for _, in := range g.instances {
		// ForceDelete terminates even with Terminate suspended.
		s.terminate(in, c.now)
	}
	return nil, nil
}

func (s *Sim) setDesiredCapacity(c *call, rs *regionState, g *group) (any, error) {
	desired, ok, err := optInt32(c.form, "DesiredCapacity")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, validation("1 validation error detected: Value null at 'desiredCapacity' failed to satisfy constraint: Member must not be null")
	}
	return nil, s.scale(rs, g, desired, c.now)
}

// scale sets a group's desired capacity within its bounds, as SetDesiredCapacity and scaling policies
// do, and lets the group head for it.
func (s *Sim) scale(rs *regionState, g *group, desired int32, now time.Time) error {
	switch {
	case desired > g.max:
		return validation("New SetDesiredCapacity value %d is above max value %d for the AutoScalingGroup.", desired, g.max)
	case desired < g.min:
		return validation("New SetDesiredCapacity value %d is below min value %d for the AutoScalingGroup.", desired, g.min)
	}
	g.desired = desired
	s.reconcile(rs, g, now)
	return nil
}

// createOrUpdateTags sets tags on groups of the caller's region: a tag whose key the group has already is
// replaced. Like Auto Scaling, it refuses the whole request if any tag names a group that does not exist
// (or is being deleted) or a resource type other than auto-scaling-group.
func (s *Sim) createOrUpdateTags(c *call) (any, error) {
	rs := s.region(c.region)
	type change struct {
		g *group
		t asgTag
	}
	var changes []change
	for _, p := range structList(c.form, "Tags.member") {
		id, typ, k := c.form.Get(p+".ResourceId"), c.form.Get(p+".ResourceType"), c.form.Get(p+".Key")
		if typ != "auto-scaling-group" {
			return nil, validation("1 validation error detected: Value '%s' at 'tags.member.resourceType' failed to satisfy constraint: Member must be auto-scaling-group", typ)
		}
		if k == "" {
			return nil, validation("1 validation error detected: Value null at 'tags.member.key' failed to satisfy constraint: Member must not be null")
		}
		g := rs.groups[id]
		if g == nil || g.deleting {
			return nil, validation("AutoScalingGroup name not found - AutoScalingGroup %s not found", id)
		}
		changes = append(changes, change{g, asgTag{key: k, value: c.form.Get(p + ".Value"), propagate: boolParam(c.form, p+".PropagateAtLaunch")}})
	}
	if len(changes) == 0 {
		return nil, validation("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	for _, ch := range changes {
		ch.g.setTag(ch.t)
	}
	return nil, nil
}

// targetGroupARNsParam reads the TargetGroupARNs of AttachLoadBalancerTargetGroups
// and DetachLoadBalancerTargetGroups, which must name at least one.
func targetGroupARNsParam(c *call) ([]string, error) {
	arns := memberList(c.form, "TargetGroupARNs")
	if len(arns) == 0 {
		return nil, validation("1 validation error detected: Value null at 'targetGroupARNs' failed to satisfy constraint: Member must not be null")
	}
	return arns, nil
}

func (s *Sim) attachLoadBalancerTargetGroups(c *call, _ *regionState, g *group) (any, error) {
	arns, err := targetGroupARNsParam(c)
	if err != nil {
		return nil, err
	}
	if err := s.checkTargetGroups(c.region, arns); err != nil {
		return nil, err
	}
	for _, arn := range arns {
		if slices.Contains(g.targetGroups, arn) {
			continue
		}
		g.targetGroups = append(g.targetGroups, arn)
		// Attaching registers the instances already in service.
		if !g.isSuspended(procAddToLoadBalancer) {
			for _, in := range g.instances {
				if in.state == stateInService {
					in.registered[arn] = c.now
				}
			}
		}
	}
	return nil, nil
}

func (s *Sim) detachLoadBalancerTargetGroups(c *call, _ *regionState, g *group) (any, error) {
	arns, err := targetGroupARNsParam(c)
	if err != nil {
		return nil, err
	}
	g.targetGroups = slices.DeleteFunc(g.targetGroups, func(a string) bool { return slices.Contains(arns, a) })
	for _, in := range g.instances {
		for _, arn := range arns {
			delete(in.registered, arn)
		}
	}
	return nil, nil
}

// scalingProcesses reads ScalingProcesses; none means all.
func scalingProcesses(c *call) ([]string, error) {
	procs := memberList(c.form, "ScalingProcesses")
	if len(procs) == 0 {
		return allProcesses, nil
	}
	for _, p := range procs {
		if !slices.Contains(allProcesses, p) {
			return nil, validation("Process '%s' is not a valid scaling process.", p)
		}
	}
	return procs, nil
}

func (s *Sim) suspendProcesses(c *call, _ *regionState, g *group) (any, error) {
	procs, err := scalingProcesses(c)
	if err != nil {
		return nil, err
	}
	for _, p := range procs {
		if !g.isSuspended(p) {
			g.suspended[p] = "User suspended at " + c.now.UTC().Format("2006-01-02T15:04:05Z")
		}
	}
	return nil, nil
}

func (s *Sim) resumeProcesses(c *call, rs *regionState, g *group) (any, error) {
	procs, err := scalingProcesses(c)
	if err != nil {
		return nil, err
	}
	for _, p := range procs {
		delete(g.suspended, p)
	}
	// Resuming Launch or Terminate lets the group catch up at once.
	s.reconcile(rs, g, c.now)
	return nil, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
