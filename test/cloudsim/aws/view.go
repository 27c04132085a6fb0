package aws

import (
	"sort"
	"time"
)

// GroupView is a snapshot of an Auto Scaling group for test assertions. It is
// a copy: changing it does not change the sim.
type GroupView struct {
	Region          string `json:"region"`
	Name            string `json:"name"`
	ARN             string `json:"arn"`
	MinSize         int32  `json:"minSize"`
	MaxSize         int32  `json:"maxSize"`
	DesiredCapacity int32  `json:"desiredCapacity"`
	// LaunchTemplateName, LaunchTemplateID and LaunchTemplateVersion are the
	// group's template as requested; the version may be "$Latest" or
	// "$Default".
	LaunchTemplateName    string         `json:"launchTemplateName"`
	LaunchTemplateID      string         `json:"launchTemplateId"`
	LaunchTemplateVersion string         `json:"launchTemplateVersion"`
	AvailabilityZones     []string       `json:"availabilityZones"`
	Instances             []InstanceView `json:"instances"`
	TargetGroupARNs       []string       `json:"targetGroupARNs"`
	// SuspendedProcesses are sorted process names.
	SuspendedProcesses []string          `json:"suspendedProcesses"`
	Tags               map[string]string `json:"tags"`
	Deleting           bool              `json:"deleting"`
	NeverHealthy       bool              `json:"neverHealthy"`
	CreatedTime        time.Time         `json:"createdTime"`
}

// InstanceView is a snapshot of one instance of a group.
type InstanceView struct {
	ID               string `json:"id"`
	AvailabilityZone string `json:"availabilityZone"`
	// LifecycleState is Pending, InService or Terminating.
	LifecycleState string `json:"lifecycleState"`
	// LaunchTemplateVersion is the version the instance was launched from.
	LaunchTemplateVersion int64 `json:"launchTemplateVersion"`
	// TargetHealth maps the ARN of each target group the instance is
	// registered in to its state there: initial, healthy or unhealthy.
	TargetHealth map[string]string `json:"targetHealth"`
}

// LaunchTemplateView is a snapshot of a launch template.
type LaunchTemplateView struct {
	Region         string                      `json:"region"`
	ID             string                      `json:"id"`
	Name           string                      `json:"name"`
	DefaultVersion int64                       `json:"defaultVersion"`
	LatestVersion  int64                       `json:"latestVersion"`
	Versions       []LaunchTemplateVersionView `json:"versions"`
	Tags           map[string]string           `json:"tags"`
}

// LaunchTemplateVersionView is one version of a launch template.
type LaunchTemplateVersionView struct {
	Number       int64  `json:"number"`
	Description  string `json:"description,omitempty"`
	ImageID      string `json:"imageId,omitempty"`
	InstanceType string `json:"instanceType,omitempty"`
	UserData     string `json:"userData,omitempty"`
	KeyName      string `json:"keyName,omitempty"`
	// SecurityGroupIDs are the version's security group IDs, in order.
	SecurityGroupIDs []string `json:"securityGroupIds,omitempty"`
}

// Group returns the group with this name as of the sim clock's now. If several
// regions have a group by that name, the first region in name order wins; use
// Groups to see them all.
func (s *Sim) Group(name string) (GroupView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	s.advance(now)
	for _, rn := range s.sortedRegions() {
		if g := s.regions[rn].groups[name]; g != nil {
			return s.groupView(rn, g, now), true
		}
	}
	return GroupView{}, false
}

// Groups returns every group as of the sim clock's now, ordered by region then
// name.
func (s *Sim) Groups() []GroupView {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	s.advance(now)
	out := []GroupView{}
	for _, rn := range s.sortedRegions() {
		rs := s.regions[rn]
		for _, name := range sortedGroupNames(rs) {
			out = append(out, s.groupView(rn, rs.groups[name], now))
		}
	}
	return out
}

func (s *Sim) groupView(region string, g *group, now time.Time) GroupView {
	v := GroupView{
		Region:                region,
		Name:                  g.name,
		ARN:                   g.arn,
		MinSize:               g.min,
		MaxSize:               g.max,
		DesiredCapacity:       g.desired,
		LaunchTemplateName:    g.lt.name,
		LaunchTemplateID:      g.lt.id,
		LaunchTemplateVersion: g.lt.version,
		AvailabilityZones:     append([]string{}, g.azs...),
		Instances:             []InstanceView{},
		TargetGroupARNs:       append([]string{}, g.targetGroups...),
		SuspendedProcesses:    sortedKeys(g.suspended),
		Tags:                  map[string]string{},
		Deleting:              g.deleting,
		NeverHealthy:          s.neverHealthy[g.name],
		CreatedTime:           g.created,
	}
	for _, t := range g.tags {
		v.Tags[t.key] = t.value
	}
	for _, in := range g.instances {
		iv := InstanceView{
			ID:                    in.id,
			AvailabilityZone:      in.az,
			LifecycleState:        string(in.state),
			LaunchTemplateVersion: in.ltVersion,
			TargetHealth:          map[string]string{},
		}
		for arn, at := range in.registered {
			iv.TargetHealth[arn], _, _ = s.targetState(g, at, now)
		}
		v.Instances = append(v.Instances, iv)
	}
	return v
}

// LaunchTemplates returns every launch template, ordered by region then name.
func (s *Sim) LaunchTemplates() []LaunchTemplateView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []LaunchTemplateView{}
	for _, rn := range s.sortedRegions() {
		rs := s.regions[rn]
		var lts []*launchTemplate
		for _, lt := range rs.templates {
			lts = append(lts, lt)
		}
		sort.Slice(lts, func(i, j int) bool { return lts[i].name < lts[j].name })
		for _, lt := range lts {
			v := LaunchTemplateView{Region: rn, ID: lt.id, Name: lt.name, DefaultVersion: lt.defaultVersion, LatestVersion: lt.latest(), Tags: map[string]string{}}
			for _, ver := range lt.versions {
				v.Versions = append(v.Versions, LaunchTemplateVersionView{
					Number: ver.number, Description: ver.description,
					ImageID: ver.data.ImageID, InstanceType: ver.data.InstanceType, UserData: ver.data.UserData,
					KeyName: ver.data.KeyName, SecurityGroupIDs: append([]string(nil), ver.data.SecurityGroupIDs...),
				})
			}
			for _, t := range lt.tags {
				v.Tags[t.key] = t.value
			}
			out = append(out, v)
		}
	}
	return out
}
