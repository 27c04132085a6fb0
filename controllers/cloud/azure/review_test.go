package azure_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	azureprovider "github.com/gennaker/gennaker/controllers/cloud/azure"
)

// A status.operation whose resume token names another host, another scheme or another subscription is
// refused without a request: polling it would hand the ARM bearer token to that host.
func TestOperationTokenElsewhereIsRefused(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1)
	op, err := e.client.Create(e.ctx, sg)
	if err != nil || op == nil {
		t.Fatalf("Create: %+v, %v", op, err)
	}
	var hits atomic.Int32
	var auth atomic.Value
	rogue := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		auth.Store(r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rogue.Close)
	own := strings.TrimPrefix(e.srv.URL, "https://")
	for what, tok := range map[string]string{
		"another host":         strings.ReplaceAll(op.ID, own, strings.TrimPrefix(rogue.URL, "https://")),
		"plain http":           strings.ReplaceAll(op.ID, "https://"+own, "http://"+own),
		"another subscription": strings.ReplaceAll(op.ID, subscription, "00000000-0000-0000-0000-000000000000"),
		"a user in the URL":    strings.ReplaceAll(op.ID, "https://"+own, "https://x@"+own),
	} {
		if tok == op.ID {
			t.Fatalf("%s: the token did not change: %s", what, tok)
		}
		e.sim.ResetCalls()
		done, err := e.client.Operation(e.ctx, sg, v1alpha1.CloudOperation{Action: op.Action, ID: tok})
		if !done {
			t.Errorf("%s: not done, so the controller would keep it", what)
		}
		wantReason(t, what, err, cloud.InvalidRequest)
		if !strings.Contains(err.Error(), "status.operation.id") {
			t.Errorf("%s: the error does not name the field: %v", what, err)
		}
		if c := e.sim.Calls(); c["Operations.Get"]+c["OperationResults.Get"]+c["VirtualMachineScaleSets.Get"] != 0 {
			t.Errorf("%s: requests were sent: %v", what, c)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the other host got %d requests (Authorization %q)", n, auth.Load())
	}
	// The token as it was still works.
	if err := e.finish(sg, op); err != nil {
		t.Fatalf("the real operation: %v", err)
	}
}

// Disabling takes the group out of its spec's pools only: a pool someone else put the NICs in (an
// outbound rule's, for SNAT) stays, and does not count as traffic.
func TestTrafficKeepsForeignPool(t *testing.T) {
	e := newEnv(t)
	const snat = "/subscriptions/" + subscription + "/resourceGroups/net/providers/Microsoft.Network/loadBalancers/out/backendAddressPools/snat"
	e.sim.AddBackendPool(snat)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 2)
	// Made in both pools, as if someone had added the SNAT pool to what gennaker made.
	made := sg.DeepCopy()
	made.Spec.Azure.BackendAddressPoolIDs = []string{poolA, snat}
	op, err := e.client.Create(e.ctx, made)
	e.do("Create", sg, op, err)
	e.clock.Advance(provisionDelay + healthyDelay)
	if got := e.observe(sg).Traffic; got != v1alpha1.TrafficEnabled {
		t.Fatalf("traffic %s after Create", got)
	}

	for range 2 { // the model, then the instances
		op, err = e.client.SetTraffic(e.ctx, sg, v1alpha1.TrafficDisabled)
		e.do("SetTraffic", sg, op, err)
	}
	if got := e.observe(sg).Traffic; got != v1alpha1.TrafficDisabled {
		t.Errorf("traffic %s after disabling, in the SNAT pool only", got)
	}
	if m, _ := e.sim.PoolMembers(poolA); m != 0 {
		t.Errorf("%d instances left in pool A", m)
	}
	if m, _ := e.sim.PoolMembers(snat); m != 2 {
		t.Errorf("the SNAT pool holds %d instances after disabling, want 2", m)
	}
	if v := e.scaleSet(sg.Name); len(v.Pools) != 1 || v.Pools[0] != snat {
		t.Errorf("model pools %v after disabling, want the SNAT pool only", v.Pools)
	}

	for range 2 {
		op, err = e.client.SetTraffic(e.ctx, sg, v1alpha1.TrafficEnabled)
		e.do("SetTraffic", sg, op, err)
	}
	if got := e.observe(sg).Traffic; got != v1alpha1.TrafficEnabled {
		t.Errorf("traffic %s after enabling", got)
	}
	if a, _ := e.sim.PoolMembers(poolA); a != 2 {
		t.Errorf("pool A holds %d instances after enabling", a)
	}
	if m, _ := e.sim.PoolMembers(snat); m != 2 {
		t.Errorf("the SNAT pool holds %d instances after enabling, want 2", m)
	}
	// Idempotent: nothing left to write.
	e.sim.ResetCalls()
	if op, err := e.client.SetTraffic(e.ctx, sg, v1alpha1.TrafficEnabled); op != nil || err != nil {
		t.Errorf("SetTraffic to the current state: %+v, %v", op, err)
	}
}

// A change someone else makes to the scale set between gennaker's read and its PATCH is kept: the PATCH
// carries If-Match, ARM refuses it with 412, the error is retryable, and the next try reads again.
func TestConcurrentChangeIsKept(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1)
	op, err := e.client.Create(e.ctx, sg)
	e.do("Create", sg, op, err)

	// Someone tags the scale set just before the first PATCH reaches ARM.
	var raced atomic.Bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && raced.CompareAndSwap(false, true) {
			if !e.sim.SetTag(sg.Name, "costCenter", "1234") {
				t.Error("no scale set to tag")
			}
		}
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p := &azureprovider.Provider{HTTPClient: srv.Client(), AuthorityHost: srv.URL, RetryDelay: time.Millisecond, MaxRetries: -1}
	c, err := p.Connect(e.ctx, account(srv.URL), cloud.NewCredentials([]byte(secretValue)))
	if err != nil {
		t.Fatal(err)
	}
	want := v1alpha1.Capacity{Min: 1, Max: 10, Desired: 3}
	op, err = c.UpdateCapacity(e.ctx, sg, want)
	if err == nil || op != nil {
		t.Fatalf("UpdateCapacity over a concurrent change: %+v, %v; want a refusal", op, err)
	}
	if !cloud.Retryable(err) {
		t.Errorf("the refusal is not retryable: %v", err)
	}
	v := e.scaleSet(sg.Name)
	if v.Tags["costCenter"] != "1234" || v.Capacity != 1 {
		t.Fatalf("after the refused PATCH: tags %v, capacity %d", v.Tags, v.Capacity)
	}
	// The retry reads the scale set again, and keeps the tag.
	e.client = c // for e.do, which polls through e.client
	op, err = c.UpdateCapacity(e.ctx, sg, want)
	e.do("UpdateCapacity", sg, op, err)
	v = e.scaleSet(sg.Name)
	if v.Tags["costCenter"] != "1234" || v.Capacity != 3 {
		t.Errorf("after the retry: tags %v, capacity %d", v.Tags, v.Capacity)
	}
}

// An instance someone stopped is provisioned (Succeeded) but not running: it counts neither as running
// nor as healthy, and the observation names it.
func TestStoppedInstanceIsNotRunning(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 2)
	op, err := e.client.Create(e.ctx, sg)
	e.do("Create", sg, op, err)
	e.clock.Advance(provisionDelay + healthyDelay)
	if o := e.observe(sg); o.Instances != (v1alpha1.Instances{Desired: 2, Running: 2, Healthy: 2}) {
		t.Fatalf("instances %+v before the stop", o.Instances)
	}
	id := e.scaleSet(sg.Name).Instances[0].ID
	if !e.sim.StopInstance(sg.Name, id) {
		t.Fatalf("no instance %s to stop", id)
	}
	o := e.observe(sg)
	if o.Instances != (v1alpha1.Instances{Desired: 2, Running: 1, Healthy: 1}) {
		t.Errorf("instances %+v with one stopped, want 1 running, 1 healthy", o.Instances)
	}
	if !strings.Contains(o.Unhealthy, "power state deallocated") {
		t.Errorf("unhealthy %q does not say the instance is deallocated", o.Unhealthy)
	}
}

// hostRecorder sends requests to the simulator only and records the host of every request.
type hostRecorder struct {
	next  http.RoundTripper
	sim   string
	hosts chan string
}

func (h hostRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.hosts <- r.URL.Host
	if r.URL.Host != h.sim {
		return nil, errors.New("test: no network beyond the simulator")
	}
	return h.next.RoundTrip(r)
}

// An https loopback spec.azure.endpoint moves Resource Manager only: without the test-only
// Provider.AuthorityHost the client secret goes to the cloud's own Entra authority, never to the process
// behind the endpoint.
func TestEndpointIsNotTheAuthority(t *testing.T) {
	e := newEnv(t)
	sim := strings.TrimPrefix(e.srv.URL, "https://")
	rec := hostRecorder{next: e.srv.Client().Transport, sim: sim, hosts: make(chan string, 100)}
	p := &azureprovider.Provider{HTTPClient: &http.Client{Transport: rec}, MaxRetries: -1}
	c, err := p.Connect(e.ctx, account(e.srv.URL), cloud.NewCredentials([]byte(secretValue)))
	if err != nil {
		t.Fatal(err)
	}
	e.sim.ResetCalls()
	if _, err := c.Verify(e.ctx); err == nil {
		t.Fatal("Verify got a token without an authority to give one")
	}
	if n := e.sim.Calls()["Token"] + e.sim.Calls()["OpenIDConfiguration"]; n != 0 {
		t.Errorf("the endpoint's process got %d Entra requests: %v", n, e.sim.Calls())
	}
	close(rec.hosts)
	var hosts []string
	for h := range rec.hosts {
		hosts = append(hosts, h)
	}
	if !slices.Contains(hosts, "login.microsoftonline.com") || slices.Contains(hosts, sim) {
		t.Errorf("requests went to %v, want login.microsoftonline.com only", hosts)
	}
}
