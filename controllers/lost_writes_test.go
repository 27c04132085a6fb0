package controllers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// losingWrites fails every n-th status write of one resource (executions, servergroups) before it
// reaches the API server, as a controller killed after it did the work and before it recorded it would.
type losingWrites struct {
	resource string
	every    int64
	next     http.RoundTripper
	n        atomic.Int64
	lost     atomic.Int64
}

func (l *losingWrites) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/"+l.resource+"/") && strings.HasSuffix(r.URL.Path, "/status") &&
		l.n.Add(1)%l.every == 0 {
		l.lost.Add(1)
		return &http.Response{
			StatusCode: http.StatusInternalServerError,
			Header:     http.Header{"Content-Type": {"application/json"}},
			Body:       io.NopCloser(strings.NewReader(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"lost by the test","code":500}`)),
			Request:    r,
		}, nil
	}
	return l.next.RoundTrip(r)
}

// TestLostStatusWrites runs pipelines with a child pipeline, a judgment and a polled webhook while a third
// of the controller's status writes are lost after the work behind them was done. Every run still
// succeeds, every parent has exactly one child, and each run's webhook calls carry one idempotency key.
func TestLostStatusWrites(t *testing.T) {
	g := testenv.NewWithT(t)
	var mu sync.Mutex
	keys := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			mu.Lock()
			keys[r.Header.Get("Idempotency-Key")]++
			mu.Unlock()
			fmt.Fprint(w, `{"id": "7"}`)
			return
		}
		fmt.Fprint(w, `{"state": "done"}`)
	}))
	defer srv.Close()

	ns := env.Namespace(t)
	lossy := &losingWrites{resource: "executions", every: 3}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { lossy.next = rt; return lossy })
	env.StartManagerWithConfig(t, cfg)
	apply(t, ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: child}
spec:
  application: shop
  limitConcurrent: false
  stages: [{name: pause, wait: {duration: 1s}}]
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: parent}
spec:
  application: shop
  limitConcurrent: false
  stages:
  - {name: start, wait: {duration: 0s}}
  - {name: child, dependsOn: [start], pipeline: {name: child}}
  - {name: gate, dependsOn: [child], manualJudgment: {inputs: [ship]}}
  - name: hook
    dependsOn: [gate]
    webhook:
      url: %[1]s/jobs
      waitForCompletion: {statusURL: '%[1]s/jobs/${ response.body.id }', successExpression: "response.body.state == 'done'", pollInterval: 1s}
  - name: check
    dependsOn: [hook]
    checkPreconditions: {expressions: ["stages['gate'].outputs.input == 'ship' && stages['hook'].outputs.body.id == '7'"]}
`, srv.URL))
	const runs = 5
	for i := range runs {
		ex := &v1alpha1.Execution{}
		ex.Namespace, ex.Name, ex.Spec.Pipeline = ns, fmt.Sprintf("run-%d", i), "parent"
		ex.Spec.Judgments = map[string]v1alpha1.Judgment{"gate": {Decision: v1alpha1.DecisionContinue, Input: "ship"}}
		g.Expect(env.Client.Create(context.Background(), ex)).To(Succeed())
	}
	for i := range runs {
		waitPhase(g, ns, fmt.Sprintf("run-%d", i), v1alpha1.ExecutionSucceeded)
	}
	g.Expect(lossy.lost.Load()).To(BeNumerically(">=", runs), "writes were lost")

	var all v1alpha1.ExecutionList
	g.Expect(env.Client.List(context.Background(), &all, client.InNamespace(ns))).To(Succeed())
	children := map[string]int{}
	for _, ex := range all.Items {
		if p := ex.Annotations[v1alpha1.AnnotationParentExecution]; p != "" {
			children[p]++
		}
	}
	g.Expect(children).To(HaveLen(runs))
	for parent, n := range children {
		g.Expect(n).To(Equal(1), "children of %s", parent)
	}
	mu.Lock()
	defer mu.Unlock()
	g.Expect(keys).To(HaveLen(runs), "one idempotency key per run, whatever the retries: %v", keys)
	t.Logf("%d status writes lost; webhook calls by idempotency key: %v", lossy.lost.Load(), keys)
}
