package gcp

import "time"

// GroupView is a snapshot of a managed instance group for test assertions.
type GroupView struct {
	Project          string         `json:"project"`
	Scope            string         `json:"scope"` // regions/R or zones/Z
	Name             string         `json:"name"`
	Description      string         `json:"description"`
	InstanceTemplate string         `json:"instanceTemplate"`
	InstanceGroup    string         `json:"instanceGroup"`
	TargetSize       int32          `json:"targetSize"`
	Zones            []string       `json:"zones"`
	Deleting         bool           `json:"deleting"`
	Instances        []InstanceView `json:"instances"`
}

// InstanceView is one managed instance.
type InstanceView struct {
	Name          string `json:"name"`
	Zone          string `json:"zone"`
	Status        string `json:"status"`        // PROVISIONING, RUNNING or STOPPING
	CurrentAction string `json:"currentAction"` // CREATING, NONE or DELETING
	// Health maps each backend service the group is a backend of to the
	// instance's state there: HEALTHY or UNHEALTHY.
	Health map[string]string `json:"health"`
}

// TemplateView is a snapshot of an instance template.
type TemplateView struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Properties  map[string]any `json:"properties"`
}

// BackendServiceView is a snapshot of a backend service.
type BackendServiceView struct {
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	// Groups are the instance group URLs of its backends.
	Groups []string `json:"groups"`
}

// Groups returns every managed instance group, by key order.
func (s *Sim) Groups() []GroupView {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	s.advance(now)
	var out []GroupView
	for _, k := range sortedKeys(s.groups) {
		if !s.groups[k].pending {
			out = append(out, s.groupView(s.groups[k], now))
		}
	}
	return out
}

// Group returns the managed instance group of this name in any scope.
func (s *Sim) Group(name string) (GroupView, bool) {
	for _, g := range s.Groups() {
		if g.Name == name {
			return g, true
		}
	}
	return GroupView{}, false
}

func (s *Sim) groupView(g *group, now time.Time) GroupView {
	v := GroupView{Project: g.project, Scope: g.scope, Name: g.name, Description: g.description,
		InstanceTemplate: g.template, InstanceGroup: g.groupLink(), TargetSize: g.targetSize,
		Zones: append([]string(nil), g.zones...), Deleting: g.deleting}
	for _, in := range g.instances {
		st, a := in.state(now)
		iv := InstanceView{Name: in.name, Zone: in.zone, Status: st, CurrentAction: a, Health: map[string]string{}}
		for _, bk := range sortedKeys(s.backendServices) {
			b := s.backendServices[bk]
			if !b.hasBackend(g.groupLink()) || st != "RUNNING" {
				continue
			}
			from := in.running
			if t := b.since[trimLink(g.groupLink())]; t.After(from) {
				from = t
			}
			iv.Health[b.name] = "UNHEALTHY"
			if !s.neverHealthy[g.name] && !now.Before(from.Add(s.opts.HealthyDelay)) {
				iv.Health[b.name] = "HEALTHY"
			}
		}
		v.Instances = append(v.Instances, iv)
	}
	return v
}

// Templates returns every instance template, by key order.
func (s *Sim) Templates() []TemplateView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TemplateView
	for _, k := range sortedKeys(s.templates) {
		t := s.templates[k]
		if t.pending {
			continue
		}
		out = append(out, TemplateView{Name: t.name, Description: t.description, Properties: t.properties})
	}
	return out
}

// BackendService returns the backend service of this name.
func (s *Sim) BackendService(name string) (BackendServiceView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range sortedKeys(s.backendServices) {
		if b := s.backendServices[k]; b.name == name {
			v := BackendServiceView{Name: b.name, Fingerprint: b.fingerprint()}
			for _, be := range b.backends {
				g, _ := be["group"].(string)
				v.Groups = append(v.Groups, g)
			}
			return v, true
		}
	}
	return BackendServiceView{}, false
}

// Healthy counts the instances HEALTHY in the backend service, whatever their group.
func (s *Sim) Healthy(backendService string) int {
	n := 0
	for _, g := range s.Groups() {
		for _, in := range g.Instances {
			if in.Health[backendService] == "HEALTHY" {
				n++
			}
		}
	}
	return n
}

// Created returns how many resources were made, by collection
// (instanceTemplates, instanceGroupManagers): an insert replayed by its
// requestId, or refused, makes none.
func (s *Sim) Created() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.created {
		out[k] = v
	}
	return out
}

// PendingOperations counts the operations that have not ended.
func (s *Sim) PendingOperations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, op := range s.operations {
		if !op.done {
			n++
		}
	}
	return n
}

// SetTargetSize resizes a group as someone else would, outside the API
// counters.
func (s *Sim) SetTargetSize(name string, size int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	s.advance(now)
	for _, k := range sortedKeys(s.groups) {
		if g := s.groups[k]; g.name == name && !g.deleting {
			g.targetSize = size
			s.converge(g, now)
			return true
		}
	}
	return false
}

// RemoveBackendService deletes a backend service as someone else would, with
// its backends, outside the API counters.
func (s *Sim) RemoveBackendService(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.opts.Projects[0] + "/" + name
	_, ok := s.backendServices[k]
	delete(s.backendServices, k)
	return ok
}
