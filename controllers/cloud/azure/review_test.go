package azure_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
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
