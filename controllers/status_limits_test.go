package controllers_test

import (
	"bytes"
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

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/test/testenv"
)

// TestOversizedWebhookOutputFailsTheRunOnce: webhook stages whose kept response bodies would make the
// run's status too big fail the run with a message saying so, and each webhook is called exactly once:
// the run does not retry a status write the API server would refuse, calling the webhooks again each
// time. The bodies are within maxBodyBytes, of characters JSON escapes six times over.
//   - one stage whose call's and poll's bodies together exceed what a stage may keep: that stage fails;
//   - two stages, each within its own budget, that together exceed the run's: the run fails with a
//     smaller status write.
func TestOversizedWebhookOutputFailsTheRunOnce(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, strings.Repeat("\x01", 80_000)) // 480,000 bytes as JSON
	}))
	t.Cleanup(srv.Close)
	counts := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range calls {
			out[k] = v
		}
		return out
	}
	apply(t, ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: polled}
spec:
  application: shop
  stages:
  - name: hook
    webhook:
      url: %[1]s/start
      keepBody: true
      maxBodyBytes: 262144
      waitForCompletion: {statusURL: "%[1]s/status", successExpression: "true", pollInterval: 1s}
  - {name: after, dependsOn: [hook], wait: {duration: 0s}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: wide}
spec:
  application: shop
  stages:
  - {name: left, webhook: {url: "%[1]s/left", keepBody: true, maxBodyBytes: 262144}}
  - {name: right, webhook: {url: "%[1]s/right", keepBody: true, maxBodyBytes: 262144}}
  - {name: more, webhook: {url: "%[1]s/more", keepBody: true, maxBodyBytes: 262144}}
`, srv.URL))

	run(t, ns, "polled-1", "polled", nil)
	ex := waitPhase(g, ns, "polled-1", v1alpha1.ExecutionFailed)
	hook := stageOf(g, ex, "hook")
	g.Expect(hook.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(hook.Message).To(MatchRegexp(fmt.Sprintf(`^its outputs are \d+ bytes, more than the %d a stage may keep in the run's status$`, engine.MaxStageOutputBytes)))
	g.Expect(hook.Outputs).To(BeEmpty())
	g.Expect(stageOf(g, ex, "after").Phase).To(Equal(v1alpha1.StageNotStarted))
	g.Expect(condition(ex, v1alpha1.ConditionSucceeded).Message).To(HavePrefix("stage hook failed: its outputs are"))

	run(t, ns, "wide-1", "wide", nil)
	ex = waitPhase(g, ns, "wide-1", v1alpha1.ExecutionFailed)
	g.Expect(condition(ex, v1alpha1.ConditionSucceeded).Message).To(MatchRegexp(`^the run's status would be \d+ bytes, more than the 1048576 it may have$`))
	g.Consistently(counts, "3s").Should(Equal(map[string]int{"/start": 1, "/status": 1, "/left": 1, "/right": 1, "/more": 1}),
		"a webhook was called again")
}

// refusingWrites answers a status write of an Execution that carries mark as etcd answers an object over
// its limit.
type refusingWrites struct {
	mark    string
	next    http.RoundTripper
	refused atomic.Int32
}

func (f *refusingWrites) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/executions/") && strings.HasSuffix(r.URL.Path, "/status") && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte(f.mark)) {
			f.refused.Add(1)
			return &http.Response{
				StatusCode: http.StatusInternalServerError,
				Header:     http.Header{"Content-Type": {"application/json"}},
				Body:       io.NopCloser(strings.NewReader(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcdserver: request is too large","code":500}`)),
				Request:    r,
			}, nil
		}
	}
	return f.next.RoundTrip(r)
}

// TestRefusedStatusWriteFailsTheRunOnce: a status write the API server refuses for its size (etcd's
// "request is too large") fails the run with that message, in a smaller write, instead of being retried
// forever; the webhook whose answer made the status refused is called once.
func TestRefusedStatusWriteFailsTheRunOnce(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	refusing := &refusingWrites{mark: "answer-etcd-refuses"}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { refusing.next = rt; return refusing })
	env.StartManagerWithConfig(t, cfg)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"note": "answer-etcd-refuses"}`)
	}))
	t.Cleanup(srv.Close)
	apply(t, ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: refused}
spec:
  application: shop
  stages:
  - {name: hook, webhook: {url: "%s/report"}}
`, srv.URL))
	run(t, ns, "refused-1", "refused", nil)

	ex := waitPhase(g, ns, "refused-1", v1alpha1.ExecutionFailed)
	g.Expect(condition(ex, v1alpha1.ConditionSucceeded).Message).To(HavePrefix("the API server refused the run's status: "))
	g.Expect(condition(ex, v1alpha1.ConditionSucceeded).Message).To(ContainSubstring("etcdserver: request is too large"))
	g.Consistently(calls.Load, "3s").Should(Equal(int32(1)), "the webhook was called again")
	g.Expect(refusing.refused.Load()).To(Equal(int32(1)), "the refused write was retried")
}

// TestManyLongJudgmentsStayWithinStatusLimits: parallel judgments with instructions at their limit wait
// as any judgment does; the run's status.message, which repeats what waits, is shortened like every
// other message of its status rather than grow until the API server refuses the run's status.
func TestManyLongJudgmentsStayWithinStatusLimits(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	var stages strings.Builder
	for i := range 10 {
		fmt.Fprintf(&stages, "  - name: judge-%d\n    manualJudgment: {instructions: %q}\n", i, strings.Repeat("check the dashboards ", 195))
	}
	apply(t, ns, "apiVersion: delivery.gennaker.io/v1alpha1\nkind: Pipeline\nmetadata: {name: gates}\nspec:\n  application: shop\n  stages:\n"+stages.String())
	run(t, ns, "gates-1", "gates", nil)
	g.Eventually(func(g Gomega) {
		ex := execution(g, ns, "gates-1")
		g.Expect(ex.Status.Phase).To(Equal(v1alpha1.ExecutionAwaitingJudgment))
		g.Expect(ex.Status.AwaitingJudgment).To(ContainSubstring("judge-9"))
		g.Expect(len(ex.Status.Message)).To(BeNumerically("<=", 1024))
	}).Should(Succeed())
}
