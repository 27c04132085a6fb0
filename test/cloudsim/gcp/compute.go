package gcp

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// call is the per-request context handed to a method.
type call struct {
	r       *http.Request
	method  string
	who     string
	project string
	scope   string // global, regions/R or zones/Z
	name    string
	now     time.Time
	// fail is the error code the operation of this mutation ends with, from a
	// FailOperation fault; "" when it succeeds.
	fail string
	// concurrent is set by a ConcurrentChange fault.
	concurrent bool
}

// methodFunc implements one method. It runs with s.mu held and the model
// brought up to c.now; a mutation returns its *operation.
type methodFunc func(s *Sim, c *call) (any, *apiError)

// routes maps the REST paths to methods.
func (s *Sim) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.serveToken)
	mux.HandleFunc("POST /v1/projects/-/serviceAccounts/{account}", s.serveGenerateAccessToken)
	const p = "/compute/v1/projects/{project}"
	handle := func(pattern, method, scope string, f methodFunc) {
		mux.Handle(pattern, s.method(method, scope, f))
	}
	handle("GET "+p, "projects.get", "global", getProject)
	handle("POST "+p+"/global/instanceTemplates", "instanceTemplates.insert", "global", insertTemplate)
	handle("GET "+p+"/global/instanceTemplates/{name}", "instanceTemplates.get", "global", getTemplate)
	handle("DELETE "+p+"/global/instanceTemplates/{name}", "instanceTemplates.delete", "global", deleteTemplate)
	handle("GET "+p+"/global/backendServices/{name}", "backendServices.get", "global", getBackendService)
	handle("PATCH "+p+"/global/backendServices/{name}", "backendServices.patch", "global", writeBackendService(false))
	handle("PUT "+p+"/global/backendServices/{name}", "backendServices.update", "global", writeBackendService(true))
	handle("POST "+p+"/global/backendServices/{name}/getHealth", "backendServices.getHealth", "global", getHealth)
	handle("POST "+p+"/global/images", "images.insert", "global", insertImage)
	handle("GET "+p+"/global/images", "images.list", "global", listImages)
	handle("GET "+p+"/global/images/{name}", "images.get", "global", getImage)
	handle("GET "+p+"/global/images/family/{family}", "images.getFromFamily", "global", getImageFromFamily)
	handle("GET "+p+"/global/operations/{name}", "globalOperations.get", "global", getOperation)
	for kind, api := range map[string]string{"regions": "regionInstanceGroupManagers", "zones": "instanceGroupManagers"} {
		igm := p + "/" + kind + "/{loc}/instanceGroupManagers"
		handle("POST "+igm, api+".insert", kind, insertGroup)
		handle("GET "+igm+"/{name}", api+".get", kind, getGroup)
		handle("DELETE "+igm+"/{name}", api+".delete", kind, deleteGroup)
		handle("POST "+igm+"/{name}/resize", api+".resize", kind, resizeGroup)
		handle("POST "+igm+"/{name}/listManagedInstances", api+".listManagedInstances", kind, listManagedInstances)
		handle("GET "+p+"/"+kind+"/{loc}/operations/{name}", strings.TrimSuffix(kind, "s")+"Operations.get", kind, getOperation)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errf(http.StatusNotFound, "notFound", "The simulator does not serve %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// method wraps a methodFunc with what every Compute request goes through:
// counting, authentication, the project check, requestId replay, faults.
func (s *Sim) method(name, kind string, f methodFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.count(name)
		who, aerr := s.authenticate(r)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		c := &call{r: r, method: name, who: who, project: r.PathValue("project"), scope: kind, name: r.PathValue("name")}
		if kind != "global" {
			c.scope = kind + "/" + r.PathValue("loc")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.projects[c.project] {
			writeError(w, errf(http.StatusForbidden, "forbidden", "Required 'compute.projects.get' permission for 'projects/%s'", c.project))
			return
		}
		requestID := r.URL.Query().Get("requestId")
		if op := s.requests[requestID]; requestID != "" && op != nil {
			writeJSON(w, http.StatusOK, op.view(s))
			return
		}
		if fault, ok := s.takeFault(name); ok {
			if e := fault.refusal(); e != nil {
				writeError(w, e)
				return
			}
			switch fault.Kind {
			case FailOperation:
				c.fail = fault.Code
				if c.fail == "" {
					c.fail = "ZONE_RESOURCE_POOL_EXHAUSTED"
				}
			case ConcurrentChange:
				c.concurrent = true
			}
		}
		c.now = s.opts.Now()
		s.advance(c.now)
		var res any
		if c.fail != "" && isMutation(name) {
			// A failed operation changes nothing.
			res = s.newOperation(c, operationType(name), SelfLinkBase+strings.TrimPrefix(r.URL.Path, "/compute/v1/"), nil, nil)
		} else if res, aerr = f(s, c); aerr != nil {
			writeError(w, aerr)
			return
		}
		if op, ok := res.(*operation); ok {
			if requestID != "" {
				s.requests[requestID] = op
			}
			res = op.view(s)
		}
		writeJSON(w, http.StatusOK, res)
	})
}

func operationType(method string) string {
	_, verb, _ := strings.Cut(method, ".")
	return verb
}

// decode reads a JSON request body into v.
func decode(c *call, v any) *apiError {
	if err := json.NewDecoder(c.r.Body).Decode(v); err != nil {
		return errf(http.StatusBadRequest, "parseError", "Invalid JSON payload received. %v", err)
	}
	return nil
}

// link is the selfLink of a resource in the call's project.
func (c *call) link(parts ...string) string {
	return SelfLinkBase + "projects/" + c.project + "/" + strings.Join(parts, "/")
}

var nameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

func checkName(field, name string) *apiError {
	if !nameRE.MatchString(name) {
		return errf(http.StatusBadRequest, "invalid", "Invalid value for field '%s': '%s'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", field, name)
	}
	return nil
}

func getProject(s *Sim, c *call) (any, *apiError) {
	return map[string]any{"kind": "compute#project", "name": c.project, "id": strconv.FormatUint(uint64(len(c.project))*7919, 10),
		"selfLink": SelfLinkBase + "projects/" + c.project}, nil
}

// ---- instance templates ----

type template struct {
	name, project, description, link string
	id                               uint64
	properties                       map[string]any
	created                          time.Time
	// pending is true until the insert's operation starts: the name is taken, the resource not there.
	pending bool
}

func (t *template) view() map[string]any {
	return map[string]any{"kind": "compute#instanceTemplate", "id": strconv.FormatUint(t.id, 10), "name": t.name,
		"description": t.description, "properties": t.properties, "selfLink": t.link,
		"creationTimestamp": t.created.Format(time.RFC3339)}
}

func insertTemplate(s *Sim, c *call) (any, *apiError) {
	var body struct {
		Name        string         `json:"name"`
		Description string         `json:"description"`
		Properties  map[string]any `json:"properties"`
	}
	if e := decode(c, &body); e != nil {
		return nil, e
	}
	if e := checkName("resource.name", body.Name); e != nil {
		return nil, e
	}
	if mt, _ := body.Properties["machineType"].(string); mt == "" {
		return nil, errf(http.StatusBadRequest, "required", "Required field 'resource.properties.machineType' not specified")
	}
	link := c.link("global", "instanceTemplates", body.Name)
	key := c.project + "/" + body.Name
	if s.templates[key] != nil {
		return nil, errf(http.StatusConflict, "alreadyExists", "The resource '%s' already exists", trimLink(link))
	}
	t := &template{name: body.Name, project: c.project, description: body.Description, link: link,
		id: s.nextID(), properties: body.Properties, created: c.now, pending: true}
	s.templates[key] = t
	s.created["instanceTemplates"]++
	op := s.newOperation(c, "insert", link, nil, nil)
	op.onStart = func(time.Time) { t.pending = false }
	return op, nil
}

func getTemplate(s *Sim, c *call) (any, *apiError) {
	t := s.templates[c.project+"/"+c.name]
	if t == nil || t.pending {
		return nil, notFound("instanceTemplate", trimLink(c.link("global", "instanceTemplates", c.name)))
	}
	return t.view(), nil
}

func deleteTemplate(s *Sim, c *call) (any, *apiError) {
	key := c.project + "/" + c.name
	t := s.templates[key]
	if t == nil || t.pending {
		return nil, notFound("instanceTemplate", trimLink(c.link("global", "instanceTemplates", c.name)))
	}
	for _, k := range sortedKeys(s.groups) {
		if g := s.groups[k]; trimLink(g.template) == trimLink(t.link) {
			return nil, errf(http.StatusBadRequest, "resourceInUseByAnotherResource",
				"The instance_template resource '%s' is already being used by '%s'", trimLink(t.link), trimLink(g.link))
		}
	}
	delete(s.templates, key)
	return s.newOperation(c, "delete", t.link, nil, nil), nil
}

// ---- managed instance groups ----

type group struct {
	name, project, scope, description, template, baseName, link string
	id                                                          uint64
	targetSize                                                  int32
	zones                                                       []string
	instances                                                   []*instance
	created                                                     time.Time
	deleting                                                    bool
	// pending is true until the insert's operation starts: the name is taken, the group not there.
	pending bool
}

// groupLink is the URL of the instance group a managed instance group manages,
// what backend services name as a backend's group.
func (g *group) groupLink() string {
	return SelfLinkBase + "projects/" + g.project + "/" + g.scope + "/instanceGroups/" + g.name
}

type instance struct {
	name, zone, project string
	running             time.Time // when it runs
	deleting            bool
	gone                time.Time // when a deleting one is no longer listed
}

func (i *instance) link() string {
	return SelfLinkBase + "projects/" + i.project + "/zones/" + i.zone + "/instances/" + i.name
}

// state is the instance's status and its group's current action on it.
func (i *instance) state(now time.Time) (status, action string) {
	switch {
	case i.deleting:
		return "STOPPING", "DELETING"
	case now.Before(i.running):
		return "PROVISIONING", "CREATING"
	}
	return "RUNNING", "NONE"
}

func (g *group) view(now time.Time) map[string]any {
	actions := map[string]int{"none": 0, "creating": 0, "deleting": 0, "recreating": 0, "refreshing": 0, "restarting": 0, "verifying": 0, "abandoning": 0}
	for _, in := range g.instances {
		_, a := in.state(now)
		actions[strings.ToLower(a)]++
	}
	var zones []map[string]string
	for _, z := range g.zones {
		zones = append(zones, map[string]string{"zone": SelfLinkBase + "projects/" + g.project + "/zones/" + z})
	}
	v := map[string]any{"kind": "compute#instanceGroupManager", "id": strconv.FormatUint(g.id, 10), "name": g.name,
		"description": g.description, "instanceTemplate": g.template, "baseInstanceName": g.baseName,
		"targetSize": g.targetSize, "instanceGroup": g.groupLink(), "selfLink": g.link,
		"creationTimestamp": g.created.Format(time.RFC3339), "currentActions": actions,
		"status":      map[string]any{"isStable": actions["none"] == len(g.instances) && int32(len(g.instances)) == g.targetSize},
		"fingerprint": fingerprint(g.id)}
	kind, loc, _ := strings.Cut(g.scope, "/")
	v[strings.TrimSuffix(kind, "s")] = SelfLinkBase + "projects/" + g.project + "/" + g.scope
	_ = loc
	if kind == "regions" {
		v["distributionPolicy"] = map[string]any{"zones": zones}
	}
	return v
}

func fingerprint(n uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return base64.StdEncoding.EncodeToString(b[:])
}

func insertGroup(s *Sim, c *call) (any, *apiError) {
	var body struct {
		Name               string `json:"name"`
		Description        string `json:"description"`
		InstanceTemplate   string `json:"instanceTemplate"`
		BaseInstanceName   string `json:"baseInstanceName"`
		TargetSize         *int32 `json:"targetSize"`
		DistributionPolicy struct {
			Zones []struct {
				Zone string `json:"zone"`
			} `json:"zones"`
		} `json:"distributionPolicy"`
	}
	if e := decode(c, &body); e != nil {
		return nil, e
	}
	if e := checkName("resource.name", body.Name); e != nil {
		return nil, e
	}
	if body.TargetSize == nil || *body.TargetSize < 0 {
		return nil, errf(http.StatusBadRequest, "required", "Required field 'resource.targetSize' not specified or negative")
	}
	if s.templateByLink(body.InstanceTemplate) == nil {
		return nil, errf(http.StatusBadRequest, "invalid", "Invalid value for field 'resource.instanceTemplate': '%s'. The referenced instance template does not exist.", body.InstanceTemplate)
	}
	key := c.project + "/" + c.scope + "/" + body.Name
	link := c.link(c.scope, "instanceGroupManagers", body.Name)
	if s.groups[key] != nil {
		return nil, errf(http.StatusConflict, "alreadyExists", "The resource '%s' already exists", trimLink(link))
	}
	kind, loc, _ := strings.Cut(c.scope, "/")
	var zones []string
	if kind == "zones" {
		zones = []string{loc}
	} else {
		for _, z := range body.DistributionPolicy.Zones {
			zones = append(zones, lastPart(z.Zone))
		}
		if len(zones) == 0 {
			zones = []string{loc + "-a", loc + "-b", loc + "-c"}
		}
	}
	base := body.BaseInstanceName
	if base == "" {
		base = body.Name
	}
	g := &group{name: body.Name, project: c.project, scope: c.scope, description: body.Description,
		template: body.InstanceTemplate, baseName: base, link: link, id: s.nextID(), targetSize: *body.TargetSize,
		zones: zones, created: c.now, pending: true}
	s.groups[key] = g
	s.created["instanceGroupManagers"]++
	op := s.newOperation(c, "insert", link, nil, nil)
	op.onStart = func(now time.Time) {
		g.pending = false
		s.converge(g, now)
	}
	return op, nil
}

func (s *Sim) templateByLink(link string) *template {
	if link == "" {
		return nil
	}
	for _, k := range sortedKeys(s.templates) {
		t := s.templates[k]
		switch {
		case t.pending:
		case trimLink(t.link) == trimLink(link), link == t.name, link == "global/instanceTemplates/"+t.name:
			return t
		}
	}
	return nil
}

func (s *Sim) group(c *call) (*group, *apiError) {
	g := s.groups[c.project+"/"+c.scope+"/"+c.name]
	if g == nil || g.pending {
		return nil, notFound("instanceGroupManager", trimLink(c.link(c.scope, "instanceGroupManagers", c.name)))
	}
	return g, nil
}

func getGroup(s *Sim, c *call) (any, *apiError) {
	g, e := s.group(c)
	if e != nil {
		return nil, e
	}
	return g.view(c.now), nil
}

func resizeGroup(s *Sim, c *call) (any, *apiError) {
	g, e := s.group(c)
	if e != nil {
		return nil, e
	}
	size, err := strconv.ParseInt(c.r.URL.Query().Get("size"), 10, 32)
	if err != nil || size < 0 {
		return nil, errf(http.StatusBadRequest, "invalid", "Invalid value for field 'size': '%s'.", c.r.URL.Query().Get("size"))
	}
	if g.deleting {
		return nil, errf(http.StatusBadRequest, "resourceNotReady", "The resource '%s' is not ready", trimLink(g.link))
	}
	g.targetSize = int32(size)
	s.converge(g, c.now)
	return s.newOperation(c, "compute.instanceGroupManagers.resize", g.link, nil, nil), nil
}

func deleteGroup(s *Sim, c *call) (any, *apiError) {
	g, e := s.group(c)
	if e != nil {
		return nil, e
	}
	if g.deleting {
		return nil, errf(http.StatusBadRequest, "resourceNotReady", "The resource '%s' is not ready", trimLink(g.link))
	}
	for _, k := range sortedKeys(s.backendServices) {
		if bs := s.backendServices[k]; bs.hasBackend(g.groupLink()) {
			return nil, errf(http.StatusBadRequest, "resourceInUseByAnotherResource",
				"The instance_group resource '%s' is already being used by '%s'", trimLink(g.groupLink()), trimLink(bs.link))
		}
	}
	g.deleting = true
	g.targetSize = 0
	s.converge(g, c.now)
	key := c.project + "/" + c.scope + "/" + c.name
	return s.newOperation(c, "delete", g.link,
		func(time.Time) bool { return len(g.instances) == 0 },
		func(time.Time) { delete(s.groups, key) }), nil
}

func listManagedInstances(s *Sim, c *call) (any, *apiError) {
	g, e := s.group(c)
	if e != nil {
		return nil, e
	}
	var out []map[string]any
	for _, in := range g.instances {
		st, a := in.state(c.now)
		out = append(out, map[string]any{"instance": in.link(), "name": in.name, "instanceStatus": st, "currentAction": a})
	}
	return map[string]any{"managedInstances": out}, nil
}

// converge makes the group's instances follow its target size: new ones boot,
// extra ones (the newest first) stop and leave. Callers hold s.mu.
func (s *Sim) converge(g *group, now time.Time) {
	if g.pending {
		return
	}
	kept := g.instances[:0]
	for _, in := range g.instances {
		if !in.deleting || now.Before(in.gone) {
			kept = append(kept, in)
		}
	}
	g.instances = kept
	live := 0
	for _, in := range g.instances {
		if !in.deleting {
			live++
		}
	}
	for ; live < int(g.targetSize); live++ {
		zone := g.zones[len(g.instances)%len(g.zones)]
		g.instances = append(g.instances, &instance{name: g.baseName + "-" + s.suffix(), zone: zone, project: g.project,
			running: now.Add(s.opts.BootDelay)})
	}
	for i := len(g.instances) - 1; i >= 0 && live > int(g.targetSize); i-- {
		if in := g.instances[i]; !in.deleting {
			in.deleting, in.gone = true, now.Add(s.opts.StopDelay)
			live--
		}
	}
	if s.opts.StopDelay == 0 {
		kept := g.instances[:0]
		for _, in := range g.instances {
			if !in.deleting {
				kept = append(kept, in)
			}
		}
		g.instances = kept
	}
}

// advance brings the model up to now: instances leave, operations nobody
// polled end. Callers hold s.mu.
func (s *Sim) advance(now time.Time) {
	for _, k := range sortedKeys(s.groups) {
		s.converge(s.groups[k], now)
	}
	for _, k := range sortedKeys(s.operations) {
		op := s.operations[k]
		if !op.done && !now.Before(op.inserted.Add(s.opts.OperationDelay/2)) {
			op.start(now)
		}
		if !op.done && !now.Before(op.inserted.Add(s.opts.OperationDelay)) && op.isReady(now) {
			op.finish(now)
		}
	}
}

// ---- backend services ----

type backendService struct {
	name, project, link, description string
	id, version                      uint64
	backends                         []map[string]any
	since                            map[string]time.Time // trimmed group link -> when it became a backend
}

func (b *backendService) fingerprint() string { return fingerprint(b.id<<16 | b.version) }

func (b *backendService) hasBackend(groupLink string) bool {
	for _, be := range b.backends {
		if g, _ := be["group"].(string); trimLink(g) == trimLink(groupLink) {
			return true
		}
	}
	return false
}

func (b *backendService) view() map[string]any {
	backends := b.backends
	if backends == nil {
		backends = []map[string]any{}
	}
	return map[string]any{"kind": "compute#backendService", "id": strconv.FormatUint(b.id, 10), "name": b.name,
		"description": b.description, "selfLink": b.link, "backends": backends, "fingerprint": b.fingerprint(),
		"protocol": "HTTP", "loadBalancingScheme": "EXTERNAL_MANAGED",
		"healthChecks": []string{SelfLinkBase + "projects/" + b.project + "/global/healthChecks/" + b.name}}
}

// AddBackendService makes a global backend service with no backends in the
// first project, as a team's load balancer set up outside Gennaker.
func (s *Sim) AddBackendService(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.opts.Projects[0]
	link := SelfLinkBase + "projects/" + p + "/global/backendServices/" + name
	if s.backendServices[p+"/"+name] == nil {
		s.backendServices[p+"/"+name] = &backendService{name: name, project: p, link: link, id: s.nextID(), since: map[string]time.Time{}}
	}
	return link
}

func (s *Sim) backendService(c *call) (*backendService, *apiError) {
	b := s.backendServices[c.project+"/"+c.name]
	if b == nil {
		return nil, notFound("backendService", trimLink(c.link("global", "backendServices", c.name)))
	}
	return b, nil
}

func getBackendService(s *Sim, c *call) (any, *apiError) {
	b, e := s.backendService(c)
	if e != nil {
		return nil, e
	}
	return b.view(), nil
}

// writeBackendService is patch (the fields sent replace those there) or, when
// replace is set, update (the resource sent replaces the one there: no
// backends means none). Either checks the fingerprint when one is sent.
func writeBackendService(replace bool) methodFunc {
	return func(s *Sim, c *call) (any, *apiError) { return putBackendService(s, c, replace) }
}

func putBackendService(s *Sim, c *call, replace bool) (any, *apiError) {
	b, e := s.backendService(c)
	if e != nil {
		return nil, e
	}
	var body map[string]json.RawMessage
	if e := decode(c, &body); e != nil {
		return nil, e
	}
	if c.concurrent {
		// Someone else's change lands first.
		other := SelfLinkBase + "projects/" + b.project + "/zones/us-central1-f/instanceGroups/someone-elses-" + s.suffix()
		b.setBackends(append(b.backends, map[string]any{"group": other, "balancingMode": "UTILIZATION"}), c.now)
	}
	if raw, ok := body["fingerprint"]; ok {
		var fp string
		if json.Unmarshal(raw, &fp) != nil || fp != b.fingerprint() {
			return nil, errf(http.StatusPreconditionFailed, "conditionNotMet",
				"Supplied fingerprint does not match current metadata fingerprint.")
		}
	}
	if raw, ok := body["backends"]; ok || replace {
		if !ok {
			raw = json.RawMessage("[]")
		}
		var backends []map[string]any
		if err := json.Unmarshal(raw, &backends); err != nil {
			return nil, errf(http.StatusBadRequest, "invalid", "Invalid value for field 'resource.backends': %v", err)
		}
		for i, be := range backends {
			if g, _ := be["group"].(string); g == "" {
				return nil, errf(http.StatusBadRequest, "required", "Required field 'resource.backends[%d].group' not specified", i)
			}
		}
		b.setBackends(backends, c.now)
	}
	if raw, ok := body["description"]; ok {
		_ = json.Unmarshal(raw, &b.description)
	} else if replace {
		b.description = ""
	}
	b.version++
	return s.newOperation(c, operationType(c.method), b.link, nil, nil), nil
}

// setBackends replaces the backends, keeping when each group became one.
func (b *backendService) setBackends(backends []map[string]any, now time.Time) {
	since := map[string]time.Time{}
	for _, be := range backends {
		g, _ := be["group"].(string)
		if t, ok := b.since[trimLink(g)]; ok {
			since[trimLink(g)] = t
		} else {
			since[trimLink(g)] = now
		}
	}
	b.backends, b.since = backends, since
	b.version++
}

func getHealth(s *Sim, c *call) (any, *apiError) {
	b, e := s.backendService(c)
	if e != nil {
		return nil, e
	}
	var body struct {
		Group string `json:"group"`
	}
	if e := decode(c, &body); e != nil {
		return nil, e
	}
	if !b.hasBackend(body.Group) {
		return nil, errf(http.StatusBadRequest, "invalid", "Invalid value for field 'resource.group': '%s'. Instance group is not a backend of backend service %s.", body.Group, b.name)
	}
	var health []map[string]any
	for _, k := range sortedKeys(s.groups) {
		g := s.groups[k]
		if trimLink(g.groupLink()) != trimLink(body.Group) {
			continue
		}
		for n, in := range g.instances {
			if st, _ := in.state(c.now); st != "RUNNING" {
				continue
			}
			state := "UNHEALTHY"
			from := in.running
			if t := b.since[trimLink(body.Group)]; t.After(from) {
				from = t
			}
			if !s.neverHealthy[g.name] && !c.now.Before(from.Add(s.opts.HealthyDelay)) {
				state = "HEALTHY"
			}
			health = append(health, map[string]any{"instance": in.link(), "healthState": state,
				"ipAddress": "10.128.0." + strconv.Itoa(n+2), "port": 80})
		}
	}
	return map[string]any{"kind": "compute#backendServiceGroupHealth", "healthStatus": health}, nil
}

// ---- operations ----

type operation struct {
	name, project, scope, opType, target, link, user string
	id                                               uint64
	inserted, ended                                  time.Time
	polls                                            int
	started, done                                    bool
	errCode                                          string
	ready                                            func(time.Time) bool
	onStart, onDone                                  func(time.Time)
}

// newOperation records the operation of a mutation: ready says when the work
// is over (nil: at once), onDone is what happens then unless it failed.
// Callers hold s.mu.
func (s *Sim) newOperation(c *call, opType, target string, ready func(time.Time) bool, onDone func(time.Time)) *operation {
	name := "operation-" + strconv.FormatInt(c.now.UnixMilli(), 10) + "-" + s.suffix()
	op := &operation{name: name, project: c.project, scope: c.scope, opType: opType, target: target,
		link: c.link(c.scope, "operations", name), user: c.who, id: s.nextID(), inserted: c.now,
		errCode: c.fail, ready: ready, onDone: onDone}
	if c.scope == "global" {
		op.link = c.link("global", "operations", name)
	}
	s.operations[op.link] = op
	return op
}

func (op *operation) isReady(now time.Time) bool { return op.ready == nil || op.ready(now) }

// start moves a PENDING operation on to RUNNING: an insert's resource appears.
func (op *operation) start(now time.Time) {
	if op.started {
		return
	}
	op.started = true
	if op.errCode == "" && op.onStart != nil {
		op.onStart(now)
	}
}

func (op *operation) finish(now time.Time) {
	op.start(now)
	op.done, op.ended = true, now
	if op.errCode == "" && op.onDone != nil {
		op.onDone(now)
	}
}

func (op *operation) view(s *Sim) map[string]any {
	status, progress := "PENDING", 0
	switch {
	case op.done:
		status, progress = "DONE", 100
	case op.started:
		status, progress = "RUNNING", 50
	}
	v := map[string]any{"kind": "compute#operation", "id": strconv.FormatUint(op.id, 10), "name": op.name,
		"operationType": op.opType, "targetLink": op.target, "status": status, "progress": progress,
		"insertTime": op.inserted.Format(time.RFC3339), "startTime": op.inserted.Format(time.RFC3339),
		"selfLink": op.link, "user": op.user}
	if kind, _, ok := strings.Cut(op.scope, "/"); ok {
		v[strings.TrimSuffix(kind, "s")] = SelfLinkBase + "projects/" + op.project + "/" + op.scope
	}
	if op.done {
		v["endTime"] = op.ended.Format(time.RFC3339)
		if op.errCode != "" {
			v["error"] = map[string]any{"errors": []map[string]string{{"code": op.errCode,
				"message": "The zone does not have enough resources available to fulfill the request (" + op.errCode + ")."}}}
			v["httpErrorStatusCode"] = http.StatusServiceUnavailable
			v["httpErrorMessage"] = "SERVICE UNAVAILABLE"
		}
	}
	return v
}

func getOperation(s *Sim, c *call) (any, *apiError) {
	link := c.link(c.scope, "operations", c.name)
	if c.scope == "global" {
		link = c.link("global", "operations", c.name)
	}
	op := s.operations[link]
	if op == nil {
		return nil, notFound("operation", trimLink(link))
	}
	if !op.done {
		op.polls++
		op.start(c.now)
		if op.polls >= 2 && op.isReady(c.now) {
			op.finish(c.now)
		}
	}
	return op.view(s), nil
}
