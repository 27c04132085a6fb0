package azure_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	azuresim "github.com/gennaker/gennaker/test/cloudsim/azure"
)

const (
	sub    = "11111111-2222-3333-4444-555555555555"
	tenant = "99999999-8888-7777-6666-555555555555"
	client = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	secret = "s3cret"
	pool   = "/subscriptions/" + sub + "/resourceGroups/net/providers/Microsoft.Network/loadBalancers/lb/backendAddressPools/web"
	subnet = "/subscriptions/" + sub + "/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/web"
)

// harness is a Sim on a fake clock behind a TLS server, spoken to over plain HTTP requests.
type harness struct {
	t     *testing.T
	clock *azuresim.Clock
	sim   *azuresim.Sim
	srv   *httptest.Server
	token string
}

func newHarness(t *testing.T) *harness {
	clock := azuresim.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	sim := azuresim.New(azuresim.Options{
		SubscriptionID: sub, TenantID: tenant, ResourceGroups: []string{"rg"},
		Clients:        map[string]string{client: secret},
		Federated:      map[string]string{client: "federated-jwt"},
		ProvisionDelay: 10 * time.Second, HealthyDelay: 5 * time.Second, DeleteDelay: 20 * time.Second, OperationDelay: 3 * time.Second,
		Now: clock.Now,
	})
	sim.AddBackendPool(pool)
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	h := &harness{t: t, clock: clock, sim: sim, srv: srv}
	status, body, _ := h.form("/"+tenant+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret},
		"scope": {"https://management.core.windows.net//.default openid"},
	})
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	h.token = body["access_token"].(string)
	return h
}

func (h *harness) form(path string, v url.Values) (int, map[string]any, http.Header) {
	resp, err := h.srv.Client().PostForm(h.srv.URL+path, v)
	if err != nil {
		h.t.Fatal(err)
	}
	return decode(h.t, resp)
}

// do sends an ARM request with the harness's token; path is relative to the resource group's scale sets.
func (h *harness) do(method, path, body string, header ...string) (int, map[string]any, http.Header) {
	h.t.Helper()
	u := h.srv.URL + path
	if !strings.HasPrefix(path, "/") {
		u = h.srv.URL + "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/" + path
	}
	if !strings.Contains(u, "api-version") {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "api-version=" + azuresim.APIVersion
	}
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return decode(h.t, resp)
}

func decode(t *testing.T, resp *http.Response) (int, map[string]any, http.Header) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%d: not JSON: %s", resp.StatusCode, b)
		}
	}
	return resp.StatusCode, m, resp.Header
}

func code(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func scaleSet(capacity int, pools ...string) string {
	var refs []string
	for _, p := range pools {
		refs = append(refs, `{"id":"`+p+`"}`)
	}
	return `{"location":"westeurope","tags":{"gennaker.io_managed-by":"gennaker"},
	"sku":{"name":"Standard_D2s_v5","capacity":` + string(rune('0'+capacity)) + `},
	"properties":{"upgradePolicy":{"mode":"Manual"},"virtualMachineProfile":{
	  "storageProfile":{"imageReference":{"id":"/subscriptions/` + sub + `/resourceGroups/i/providers/Microsoft.Compute/images/web"}},
	  "networkProfile":{"networkInterfaceConfigurations":[{"name":"nic","properties":{"primary":true,"ipConfigurations":[
	    {"name":"ip","properties":{"subnet":{"id":"` + subnet + `"},"loadBalancerBackendAddressPools":[` + strings.Join(refs, ",") + `]}}]}}]},
	  "extensionProfile":{"extensions":[{"name":"health","properties":{"publisher":"Microsoft.ManagedServices","type":"ApplicationHealthLinux","typeHandlerVersion":"2.0"}}]}}}}`
}

// opStatus polls an Azure-AsyncOperation URL.
func (h *harness) opStatus(async string) string {
	h.t.Helper()
	u, _ := url.Parse(async)
	status, body, _ := h.do(http.MethodGet, u.RequestURI(), "")
	if status != http.StatusOK {
		h.t.Fatalf("operation: %d %v", status, body)
	}
	return body["status"].(string)
}

func TestTokens(t *testing.T) {
	h := newHarness(t)
	for name, c := range map[string]struct {
		tenant string
		form   url.Values
		want   int
	}{
		"wrong secret":      {tenant, url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {"nope"}, "scope": {"x/.default"}}, 401},
		"unknown tenant":    {"other", url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {"x/.default"}}, 400},
		"no .default scope": {tenant, url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {"x"}}, 400},
		"federated":         {tenant, url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_assertion": {"federated-jwt"}, "scope": {"x/.default"}}, 200},
		"wrong assertion":   {tenant, url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_assertion": {"forged"}, "scope": {"x/.default"}}, 401},
	} {
		status, body, _ := h.form("/"+c.tenant+"/oauth2/v2.0/token", c.form)
		if status != c.want {
			t.Errorf("%s: %d, want %d (%v)", name, status, c.want, body)
		}
		if strings.Contains(fmt.Sprint(body["error_description"]), secret) {
			t.Errorf("%s: the answer echoes the secret", name)
		}
	}
	status, body, _ := h.do(http.MethodGet, "/"+tenant+"/v2.0/.well-known/openid-configuration", "")
	if status != 200 || !strings.HasPrefix(body["token_endpoint"].(string), "https://") {
		t.Errorf("openid configuration: %d %v", status, body)
	}

	// ARM wants a token it issued.
	h.token = ""
	if status, body, hdr := h.do(http.MethodGet, "web", ""); status != 401 || code(body) != "AuthenticationFailed" || hdr.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d %v", status, body)
	}
	h.token = "made-up"
	if status, body, _ := h.do(http.MethodGet, "web", ""); status != 401 || code(body) != "InvalidAuthenticationToken" {
		t.Errorf("unknown token: %d %v", status, body)
	}
}

func TestRouting(t *testing.T) {
	h := newHarness(t)
	if status, body, _ := h.do(http.MethodGet, "/subscriptions/"+sub+"?api-version=2022-12-01", ""); status != 200 || body["state"] != "Enabled" {
		t.Errorf("subscription: %d %v", status, body)
	}
	if status, body, _ := h.do(http.MethodGet, "/subscriptions/00000000-0000-0000-0000-000000000000?api-version=2022-12-01", ""); status != 404 || code(body) != "SubscriptionNotFound" {
		t.Errorf("other subscription: %d %v", status, body)
	}
	if status, body, _ := h.do(http.MethodGet, "web?api-version=2019-01-01", ""); status != 400 || code(body) != "InvalidApiVersionParameter" {
		t.Errorf("old api-version: %d %v", status, body)
	}
	if status, body, _ := h.do(http.MethodGet, "/subscriptions/"+sub+"/resourceGroups/nope/providers/Microsoft.Compute/virtualMachineScaleSets/web", ""); status != 404 || code(body) != "ResourceGroupNotFound" {
		t.Errorf("unknown resource group: %d %v", status, body)
	}
	if status, body, _ := h.do(http.MethodGet, "web", ""); status != 404 || code(body) != "ResourceNotFound" {
		t.Errorf("missing scale set: %d %v", status, body)
	}
}

// A scale set's life: PUT (201, operation headers, If-None-Match), instances that provision and turn
// healthy, a PATCH that changes the model but not the instances until manualupgrade, a conflict while an
// operation runs, and a DELETE that takes time.
func TestScaleSetLifecycle(t *testing.T) {
	h := newHarness(t)
	status, body, hdr := h.do(http.MethodPut, "web", scaleSet(2))
	async := hdr.Get("Azure-AsyncOperation")
	if status != http.StatusCreated || async == "" || hdr.Get("Location") == "" || hdr.Get("Retry-After") == "" {
		t.Fatalf("PUT: %d %v %v", status, body, hdr)
	}
	if ps := body["properties"].(map[string]any)["provisioningState"]; ps != "Creating" {
		t.Errorf("provisioningState %v", ps)
	}
	if status, body, _ := h.do(http.MethodPut, "web", scaleSet(2), "If-None-Match", "*"); status != 412 || code(body) != "PreconditionFailed" {
		t.Errorf("PUT If-None-Match on an existing set: %d %v", status, body)
	}
	if status, body, _ := h.do(http.MethodPatch, "web", `{"sku":{"capacity":3}}`); status != 409 || code(body) != "OperationNotAllowed" {
		t.Errorf("PATCH during the creation: %d %v", status, body)
	}
	if s := h.opStatus(async); s != "InProgress" {
		t.Errorf("operation %s right away", s)
	}
	h.clock.Advance(3 * time.Second)
	if s := h.opStatus(async); s != "Succeeded" {
		t.Errorf("operation %s after its delay", s)
	}

	v, _ := h.sim.ScaleSet("web")
	if len(v.Instances) != 2 || v.Instances[0].ProvisioningState != "Creating" || v.Instances[0].Health != "initializing" {
		t.Errorf("instances %+v", v.Instances)
	}
	h.clock.Advance(12 * time.Second)
	v, _ = h.sim.ScaleSet("web")
	if v.Instances[0].ProvisioningState != "Succeeded" || v.Instances[0].Health != "healthy" {
		t.Errorf("instances after the delays %+v", v.Instances)
	}
	status, body, _ = h.do(http.MethodGet, "web/virtualMachines?$expand=instanceView", "")
	vms := body["value"].([]any)
	if status != 200 || len(vms) != 2 {
		t.Fatalf("VMs: %d %v", status, body)
	}
	health := vms[0].(map[string]any)["properties"].(map[string]any)["instanceView"].(map[string]any)["vmHealth"]
	if health.(map[string]any)["status"].(map[string]any)["code"] != "HealthState/healthy" {
		t.Errorf("vmHealth %v", health)
	}

	// The model joins the pool; the instances only once upgraded.
	status, _, hdr = h.do(http.MethodPatch, "web", `{"properties":{"virtualMachineProfile":{"networkProfile":{"networkInterfaceConfigurations":[{"name":"nic","properties":{"primary":true,"ipConfigurations":[{"name":"ip","properties":{"subnet":{"id":"`+subnet+`"},"loadBalancerBackendAddressPools":[{"id":"`+pool+`"}]}}]}}]}}}}`)
	if status != 200 || hdr.Get("Azure-AsyncOperation") == "" {
		t.Fatalf("PATCH: %d", status)
	}
	h.clock.Advance(3 * time.Second)
	v, _ = h.sim.ScaleSet("web")
	if len(v.Pools) != 1 || v.Instances[0].LatestModel || len(v.Instances[0].Pools) != 0 || !v.HealthExtension {
		t.Errorf("after the PATCH: %+v", v)
	}
	if m, _ := h.sim.PoolMembers(pool); m != 0 {
		t.Errorf("%d pool members before manualupgrade", m)
	}
	if status, body, _ := h.do(http.MethodPost, "web/manualupgrade", `{"instanceIds":["7"]}`); status != 400 || code(body) != "InvalidParameter" {
		t.Errorf("manualupgrade of an unknown instance: %d %v", status, body)
	}
	status, _, hdr = h.do(http.MethodPost, "web/manualupgrade", `{"instanceIds":["0","1"]}`)
	if status != 202 || hdr.Get("Location") == "" {
		t.Fatalf("manualupgrade: %d", status)
	}
	h.clock.Advance(3 * time.Second)
	if m, hl := h.sim.PoolMembers(pool); m != 2 || hl != 2 {
		t.Errorf("pool members %d, healthy %d after manualupgrade", m, hl)
	}
	loc, _ := url.Parse(hdr.Get("Location"))
	if status, _, _ := h.do(http.MethodGet, loc.RequestURI(), ""); status != 200 {
		t.Errorf("Location after the end: %d", status)
	}

	// Tags of a PATCH replace the set's; bad names are refused.
	if status, body, _ := h.do(http.MethodPatch, "web", `{"tags":{"gennaker.io/uid":"x"}}`); status != 400 || code(body) != "InvalidTagNameCharacters" {
		t.Errorf("tag with a slash: %d %v", status, body)
	}
	if status, body, _ := h.do(http.MethodPatch, "web", `{"tags":{"team":"web"},"sku":{"capacity":1}}`); status != 200 {
		t.Errorf("PATCH tags: %d %v", status, body)
	}
	h.clock.Advance(3 * time.Second)
	v, _ = h.sim.ScaleSet("web")
	if len(v.Tags) != 1 || v.Tags["team"] != "web" || v.Capacity != 1 || v.Instances[1].ProvisioningState != "Deleting" {
		t.Errorf("after PATCH of tags and capacity: %+v", v)
	}

	status, _, hdr = h.do(http.MethodDelete, "web", "")
	if status != 202 || hdr.Get("Azure-AsyncOperation") == "" {
		t.Fatalf("DELETE: %d", status)
	}
	if status, body, _ := h.do(http.MethodGet, "web", ""); status != 200 || body["properties"].(map[string]any)["provisioningState"] != "Deleting" {
		t.Errorf("GET while deleting: %d %v", status, body)
	}
	h.clock.Advance(20 * time.Second)
	if s := h.opStatus(hdr.Get("Azure-AsyncOperation")); s != "Succeeded" {
		t.Errorf("delete operation %s", s)
	}
	if status, _, _ := h.do(http.MethodGet, "web", ""); status != 404 {
		t.Errorf("GET after the delete: %d", status)
	}
	if status, _, _ := h.do(http.MethodDelete, "web", ""); status != 204 {
		t.Errorf("DELETE of a missing set: %d", status)
	}
	calls := h.sim.Calls()
	if calls["VirtualMachineScaleSets.CreateOrUpdate"] != 2 || calls["VirtualMachineScaleSets.UpdateInstances"] != 2 || calls["Token"] != 1 {
		t.Errorf("calls %v", calls)
	}
}

func TestValidation(t *testing.T) {
	h := newHarness(t)
	if status, body, _ := h.do(http.MethodPut, "web", scaleSet(1, pool+"-unknown")); status != 400 || code(body) != "InvalidResourceReference" {
		t.Errorf("unknown pool: %d %v", status, body)
	}
	if status, body, _ := h.do(http.MethodPut, "web", `{"location":"westeurope","sku":{"name":"x","capacity":1}}`); status != 400 || code(body) != "InvalidParameter" {
		t.Errorf("no VM profile: %d %v", status, body)
	}
	if status, body, _ := h.do(http.MethodPut, "web", `{"sku":{"name":"x","capacity":1}}`); status != 400 || code(body) != "LocationRequired" {
		t.Errorf("no location: %d %v", status, body)
	}
	if _, ok := h.sim.ScaleSet("web"); ok {
		t.Errorf("a refused PUT made a scale set")
	}
}

func TestFaults(t *testing.T) {
	h := newHarness(t)
	h.sim.Inject(azuresim.Fault{Op: "VirtualMachineScaleSets.Get", Status: 429, RetryAfter: 2 * time.Second, Count: 2})
	for range 2 {
		if status, body, hdr := h.do(http.MethodGet, "web", ""); status != 429 || code(body) != "TooManyRequests" || hdr.Get("Retry-After") != "2" {
			t.Errorf("throttled GET: %d %v %v", status, body, hdr)
		}
	}
	if status, _, _ := h.do(http.MethodGet, "web", ""); status != 404 {
		t.Errorf("the fault outlived its count: %d", status)
	}

	h.sim.Inject(azuresim.Fault{Op: "VirtualMachineScaleSets.CreateOrUpdate", FailOperation: true, Code: "AllocationFailed"})
	status, _, hdr := h.do(http.MethodPut, "web", scaleSet(1))
	if status != 201 {
		t.Fatalf("PUT: %d", status)
	}
	h.clock.Advance(3 * time.Second)
	u, _ := url.Parse(hdr.Get("Azure-AsyncOperation"))
	_, body, _ := h.do(http.MethodGet, u.RequestURI(), "")
	if body["status"] != "Failed" || code(body) != "AllocationFailed" {
		t.Errorf("failed operation: %v", body)
	}
	if v, _ := h.sim.ScaleSet("web"); v.ProvisioningState != "Failed" {
		t.Errorf("provisioningState %s after a failed operation", v.ProvisioningState)
	}

	h.sim.Inject(azuresim.Fault{Status: 500, Count: -1})
	for range 3 {
		if status, body, _ := h.do(http.MethodGet, "web", ""); status != 500 || code(body) != "InternalServerError" {
			t.Errorf("500: %d %v", status, body)
		}
	}
	h.sim.ClearFaults()
	if status, _, _ := h.do(http.MethodGet, "web", ""); status != 200 {
		t.Errorf("after ClearFaults: %d", status)
	}
	if times := h.sim.CallTimes("VirtualMachineScaleSets.Get"); len(times) != 7 {
		t.Errorf("%d GETs recorded", len(times))
	}
}

// With no delays, an operation is over with its request, and what it does is done: a deleted scale set
// is gone, an upgraded instance is in its pool.
func TestNoDelays(t *testing.T) {
	clock := azuresim.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	sim := azuresim.New(azuresim.Options{SubscriptionID: sub, TenantID: tenant, ResourceGroups: []string{"rg"},
		Clients: map[string]string{client: secret}, ProvisionDelay: -1, HealthyDelay: -1, DeleteDelay: -1, OperationDelay: -1, Now: clock.Now})
	sim.AddBackendPool(pool)
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	h := &harness{t: t, clock: clock, sim: sim, srv: srv}
	_, body, _ := h.form("/"+tenant+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {"x/.default"}})
	h.token = body["access_token"].(string)

	if status, _, _ := h.do(http.MethodPut, "web", scaleSet(2)); status != 201 {
		t.Fatalf("PUT: %d", status)
	}
	h.do(http.MethodPatch, "web", `{"properties":{"virtualMachineProfile":{"networkProfile":{"networkInterfaceConfigurations":[{"name":"nic","properties":{"ipConfigurations":[{"name":"ip","properties":{"subnet":{"id":"`+subnet+`"},"loadBalancerBackendAddressPools":[{"id":"`+pool+`"}]}}]}}]}}}}`)
	if status, body, _ := h.do(http.MethodPost, "web/manualupgrade", `{"instanceIds":["*"]}`); status != 202 {
		t.Fatalf("manualupgrade: %d %v", status, body)
	}
	if m, hl := sim.PoolMembers(pool); m != 2 || hl != 2 {
		t.Errorf("pool members %d, healthy %d", m, hl)
	}
	h.do(http.MethodDelete, "web", "")
	if status, _, _ := h.do(http.MethodGet, "web", ""); status != 404 {
		t.Errorf("GET after a DELETE without delay: %d", status)
	}
}
