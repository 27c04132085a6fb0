package controllers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/gomega"

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
