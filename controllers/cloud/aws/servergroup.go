package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

// Tags put on every Auto Scaling group (and propagated to its instances) and on the launch templates
// Create makes.
const (
	TagServerGroup = "gennaker.io/server-group"
	TagUID         = "gennaker.io/uid"
	TagCluster     = "gennaker.io/cluster"
)

// The Auto Scaling processes a disabled group has suspended.
const (
	procAddToLoadBalancer = "AddToLoadBalancer"
	procLaunch            = "Launch"
	procTerminate         = "Terminate"
)

// statusDeleting is the Status of an Auto Scaling group being deleted.
const statusDeleting = "Delete in progress"

// Launch template versions that are not numbers.
const (
	versionLatest  = "$Latest"
	versionDefault = "$Default"
)

// maxTargetGroupsPerCall is how many target groups one Attach/DetachLoadBalancerTargetGroups call takes.
const maxTargetGroupsPerCall = 10

// maxUnhealthyNamed is how many instances Observation.Unhealthy names.
const maxUnhealthyNamed = 3

// awsSpec returns the ServerGroup's AWS block, or an InvalidRequest error.
func awsSpec(op string, sg *v1alpha1.ServerGroup) (*v1alpha1.AWSServerGroup, error) {
	if sg.Spec.AWS == nil {
		return nil, invalid(op, "spec.aws is required for a server group in an aws account")
	}
	return sg.Spec.AWS, nil
}

// describeGroup returns the Auto Scaling group of that name, nil when there is none.
func describeGroup(ctx context.Context, r *regional, name string) (*asgtypes.AutoScalingGroup, error) {
	out, err := r.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{name},
	})
	if err != nil {
		return nil, wrap("DescribeAutoScalingGroups", err)
	}
	for i := range out.AutoScalingGroups {
		if aws.ToString(out.AutoScalingGroups[i].AutoScalingGroupName) == name {
			return &out.AutoScalingGroups[i], nil
		}
	}
	return nil, nil
}

// mustDescribeGroup is describeGroup for operations that need the group: none is a NotFound error.
func mustDescribeGroup(ctx context.Context, r *regional, op, name string) (*asgtypes.AutoScalingGroup, error) {
	g, err := describeGroup(ctx, r, name)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, &cloud.Error{Reason: cloud.NotFound, Op: op, Err: fmt.Errorf("Auto Scaling group %s not found", name)}
	}
	return g, nil
}

// suspended returns the group's suspended processes.
func suspended(g *asgtypes.AutoScalingGroup) map[string]bool {
	s := make(map[string]bool, len(g.SuspendedProcesses))
	for _, p := range g.SuspendedProcesses {
		s[aws.ToString(p.ProcessName)] = true
	}
	return s
}

// trafficOf says whether the group takes traffic: every target group of the spec attached and
// AddToLoadBalancer not suspended.
func trafficOf(g *asgtypes.AutoScalingGroup, spec *v1alpha1.AWSServerGroup) v1alpha1.Traffic {
	if suspended(g)[procAddToLoadBalancer] {
		return v1alpha1.TrafficDisabled
	}
	if spec != nil {
		for _, arn := range spec.TargetGroupARNs {
			if !slices.Contains(g.TargetGroupARNs, arn) {
				return v1alpha1.TrafficDisabled
			}
		}
	}
	return v1alpha1.TrafficEnabled
}

// Observe reads the Auto Scaling group named after the ServerGroup and, when its traffic is Enabled, the
// health of its instances in its target groups.
func (c *Client) Observe(ctx context.Context, sg *v1alpha1.ServerGroup) (cloud.Observation, error) {
	r, err := c.regionOf("DescribeAutoScalingGroups", sg)
	if err != nil {
		return cloud.Observation{}, err
	}
	g, err := describeGroup(ctx, r, sg.Name)
	if err != nil || g == nil {
		return cloud.Observation{}, err
	}
	spec := sg.Spec.AWS
	o := cloud.Observation{
		Exists:     true,
		Deleting:   aws.ToString(g.Status) == statusDeleting,
		ProviderID: aws.ToString(g.AutoScalingGroupARN),
		Capacity: v1alpha1.Capacity{
			Min:     aws.ToInt32(g.MinSize),
			Max:     aws.ToInt32(g.MaxSize),
			Desired: aws.ToInt32(g.DesiredCapacity),
		},
		Traffic: trafficOf(g, spec),
	}
	o.Instances.Desired = o.Capacity.Desired

	var inService []string
	for _, in := range g.Instances {
		if in.LifecycleState == asgtypes.LifecycleStateInService {
			inService = append(inService, aws.ToString(in.InstanceId))
		}
	}
	o.Instances.Running = int32(len(inService))

	// why holds, per instance that is not healthy, the reason; byTarget says whether the load balancers
	// decide health.
	why := map[string]string{}
	byTarget := o.Traffic == v1alpha1.TrafficEnabled && spec != nil && len(spec.TargetGroupARNs) > 0 &&
		!o.Deleting && len(inService) > 0
	if byTarget {
		for _, id := range inService {
			why[id] = ""
		}
		for _, arn := range spec.TargetGroupARNs {
			out, err := r.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
			if err != nil {
				return cloud.Observation{}, wrap("DescribeTargetHealth", err)
			}
			states := map[string]elbtypes.TargetHealthStateEnum{}
			for _, d := range out.TargetHealthDescriptions {
				if d.Target != nil && d.TargetHealth != nil {
					states[aws.ToString(d.Target.Id)] = d.TargetHealth.State
				}
			}
			for _, id := range inService {
				if why[id] != "" {
					continue
				}
				switch st, ok := states[id]; {
				case !ok:
					why[id] = "not registered in its target group"
				case st != elbtypes.TargetHealthStateEnumHealthy:
					why[id] = "target " + string(st)
				}
			}
		}
	}

	var named []string
	unhealthy := 0
	for _, in := range g.Instances {
		id := aws.ToString(in.InstanceId)
		var reason string
		switch {
		case isLeaving(in.LifecycleState):
			continue // on its way out; not part of the desired capacity
		case in.LifecycleState != asgtypes.LifecycleStateInService:
			reason = string(in.LifecycleState)
		case byTarget:
			reason = why[id]
		case aws.ToString(in.HealthStatus) != "Healthy":
			reason = "health status " + aws.ToString(in.HealthStatus)
		}
		if reason == "" {
			o.Instances.Healthy++
			continue
		}
		unhealthy++
		if len(named) < maxUnhealthyNamed {
			named = append(named, id+": "+reason)
		}
	}
	if o.Instances.Healthy < o.Instances.Desired {
		if more := unhealthy - len(named); more > 0 {
			named = append(named, fmt.Sprintf("%d more", more))
		}
		if missing := int(o.Instances.Desired) - int(o.Instances.Healthy) - unhealthy; missing > 0 {
			named = append(named, fmt.Sprintf("%d not launched yet", missing))
		}
		o.Unhealthy = strings.Join(named, "; ")
	}
	return o, nil
}

// isLeaving says whether an instance in that state is leaving the group.
func isLeaving(s asgtypes.LifecycleState) bool {
	return strings.HasPrefix(string(s), "Terminat") || strings.HasPrefix(string(s), "Detach") ||
		strings.HasPrefix(string(s), "Warmed:")
}

// Create makes the launch template (version) the spec asks for and the Auto Scaling group. A group that
// exists already is left as it is.
func (c *Client) Create(ctx context.Context, sg *v1alpha1.ServerGroup) error {
	const op = "CreateAutoScalingGroup"
	spec, err := awsSpec(op, sg)
	if err != nil {
		return err
	}
	r, err := c.regionOf(op, sg)
	if err != nil {
		return err
	}
	g, err := describeGroup(ctx, r, sg.Name)
	if err != nil {
		return err
	}
	if g != nil {
		return nil
	}
	lt, err := launchTemplate(ctx, r, sg, spec)
	if err != nil {
		return err
	}

	owner := sg.Namespace + "/" + sg.Name
	cluster := sg.Labels[v1alpha1.LabelCluster]
	if cluster == "" {
		cluster = sg.Spec.ClusterName()
	}
	in := &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(sg.Name),
		MinSize:              aws.Int32(sg.Spec.Capacity.Min),
		MaxSize:              aws.Int32(sg.Spec.Capacity.Max),
		DesiredCapacity:      aws.Int32(sg.Spec.Capacity.Desired),
		LaunchTemplate:       lt,
		Tags: []asgtypes.Tag{
			asgTag(TagServerGroup, owner),
			asgTag(TagUID, string(sg.UID)),
			asgTag(TagCluster, cluster),
		},
	}
	if len(spec.SubnetIDs) > 0 {
		in.VPCZoneIdentifier = aws.String(strings.Join(spec.SubnetIDs, ","))
	} else if len(sg.Spec.Zones) > 0 {
		in.AvailabilityZones = sg.Spec.Zones
	}
	enabled := sg.Spec.Traffic != v1alpha1.TrafficDisabled
	if enabled && len(spec.TargetGroupARNs) > 0 {
		in.TargetGroupARNs = spec.TargetGroupARNs
	}
	if _, err := r.asg.CreateAutoScalingGroup(ctx, in); err != nil {
		if errorCode(err) == codeASGAlreadyExists {
			return nil
		}
		return wrap(op, err)
	}
	if !enabled {
		// Out of its load balancers, but launching: the instances come up and can be checked.
		_, err := r.asg.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{
			AutoScalingGroupName: aws.String(sg.Name),
			ScalingProcesses:     []string{procAddToLoadBalancer},
		})
		return wrap("SuspendProcesses", err)
	}
	return nil
}

func asgTag(k, v string) asgtypes.Tag {
	return asgtypes.Tag{Key: aws.String(k), Value: aws.String(v), PropagateAtLaunch: aws.Bool(true)}
}

// clientToken derives an idempotency token from the ServerGroup's UID and the request's parts, so the
// same request repeated after a crash gets the same result back.
func clientToken(sg *v1alpha1.ServerGroup, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	id := string(sg.UID)
	if id == "" {
		id = sg.Namespace + "/" + sg.Name
		if len(id) > 64 {
			sum := sha256.Sum256([]byte(id))
			id = hex.EncodeToString(sum[:16])
		}
	}
	return "gennaker-" + id + "-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// launchTemplate returns the launch template the group launches from, making a template or a version of
// one as the spec asks.
func launchTemplate(ctx context.Context, r *regional, sg *v1alpha1.ServerGroup, spec *v1alpha1.AWSServerGroup) (*asgtypes.LaunchTemplateSpecification, error) {
	desc := sg.Namespace + "/" + sg.Name
	data := &ec2types.RequestLaunchTemplateData{}
	if spec.ImageID != "" {
		data.ImageId = aws.String(spec.ImageID)
	}
	if spec.InstanceType != "" {
		data.InstanceType = ec2types.InstanceType(spec.InstanceType)
	}

	if t := spec.LaunchTemplate; t != nil {
		version := t.Version
		if version == "" {
			version = versionLatest
		}
		if spec.ImageID == "" && spec.InstanceType == "" {
			return &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String(t.Name), Version: aws.String(version)}, nil
		}
		source := version
		if _, err := strconv.ParseInt(version, 10, 64); err != nil {
			// An alias: resolve it to the version it stands for. $Latest may be the version an earlier,
			// interrupted Create made for this group; then it is the one to use.
			v, err := describeVersion(ctx, r, t.Name, version)
			if err != nil {
				return nil, err
			}
			if aws.ToString(v.VersionDescription) == desc && sameData(v.LaunchTemplateData, spec) {
				return &asgtypes.LaunchTemplateSpecification{
					LaunchTemplateName: aws.String(t.Name),
					Version:            aws.String(strconv.FormatInt(aws.ToInt64(v.VersionNumber), 10)),
				}, nil
			}
			source = strconv.FormatInt(aws.ToInt64(v.VersionNumber), 10)
		}
		out, err := r.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
			LaunchTemplateName: aws.String(t.Name),
			SourceVersion:      aws.String(source),
			LaunchTemplateData: data,
			VersionDescription: aws.String(desc),
			ClientToken:        aws.String(clientToken(sg, "version", t.Name, source, spec.ImageID, spec.InstanceType)),
		})
		if err != nil {
			return nil, wrap("CreateLaunchTemplateVersion", err)
		}
		if out.LaunchTemplateVersion == nil || out.LaunchTemplateVersion.VersionNumber == nil {
			return nil, &cloud.Error{Reason: cloud.Unknown, Op: "CreateLaunchTemplateVersion", Err: errors.New("no version number in the response")}
		}
		return &asgtypes.LaunchTemplateSpecification{
			LaunchTemplateName: aws.String(t.Name),
			Version:            aws.String(strconv.FormatInt(*out.LaunchTemplateVersion.VersionNumber, 10)),
		}, nil
	}

	const op = "CreateLaunchTemplate"
	if spec.ImageID == "" {
		return nil, invalid(op, "spec.aws.imageID is required when spec.aws.launchTemplate is not set")
	}
	_, err := r.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(sg.Name),
		LaunchTemplateData: data,
		VersionDescription: aws.String(desc),
		ClientToken:        aws.String(clientToken(sg, "template", sg.Name, spec.ImageID, spec.InstanceType)),
		TagSpecifications: []ec2types.TagSpecification{{
			ResourceType: ec2types.ResourceTypeLaunchTemplate,
			Tags: []ec2types.Tag{
				{Key: aws.String(TagServerGroup), Value: aws.String(desc)},
				{Key: aws.String(TagUID), Value: aws.String(string(sg.UID))},
			},
		}},
	})
	if err != nil {
		if errorCode(err) != codeLTAlreadyExists {
			return nil, wrap(op, err)
		}
		// Made by an earlier Create of this group (the client token did not match, the spec changed), or
		// someone else's template: use it only if it is this group's.
		if err := checkOwnTemplate(ctx, r, sg); err != nil {
			return nil, err
		}
	}
	return &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String(sg.Name), Version: aws.String(versionLatest)}, nil
}

// describeVersion returns one version ($Latest, $Default or a number) of a launch template.
func describeVersion(ctx context.Context, r *regional, name, version string) (*ec2types.LaunchTemplateVersion, error) {
	const op = "DescribeLaunchTemplateVersions"
	out, err := r.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateName: aws.String(name),
		Versions:           []string{version},
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	if len(out.LaunchTemplateVersions) == 0 || out.LaunchTemplateVersions[0].VersionNumber == nil {
		return nil, &cloud.Error{Reason: cloud.NotFound, Op: op, Err: fmt.Errorf("launch template %s has no version %s", name, version)}
	}
	return &out.LaunchTemplateVersions[0], nil
}

// sameData says whether a launch template version carries the spec's image and instance type.
func sameData(d *ec2types.ResponseLaunchTemplateData, spec *v1alpha1.AWSServerGroup) bool {
	if d == nil {
		return false
	}
	if spec.ImageID != "" && aws.ToString(d.ImageId) != spec.ImageID {
		return false
	}
	if spec.InstanceType != "" && string(d.InstanceType) != spec.InstanceType {
		return false
	}
	return true
}

// ownTemplate returns the ID of the launch template named after the ServerGroup when it carries the
// group's UID tag, "" when there is no such template or it is someone else's.
func ownTemplate(ctx context.Context, r *regional, sg *v1alpha1.ServerGroup) (string, error) {
	const op = "DescribeLaunchTemplates"
	out, err := r.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{sg.Name}})
	if err != nil {
		if err = wrap(op, err); cloud.IsNotFound(err) {
			return "", nil
		}
		return "", err
	}
	for _, t := range out.LaunchTemplates {
		if aws.ToString(t.LaunchTemplateName) != sg.Name {
			continue
		}
		for _, tag := range t.Tags {
			if aws.ToString(tag.Key) == TagUID && aws.ToString(tag.Value) == string(sg.UID) && sg.UID != "" {
				return aws.ToString(t.LaunchTemplateId), nil
			}
		}
	}
	return "", nil
}

// deleteOwnTemplate deletes the launch template Create made for the ServerGroup, if it is still there.
// A template of that name that is not the group's is left alone.
func deleteOwnTemplate(ctx context.Context, r *regional, sg *v1alpha1.ServerGroup) error {
	const op = "DeleteLaunchTemplate"
	id, err := ownTemplate(ctx, r, sg)
	if err != nil || id == "" {
		return err
	}
	_, err = r.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(id)})
	if err = wrap(op, err); err != nil && !cloud.IsNotFound(err) {
		return err
	}
	return nil
}

// checkOwnTemplate accepts a launch template named after the ServerGroup only when it carries the
// group's UID tag.
func checkOwnTemplate(ctx context.Context, r *regional, sg *v1alpha1.ServerGroup) error {
	id, err := ownTemplate(ctx, r, sg)
	if err != nil {
		return err
	}
	if id == "" {
		return invalid("CreateLaunchTemplate", fmt.Sprintf(
			"launch template %s exists and was not made for this server group; set spec.aws.launchTemplate to use it", sg.Name))
	}
	return nil
}

// UpdateCapacity sets the group's min, max and desired capacity. A disabled group's Launch and Terminate
// processes are resumed first, or it would not scale.
func (c *Client) UpdateCapacity(ctx context.Context, sg *v1alpha1.ServerGroup) error {
	const op = "UpdateAutoScalingGroup"
	r, err := c.regionOf(op, sg)
	if err != nil {
		return err
	}
	g, err := mustDescribeGroup(ctx, r, op, sg.Name)
	if err != nil {
		return err
	}
	if err := resume(ctx, r, g, procLaunch, procTerminate); err != nil {
		return err
	}
	want := sg.Spec.Capacity
	if aws.ToInt32(g.MinSize) == want.Min && aws.ToInt32(g.MaxSize) == want.Max && aws.ToInt32(g.DesiredCapacity) == want.Desired {
		return nil
	}
	_, err = r.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(sg.Name),
		MinSize:              aws.Int32(want.Min),
		MaxSize:              aws.Int32(want.Max),
		DesiredCapacity:      aws.Int32(want.Desired),
	})
	return wrap(op, err)
}

// resume resumes those of the processes that the group has suspended.
func resume(ctx context.Context, r *regional, g *asgtypes.AutoScalingGroup, procs ...string) error {
	return setSuspended(ctx, r, g, false, procs)
}

// suspend suspends those of the processes that the group has not suspended.
func suspend(ctx context.Context, r *regional, g *asgtypes.AutoScalingGroup, procs ...string) error {
	return setSuspended(ctx, r, g, true, procs)
}

// setSuspended suspends the processes (or resumes them, when want is false), calling Auto Scaling only for
// those the group does not have that way already.
func setSuspended(ctx context.Context, r *regional, g *asgtypes.AutoScalingGroup, want bool, procs []string) error {
	s := suspended(g)
	var todo []string
	for _, p := range procs {
		if s[p] != want {
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if want {
		_, err := r.asg.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{
			AutoScalingGroupName: g.AutoScalingGroupName,
			ScalingProcesses:     todo,
		})
		return wrap("SuspendProcesses", err)
	}
	_, err := r.asg.ResumeProcesses(ctx, &autoscaling.ResumeProcessesInput{
		AutoScalingGroupName: g.AutoScalingGroupName,
		ScalingProcesses:     todo,
	})
	return wrap("ResumeProcesses", err)
}

// SetTraffic puts the group in its target groups or takes it out, making only the calls the group's
// current state needs.
func (c *Client) SetTraffic(ctx context.Context, sg *v1alpha1.ServerGroup, t v1alpha1.Traffic) error {
	const op = "SetTraffic"
	spec, err := awsSpec(op, sg)
	if err != nil {
		return err
	}
	r, err := c.regionOf(op, sg)
	if err != nil {
		return err
	}
	g, err := mustDescribeGroup(ctx, r, op, sg.Name)
	if err != nil {
		return err
	}
	switch t {
	case v1alpha1.TrafficEnabled:
		if err := resume(ctx, r, g, procAddToLoadBalancer, procLaunch, procTerminate); err != nil {
			return err
		}
		var attach []string
		for _, arn := range spec.TargetGroupARNs {
			if !slices.Contains(g.TargetGroupARNs, arn) {
				attach = append(attach, arn)
			}
		}
		for chunk := range slices.Chunk(attach, maxTargetGroupsPerCall) {
			if _, err := r.asg.AttachLoadBalancerTargetGroups(ctx, &autoscaling.AttachLoadBalancerTargetGroupsInput{
				AutoScalingGroupName: aws.String(sg.Name),
				TargetGroupARNs:      chunk,
			}); err != nil {
				return wrap("AttachLoadBalancerTargetGroups", err)
			}
		}
		return nil
	case v1alpha1.TrafficDisabled:
		for chunk := range slices.Chunk(g.TargetGroupARNs, maxTargetGroupsPerCall) {
			if _, err := r.asg.DetachLoadBalancerTargetGroups(ctx, &autoscaling.DetachLoadBalancerTargetGroupsInput{
				AutoScalingGroupName: aws.String(sg.Name),
				TargetGroupARNs:      chunk,
			}); err != nil {
				return wrap("DetachLoadBalancerTargetGroups", err)
			}
		}
		return suspend(ctx, r, g, procAddToLoadBalancer, procLaunch, procTerminate)
	}
	return invalid(op, fmt.Sprintf("traffic must be %s or %s, not %q", v1alpha1.TrafficEnabled, v1alpha1.TrafficDisabled, t))
}

// Delete force-deletes the group with its instances, then the launch template Create made for it.
func (c *Client) Delete(ctx context.Context, sg *v1alpha1.ServerGroup) (bool, error) {
	const op = "DeleteAutoScalingGroup"
	r, err := c.regionOf(op, sg)
	if err != nil {
		return false, err
	}
	g, err := describeGroup(ctx, r, sg.Name)
	if err != nil {
		return false, err
	}
	if g != nil {
		if aws.ToString(g.Status) == statusDeleting {
			return false, nil
		}
		_, err := r.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(sg.Name),
			ForceDelete:          aws.Bool(true),
		})
		if err != nil && !cloud.IsNotFound(wrap(op, err)) {
			return false, wrap(op, err)
		}
		return false, nil
	}
	if sg.Spec.AWS != nil && sg.Spec.AWS.LaunchTemplate == nil {
		if err := deleteOwnTemplate(ctx, r, sg); err != nil {
			return false, err
		}
	}
	return true, nil
}
