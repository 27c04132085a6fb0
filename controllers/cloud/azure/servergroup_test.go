package azure_test

import (
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

func TestVerify(t *testing.T) {
	e := newEnv(t)
	id, err := e.client.Verify(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(id, clientID) || !strings.Contains(id, subscription) {
		t.Errorf("identity %q names neither the client nor the subscription", id)
	}
	if c := e.sim.Calls(); c["Token"] != 1 || c["Subscriptions.Get"] != 1 {
		t.Errorf("calls %v, want one token and one subscription get", c)
	}
}

func TestVerifyWrongSecretIsAccessDenied(t *testing.T) {
	e := newEnv(t)
	c := e.connect(account(e.srv.URL), cloud.NewCredentials([]byte(wrongSecret)))
	_, err := c.Verify(e.ctx)
	wantReason(t, "Verify", err, cloud.AccessDenied)
}

func TestConnectRefusesPlainHTTPBeyondLoopback(t *testing.T) {
	e := newEnv(t)
	for endpoint, ok := range map[string]bool{
		"http://management.example.com":  false,
		"http://10.0.0.1:8080":           false,
		"ftp://127.0.0.1":                false,
		"http://127.0.0.1:18093":         true,
		"http://localhost:18093":         true,
		"http://[::1]:18093":             true,
		"https://management.example.com": true,
	} {
		_, err := e.provider.Connect(e.ctx, account(endpoint), cloud.NewCredentials([]byte(secretValue)))
		if ok && err != nil {
			t.Errorf("%s: %v", endpoint, err)
		}
		if !ok {
			wantReason(t, endpoint, err, cloud.InvalidRequest)
			if !strings.Contains(err.Error(), "spec.azure.endpoint") {
				t.Errorf("%s: the error does not name the field: %v", endpoint, err)
			}
		}
	}
}

func TestObserveMissing(t *testing.T) {
	e := newEnv(t)
	if o := e.observe(serverGroup("web-main-v000", v1alpha1.TrafficEnabled, 2)); o.Exists {
		t.Errorf("observation of a missing scale set: %+v", o)
	}
}

// A scale set made Disabled comes up out of the pool; enabling it is a PATCH of the model, then an
// updateInstances of the instances, and only then is it observed Enabled; disabling goes back the same
// way. Each step is one long-running operation, checked once per call.
func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficDisabled, 2)
	op, err := e.client.Create(e.ctx, sg)
	if err != nil || op == nil || op.Action != v1alpha1.OperationCreate || op.ID == "" {
		t.Fatalf("Create: %+v, %v", op, err)
	}
	v := e.scaleSet(sg.Name)
	wantTags := map[string]string{
		"gennaker.io_managed-by": "gennaker", "gennaker.io_server-group": "team-a/web-main-v001",
		"gennaker.io_uid": "uid-web-main-v001", "gennaker.io_cluster": "web-main",
		"gennaker.io_capacity-min": "1", "gennaker.io_capacity-max": "10",
	}
	if !maps.Equal(v.Tags, wantTags) {
		t.Errorf("tags %v, want %v", v.Tags, wantTags)
	}
	if v.UpgradeMode != "Manual" || !v.HealthExtension || v.Image != image || v.VMSize != "Standard_D2s_v5" || len(v.Pools) != 0 || v.Capacity != 2 {
		t.Errorf("scale set %+v", v)
	}

	// One poll per Operation call, never a wait.
	e.sim.ResetCalls()
	done, err := e.client.Operation(e.ctx, sg, *op)
	if done || err != nil {
		t.Fatalf("Operation right after Create: done %v, %v", done, err)
	}
	if c := e.sim.Calls(); !maps.Equal(c, map[string]int{"Operations.Get": 1}) {
		t.Errorf("calls of one check %v", c)
	}
	if err := e.finish(sg, op); err != nil {
		t.Fatal(err)
	}

	o := e.observe(sg)
	if !o.Exists || o.Owner != cloud.OwnerOf(sg) || o.Traffic != v1alpha1.TrafficDisabled || o.Capacity != sg.Spec.Capacity {
		t.Errorf("observation %+v", o)
	}
	e.clock.Advance(provisionDelay + healthyDelay)
	o = e.observe(sg)
	if o.Instances != (v1alpha1.Instances{Desired: 2, Running: 2, Healthy: 2}) || o.Unhealthy != "" {
		t.Errorf("instances %+v (%s)", o.Instances, o.Unhealthy)
	}

	// Enabling: the model first.
	op, err = e.client.SetTraffic(e.ctx, sg, v1alpha1.TrafficEnabled)
	e.do("SetTraffic", sg, op, err)
	if got := e.observe(sg).Traffic; got != v1alpha1.TrafficDisabled {
		t.Errorf("after the model's PATCH the instances are not in the pool yet, but traffic is %s", got)
	}
	if m, _ := e.sim.PoolMembers(poolA); m != 0 {
		t.Errorf("%d instances in the pool before updateInstances", m)
	}
	// Then the instances.
	e.sim.ResetCalls()
	op, err = e.client.SetTraffic(e.ctx, sg, v1alpha1.TrafficEnabled)
	e.do("SetTraffic", sg, op, err)
	if w := writes(e.sim.Calls()); !maps.Equal(w, map[string]int{"VirtualMachineScaleSets.UpdateInstances": 1}) {
		t.Errorf("second step wrote %v", w)
	}
	if got := e.observe(sg).Traffic; got != v1alpha1.TrafficEnabled {
		t.Errorf("traffic %s after updateInstances", got)
	}
	if m, h := e.sim.PoolMembers(poolA); m != 2 || h != 2 {
		t.Errorf("pool A holds %d instances, %d healthy", m, h)
	}
	// Nothing left to do.
	e.sim.ResetCalls()
	if op, err := e.client.SetTraffic(e.ctx, sg, v1alpha1.TrafficEnabled); op != nil || err != nil {
		t.Errorf("SetTraffic to the current state: %+v, %v", op, err)
	}
	if w := writes(e.sim.Calls()); len(w) != 0 {
		t.Errorf("SetTraffic to the current state wrote %v", w)
	}

	// Disabling: still Enabled until the instances are out.
	op, err = e.client.SetTraffic(e.ctx, sg, v1alpha1.TrafficDisabled)
	e.do("SetTraffic", sg, op, err)
	if got := e.observe(sg).Traffic; got != v1alpha1.TrafficEnabled {
		t.Errorf("instances still in the pool, but traffic is %s", got)
	}
	op, err = e.client.SetTraffic(e.ctx, sg, v1alpha1.TrafficDisabled)
	e.do("SetTraffic", sg, op, err)
	if got := e.observe(sg).Traffic; got != v1alpha1.TrafficDisabled {
		t.Errorf("traffic %s after disabling", got)
	}
	if m, _ := e.sim.PoolMembers(poolA); m != 0 {
		t.Errorf("%d instances left in the pool", m)
	}

	// Capacity: sku.capacity and the bounds' tags in one PATCH.
	e.sim.ResetCalls()
	want := v1alpha1.Capacity{Min: 0, Max: 5, Desired: 3}
	op, err = e.client.UpdateCapacity(e.ctx, sg, want)
	e.do("UpdateCapacity", sg, op, err)
	if w := writes(e.sim.Calls()); !maps.Equal(w, map[string]int{"VirtualMachineScaleSets.Update": 1}) {
		t.Errorf("UpdateCapacity wrote %v", w)
	}
	if o := e.observe(sg); o.Capacity != want {
		t.Errorf("capacity %+v, want %+v", o.Capacity, want)
	}

	// Delete: gone once the operation is over.
	gone, op, err := e.client.Delete(e.ctx, sg)
	if gone || err != nil || op == nil {
		t.Fatalf("Delete: %v %+v %v", gone, op, err)
	}
	if err := e.finish(sg, op); err != nil {
		t.Fatal(err)
	}
	if gone, _, err := e.client.Delete(e.ctx, sg); !gone || err != nil {
		t.Errorf("Delete after the operation: gone %v, %v", gone, err)
	}
}

// Create again after a crash (the scale set is there) writes nothing; a foreign scale set is NotOwned,
// and nothing is written to it.
func TestCreateIsIdempotentAndForeignIsNotOwned(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1)
	op, err := e.client.Create(e.ctx, sg)
	e.do("Create", sg, op, err)
	e.sim.ResetCalls()
	if op, err := e.client.Create(e.ctx, sg); op != nil || err != nil {
		t.Errorf("Create again: %+v, %v", op, err)
	}
	if w := writes(e.sim.Calls()); len(w) != 0 {
		t.Errorf("Create again wrote %v", w)
	}

	other := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1)
	other.UID = "someone-else"
	e.sim.ResetCalls()
	_, err = e.client.Create(e.ctx, other)
	wantReason(t, "Create", err, cloud.NotOwned)
	_, err = e.client.UpdateCapacity(e.ctx, other, v1alpha1.Capacity{Max: 3, Desired: 3})
	wantReason(t, "UpdateCapacity", err, cloud.NotOwned)
	_, err = e.client.SetTraffic(e.ctx, other, v1alpha1.TrafficDisabled)
	wantReason(t, "SetTraffic", err, cloud.NotOwned)
	_, _, err = e.client.Delete(e.ctx, other)
	wantReason(t, "Delete", err, cloud.NotOwned)
	_, err = e.client.Adopt(e.ctx, other)
	wantReason(t, "Adopt", err, cloud.NotOwned)
	if w := writes(e.sim.Calls()); len(w) != 0 {
		t.Errorf("writes to a scale set that is not the ServerGroup's: %v", w)
	}
}

// An operation that ends Failed is done, with the cloud's error; throttling with Retry-After is waited
// out by the SDK; a 409 conflict is a retryable error.
func TestFaults(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1)
	e.sim.Inject(azuresimFault("VirtualMachineScaleSets.CreateOrUpdate", 0, "AllocationFailed", true))
	op, err := e.client.Create(e.ctx, sg)
	if err != nil {
		t.Fatal(err)
	}
	err = e.finish(sg, op)
	if err == nil || !strings.Contains(err.Error(), "AllocationFailed") || !cloud.Retryable(err) {
		t.Errorf("failed operation: %v (reason %s)", err, cloud.ReasonOf(err))
	}

	e.sim.Inject(azuresimFault("VirtualMachineScaleSets.Update", 409, "", false))
	_, err = e.client.UpdateCapacity(e.ctx, sg, v1alpha1.Capacity{Max: 4, Desired: 4})
	if err == nil || !cloud.Retryable(err) {
		t.Errorf("409: %v", err)
	}

	f := azuresimFault("VirtualMachineScaleSets.Get", 429, "", false)
	f.RetryAfter = time.Second
	e.sim.Inject(f)
	start := time.Now()
	if o := e.observe(sg); !o.Exists {
		t.Errorf("observation after a 429: %+v", o)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("the retry came %v after a 429 with Retry-After: 1", d)
	}
	if n := e.sim.Calls()["VirtualMachineScaleSets.Get"]; n < 2 {
		t.Errorf("%d gets: the 429 was not retried", n)
	}
}

// A refused client secret is one line naming Entra's error, not the request and response dump.
func TestRefusedSecretIsOneLine(t *testing.T) {
	e := newEnv(t)
	c := e.connect(account(e.srv.URL), cloud.NewCredentials([]byte(wrongSecret)))
	_, err := c.Verify(e.ctx)
	wantReason(t, "Verify", err, cloud.AccessDenied)
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "invalid_client") || strings.Contains(msg, wrongSecret) {
		t.Errorf("message %q", msg)
	}
}

// A Workload account uses Azure workload identity: the federated token file is exchanged for a token.
func TestWorkloadIdentity(t *testing.T) {
	e := newEnv(t)
	file := t.TempDir() + "/token"
	if err := os.WriteFile(file, []byte("federated-jwt"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", file)
	acct := account(e.srv.URL)
	acct.Spec.Credentials = v1alpha1.Credentials{Source: v1alpha1.CredentialSourceWorkload}
	c := e.connect(acct, cloud.Credentials{})
	_, err := c.Verify(e.ctx)
	wantReason(t, "Verify without a federated identity", err, cloud.AccessDenied)

	sim := azuresimNew(e, map[string]string{clientID: "federated-jwt"})
	c = e.connectTo(sim, acct)
	if _, err := c.Verify(e.ctx); err != nil {
		t.Fatalf("Verify with workload identity: %v", err)
	}
}

// A scale set left by an earlier ServerGroup of the same namespace and name is adopted when asked: its
// owner tags are rewritten in one PATCH, its capacity bounds kept.
func TestAdopt(t *testing.T) {
	e := newEnv(t)
	old := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 2)
	old.UID = "uid-earlier"
	op, err := e.client.Create(e.ctx, old)
	e.do("Create", old, op, err)

	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 2)
	if _, err := e.client.Adopt(e.ctx, sg); cloud.ReasonOf(err) != cloud.NotOwned {
		t.Fatalf("Adopt without the annotation: %v", err)
	}
	sg.Annotations = map[string]string{v1alpha1.AnnotationAdopt: sg.Name}
	e.sim.ResetCalls()
	op, err = e.client.Adopt(e.ctx, sg)
	e.do("Adopt", sg, op, err)
	if w := writes(e.sim.Calls()); !maps.Equal(w, map[string]int{"VirtualMachineScaleSets.Update": 1}) {
		t.Errorf("Adopt wrote %v", w)
	}
	o := e.observe(sg)
	if o.Owner != cloud.OwnerOf(sg) || o.Capacity != old.Spec.Capacity {
		t.Errorf("after Adopt: owner %v, capacity %+v", o.Owner, o.Capacity)
	}
	if op, err := e.client.Adopt(e.ctx, sg); op != nil || err != nil {
		t.Errorf("Adopt of a scale set that is the ServerGroup's already: %+v, %v", op, err)
	}
}
