package aws

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// The model. Everything here is guarded by Sim.mu.
//
// State changes only in two ways: requests mutate it, and time moves instances
// and groups along fixed timelines (Pending for LaunchDelay, Terminating for
// TerminateDelay, ...). advance applies the timelines lazily. Because every
// request advances the model to "now" before mutating it, each timeline step is
// evaluated against the state that actually held when it was due, so lazy
// evaluation gives the same answer as a background ticker would, without
// goroutines and deterministically under a fake clock.

// regionState is everything that lives in one region.
type regionState struct {
	name      string
	groups    map[string]*group
	templates map[string]*launchTemplate // by ID
	ltByName  map[string]string          // name -> ID
	ltTokens  map[string]ltToken         // CreateLaunchTemplate ClientToken -> result
}

func newRegionState(name string) *regionState {
	return &regionState{
		name:      name,
		groups:    map[string]*group{},
		templates: map[string]*launchTemplate{},
		ltByName:  map[string]string{},
		ltTokens:  map[string]ltToken{},
	}
}

type ltToken struct {
	templateID  string
	fingerprint string
}

type launchTemplate struct {
	id, name       string
	created        time.Time
	createdBy      string
	defaultVersion int64
	tags           []tag
	versions       []*ltVersion            // versions[i].number == i+1
	versionTokens  map[string]versionToken // CreateLaunchTemplateVersion ClientToken -> result
}

type versionToken struct {
	number      int64
	fingerprint string
}

func (lt *launchTemplate) latest() int64 { return int64(len(lt.versions)) }

// setTag adds a tag, or replaces the one of the same key.
func (lt *launchTemplate) setTag(t tag) {
	for i := range lt.tags {
		if lt.tags[i].key == t.key {
			lt.tags[i] = t
			return
		}
	}
	lt.tags = append(lt.tags, t)
}

type ltVersion struct {
	number      int64
	description string
	created     time.Time
	createdBy   string
	data        ltData
}

// ltData is the part of a launch template version's data the sim keeps; the rest of a request's
// LaunchTemplateData is accepted and dropped.
type ltData struct {
	ImageID          string
	InstanceType     string
	UserData         string
	KeyName          string
	SecurityGroupIDs []string
}

// fingerprint lists the data, for fingerprint.
func (d ltData) fingerprint() []string {
	return []string{d.ImageID, d.InstanceType, d.UserData, d.KeyName, strings.Join(d.SecurityGroupIDs, ",")}
}

// inherit is the data of a version made from d with the fields given in g.
func (d ltData) inherit(g ltData) ltData {
	if g.ImageID != "" {
		d.ImageID = g.ImageID
	}
	if g.InstanceType != "" {
		d.InstanceType = g.InstanceType
	}
	if g.UserData != "" {
		d.UserData = g.UserData
	}
	if g.KeyName != "" {
		d.KeyName = g.KeyName
	}
	if len(g.SecurityGroupIDs) > 0 {
		d.SecurityGroupIDs = g.SecurityGroupIDs
	}
	return d
}

// resolveVersion turns "$Latest", "$Default", "" (= $Default) or a number into
// a version.
func (lt *launchTemplate) resolveVersion(v string) (*ltVersion, bool) {
	var n int64
	switch v {
	case "$Latest":
		n = lt.latest()
	case "", "$Default":
		n = lt.defaultVersion
	default:
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil {
			return nil, false
		}
	}
	if n < 1 || n > lt.latest() {
		return nil, false
	}
	return lt.versions[n-1], true
}

type tag struct{ key, value string }

// ltRef is a group's launch template as requested: ID, name and the version
// string as given ("$Latest", "$Default" or a number).
type ltRef struct {
	id, name, version string
}

type lifecycleState string

const (
	statePending     lifecycleState = "Pending"
	stateInService   lifecycleState = "InService"
	stateTerminating lifecycleState = "Terminating"
)

// Auto Scaling process names accepted by SuspendProcesses.
const (
	procLaunch            = "Launch"
	procTerminate         = "Terminate"
	procAddToLoadBalancer = "AddToLoadBalancer"
)

var allProcesses = []string{
	"Launch", "Terminate", "AddToLoadBalancer", "AlarmNotification", "AZRebalance",
	"HealthCheck", "InstanceRefresh", "ReplaceUnhealthy", "ScheduledActions",
}

type group struct {
	name, arn         string
	lt                ltRef
	min, max, desired int32
	azs               []string
	vpcZone           string
	targetGroups      []string
	tags              []asgTag
	suspended         map[string]string // process -> suspension reason
	created           time.Time
	deleting          bool
	deleteAt          time.Time
	instances         []*instance // in launch order
}

type asgTag struct {
	key, value string
	propagate  bool
}

// setTag adds a tag, or replaces the one of the same key.
func (g *group) setTag(t asgTag) {
	for i := range g.tags {
		if g.tags[i].key == t.key {
			g.tags[i] = t
			return
		}
	}
	g.tags = append(g.tags, t)
}

func (g *group) isSuspended(proc string) bool {
	_, ok := g.suspended[proc]
	return ok
}

// active returns the instances that count towards capacity.
func (g *group) active() []*instance {
	var out []*instance
	for _, in := range g.instances {
		if in.state != stateTerminating {
			out = append(out, in)
		}
	}
	return out
}

type instance struct {
	id, az       string
	ltID, ltName string
	ltVersion    int64
	instanceType string
	state        lifecycleState
	launched     time.Time
	terminateAt  time.Time
	// registered maps target group ARN to the time the instance was
	// registered there; target health is derived from it.
	registered map[string]time.Time
}

type targetGroup struct {
	arn, name, region string
	port              int32
}

func newTargetGroup(arn string) *targetGroup {
	tg := &targetGroup{arn: arn, name: arn, port: 80}
	if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 {
		tg.region = parts[3]
		res := parts[5]
		if rest, ok := strings.CutPrefix(res, "targetgroup/"); ok {
			tg.name, _, _ = strings.Cut(rest, "/")
		}
	}
	return tg
}

// visibleIn reports whether requests in region can see the target group.
func (tg *targetGroup) visibleIn(region string) bool {
	return tg.region == "" || tg.region == region
}

// advance brings every region up to now.
func (s *Sim) advance(now time.Time) {
	for _, rn := range s.sortedRegions() {
		rs := s.regions[rn]
		for _, name := range sortedGroupNames(rs) {
			g := rs.groups[name]
			if g.deleting && !now.Before(g.deleteAt) {
				delete(rs.groups, name)
				continue
			}
			s.progress(g, now)
			s.reconcile(rs, g, now)
		}
	}
}

func sortedGroupNames(rs *regionState) []string {
	names := make([]string, 0, len(rs.groups))
	for n := range rs.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// progress moves instances along their timelines.
func (s *Sim) progress(g *group, now time.Time) {
	keep := g.instances[:0]
	for _, in := range g.instances {
		switch in.state {
		case statePending:
			ready := in.launched.Add(s.opts.LaunchDelay)
			if !now.Before(ready) {
				in.state = stateInService
				// Like real Auto Scaling, registration happens as the
				// instance enters service; an instance that enters service
				// while AddToLoadBalancer is suspended is never registered
				// automatically, even after the process is resumed.
				if !g.isSuspended(procAddToLoadBalancer) {
					for _, tg := range g.targetGroups {
						in.registered[tg] = ready
					}
				}
			}
		case stateTerminating:
			if !now.Before(in.terminateAt) {
				continue
			}
		}
		keep = append(keep, in)
	}
	clear(g.instances[len(keep):])
	g.instances = keep
}

// reconcile launches or terminates instances so that the group heads for its
// desired capacity, as far as suspended processes allow. Callers run it after
// every change to a group; it is idempotent.
func (s *Sim) reconcile(rs *regionState, g *group, now time.Time) {
	if g.deleting {
		return
	}
	active := g.active()
	if n := int32(len(active)); n < g.desired && !g.isSuspended(procLaunch) {
		lt, ver, ok := s.resolveGroupTemplate(rs, g.lt)
		if !ok {
			// The template was deleted after the group was created. Real
			// Auto Scaling records failed launch activities; the sim just
			// does not launch.
			return
		}
		for ; n < g.desired; n++ {
			g.instances = append(g.instances, &instance{
				id:           "i-" + s.nextID(17),
				az:           pickLaunchAZ(g),
				ltID:         lt.id,
				ltName:       lt.name,
				ltVersion:    ver.number,
				instanceType: ver.data.InstanceType,
				state:        statePending,
				launched:     now,
				registered:   map[string]time.Time{},
			})
		}
	} else if n > g.desired && !g.isSuspended(procTerminate) {
		for ; n > g.desired; n-- {
			s.terminate(pickVictim(rs, s, g), now)
		}
	}
}

func (s *Sim) resolveGroupTemplate(rs *regionState, ref ltRef) (*launchTemplate, *ltVersion, bool) {
	lt := rs.templates[ref.id]
	if lt == nil {
		return nil, nil, false
	}
	ver, ok := lt.resolveVersion(ref.version)
	return lt, ver, ok
}

// terminate starts terminating an instance. It leaves its target groups at
// once (deregistration delay, i.e. "draining", is not modelled).
func (s *Sim) terminate(in *instance, now time.Time) {
	if in.state == stateTerminating {
		return
	}
	in.state = stateTerminating
	in.terminateAt = now.Add(s.opts.TerminateDelay)
	clear(in.registered)
}

// azCounts counts active instances per availability zone of the group.
func azCounts(g *group) map[string]int {
	counts := map[string]int{}
	for _, az := range g.azs {
		counts[az] = 0
	}
	for _, in := range g.active() {
		counts[in.az]++
	}
	return counts
}

// pickLaunchAZ balances launches across zones, like Auto Scaling does.
func pickLaunchAZ(g *group) string {
	counts := azCounts(g)
	best := g.azs[0]
	for _, az := range g.azs[1:] {
		if counts[az] < counts[best] {
			best = az
		}
	}
	return best
}

// pickVictim follows the default termination policy, simplified: take from the
// zone with the most instances, prefer instances not on the group's current
// launch template version, then the oldest launched.
func pickVictim(rs *regionState, s *Sim, g *group) *instance {
	counts := azCounts(g)
	var curID string
	var curVer int64
	if lt, ver, ok := s.resolveGroupTemplate(rs, g.lt); ok {
		curID, curVer = lt.id, ver.number
	}
	outdated := func(in *instance) bool { return in.ltID != curID || in.ltVersion != curVer }
	var best *instance
	for _, in := range g.active() {
		if best == nil {
			best = in
			continue
		}
		switch {
		case counts[in.az] != counts[best.az]:
			if counts[in.az] > counts[best.az] {
				best = in
			}
		case outdated(in) != outdated(best):
			if outdated(in) {
				best = in
			}
		case in.launched.Before(best.launched):
			best = in
		}
	}
	return best
}

// targetState is the ELB health of a registered instance at now.
func (s *Sim) targetState(g *group, registeredAt, now time.Time) (state, reason, description string) {
	if now.Before(registeredAt.Add(s.opts.TargetHealthyDelay)) {
		return "initial", "Elb.RegistrationInProgress", "Target registration is in progress"
	}
	if s.neverHealthy[g.name] {
		return "unhealthy", "Target.FailedHealthChecks", "Health checks failed"
	}
	return "healthy", "", ""
}
