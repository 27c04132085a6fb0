package gcp_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	gcpsim "github.com/gennaker/gennaker/test/cloudsim/gcp"
)

const (
	token   = "test-token"
	project = gcpsim.DefaultProject
	base    = "/compute/v1/projects/" + project
)

type env struct {
	t     *testing.T
	sim   *gcpsim.Sim
	clock *gcpsim.Clock
	url   string
}

func newEnv(t *testing.T) *env {
	clk := gcpsim.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	sim := gcpsim.New(gcpsim.Options{Tokens: []string{token}, BootDelay: 10 * time.Second, HealthyDelay: 20 * time.Second,
		StopDelay: 5 * time.Second, OperationDelay: time.Hour, Now: clk.Now})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &env{t: t, sim: sim, clock: clk, url: srv.URL}
}

// do sends a request with the test token and decodes the JSON answer.
func (e *env) do(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&rd).Encode(body)
	}
	req, _ := http.NewRequest(method, e.url+path, &rd)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func (e *env) opPath(op map[string]any) string {
	link := op["selfLink"].(string)
	return "/compute/v1/" + link[len(gcpsim.SelfLinkBase):]
}

func reason(body map[string]any) string {
	errs := body["error"].(map[string]any)["errors"].([]any)
	return errs[0].(map[string]any)["reason"].(string)
}

func (e *env) template(name string) {
	e.t.Helper()
	code, op := e.do("POST", base+"/global/instanceTemplates", map[string]any{"name": name, "properties": map[string]any{"machineType": "e2-small"}})
	if code != 200 {
		e.t.Fatalf("template insert: %d %v", code, op)
	}
	e.do("GET", e.opPath(op), nil)
}

func (e *env) group(name string, size int) map[string]any {
	e.t.Helper()
	code, op := e.do("POST", base+"/regions/europe-west1/instanceGroupManagers?requestId=11111111-2222-5333-8444-555555555555",
		map[string]any{"name": name, "instanceTemplate": "global/instanceTemplates/t", "targetSize": size})
	if code != 200 {
		e.t.Fatalf("group insert: %d %v", code, op)
	}
	return op
}

func TestRequestsNeedAToken(t *testing.T) {
	e := newEnv(t)
	res, err := http.Get(e.url + base)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", res.StatusCode)
	}
	if code, _ := e.do("GET", base, nil); code != 200 {
		t.Fatalf("projects.get with a token: %d", code)
	}
	if got := e.sim.Calls(); got["projects.get"] != 2 {
		t.Fatalf("calls %v", got)
	}
}

// An operation goes PENDING -> RUNNING -> DONE over polls; the group appears once it runs; the same
// requestId gets the same operation back and makes nothing.
func TestOperationsAndRequestIDs(t *testing.T) {
	e := newEnv(t)
	e.template("t")
	op := e.group("web-v001", 2)
	if op["status"] != "PENDING" {
		t.Fatalf("new operation %v", op["status"])
	}
	if code, _ := e.do("GET", base+"/regions/europe-west1/instanceGroupManagers/web-v001", nil); code != 404 {
		t.Fatalf("group visible while its insert is pending: %d", code)
	}
	if again := e.group("web-v001", 2); again["name"] != op["name"] {
		t.Fatalf("replayed requestId gave operation %v, want %v", again["name"], op["name"])
	}
	var states []any
	for range 2 {
		_, o := e.do("GET", e.opPath(op), nil)
		states = append(states, o["status"])
	}
	if states[0] != "RUNNING" || states[1] != "DONE" {
		t.Fatalf("states over polls %v", states)
	}
	if e.sim.Created()["instanceGroupManagers"] != 1 {
		t.Fatalf("created %v", e.sim.Created())
	}
	_, mi := e.do("POST", base+"/regions/europe-west1/instanceGroupManagers/web-v001/listManagedInstances", nil)
	if n := len(mi["managedInstances"].([]any)); n != 2 {
		t.Fatalf("%d instances", n)
	}
	e.clock.Advance(10 * time.Second)
	if g, _ := e.sim.Group("web-v001"); g.Instances[0].Status != "RUNNING" || g.Instances[0].CurrentAction != "NONE" {
		t.Fatalf("booted instance %+v", g.Instances[0])
	}
}

// Backend services: a stale fingerprint is 412, health needs time behind the service, and a backend
// group cannot be deleted.
func TestBackendServices(t *testing.T) {
	e := newEnv(t)
	e.sim.AddBackendService("web")
	e.template("t")
	op := e.group("web-v001", 1)
	e.do("GET", e.opPath(op), nil)
	e.clock.Advance(10 * time.Second)
	g, _ := e.sim.Group("web-v001")

	_, bs := e.do("GET", base+"/global/backendServices/web", nil)
	body := map[string]any{"fingerprint": bs["fingerprint"], "backends": []any{map[string]any{"group": g.InstanceGroup}}}
	e.sim.Inject(gcpsim.Fault{Kind: gcpsim.ConcurrentChange, Count: 1})
	if code, res := e.do("PUT", base+"/global/backendServices/web", body); code != 412 || reason(res) != "conditionNotMet" {
		t.Fatalf("stale fingerprint: %d %v", code, res)
	}
	_, bs = e.do("GET", base+"/global/backendServices/web", nil)
	body["fingerprint"] = bs["fingerprint"]
	body["backends"] = append(bs["backends"].([]any), map[string]any{"group": g.InstanceGroup})
	if code, res := e.do("PUT", base+"/global/backendServices/web", body); code != 200 {
		t.Fatalf("update: %d %v", code, res)
	}
	health := func() string {
		_, h := e.do("POST", base+"/global/backendServices/web/getHealth", map[string]any{"group": g.InstanceGroup})
		return h["healthStatus"].([]any)[0].(map[string]any)["healthState"].(string)
	}
	if h := health(); h != "UNHEALTHY" {
		t.Fatalf("just added: %s", h)
	}
	e.clock.Advance(20 * time.Second)
	if h := health(); h != "HEALTHY" {
		t.Fatalf("after the healthy delay: %s", h)
	}
	if code, res := e.do("DELETE", base+"/regions/europe-west1/instanceGroupManagers/web-v001", nil); code != 400 || reason(res) != "resourceInUseByAnotherResource" {
		t.Fatalf("deleting a backend: %d %v", code, res)
	}
}

// Faults: 429 and 503 refuse; a failed operation changes nothing and ends with an error.
func TestFaults(t *testing.T) {
	e := newEnv(t)
	e.sim.Inject(gcpsim.Fault{Method: "projects.get", Kind: gcpsim.RateLimit, Count: 1})
	e.sim.Inject(gcpsim.Fault{Method: "projects.get", Kind: gcpsim.Unavailable, Count: 1})
	if code, res := e.do("GET", base, nil); code != 429 || reason(res) != "rateLimitExceeded" {
		t.Fatalf("%d %v", code, res)
	}
	if code, _ := e.do("GET", base, nil); code != 503 {
		t.Fatalf("%d", code)
	}
	e.sim.Inject(gcpsim.Fault{Method: "instanceTemplates.insert", Kind: gcpsim.FailOperation, Count: 1})
	_, op := e.do("POST", base+"/global/instanceTemplates", map[string]any{"name": "t", "properties": map[string]any{"machineType": "e2-small"}})
	e.do("GET", e.opPath(op), nil)
	_, op = e.do("GET", e.opPath(op), nil)
	if op["status"] != "DONE" || op["error"] == nil || op["httpErrorStatusCode"] != float64(503) {
		t.Fatalf("failed operation %v", op)
	}
	if len(e.sim.Templates()) != 0 {
		t.Fatal("a failed insert made a template")
	}
}
