package controllers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// TestRestartMidRun stops the manager while runs are in the middle of a wait, a judgment and a webhook
// being polled, changes things while it is down, and starts a fresh one: every run finishes, and no stage
// starts twice (the webhook's server counts the calls).
func TestRestartMidRun(t *testing.T) {
	g := testenv.NewWithT(t)
	var calls, polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Method {
		case http.MethodPost:
			calls.Add(1)
			fmt.Fprint(w, `{"id": "job-7"}`)
		default:
			state := "running"
			if polls.Add(1) >= 4 {
				state = "done"
			}
			fmt.Fprintf(w, `{"state": %q}`, state)
		}
	}))
	defer srv.Close()

	ns := env.Namespace(t)
	stop := env.StartManager(t)
	apply(t, ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: waiting}
spec:
  application: shop
  stages:
  - {name: soak, wait: {duration: 4s}}
  - {name: after, dependsOn: [soak], wait: {duration: 0s}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: judged}
spec:
  application: shop
  stages:
  - {name: go-no-go, manualJudgment: {instructions: "ship it?"}}
  - {name: after, dependsOn: [go-no-go], wait: {duration: 0s}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: hooked}
spec:
  application: shop
  stages:
  - name: job
    webhook:
      url: %[1]s/jobs
      body: '{"run": "${ execution.name }"}'
      waitForCompletion:
        statusURL: '%[1]s/jobs/${ response.body.id }'
        successExpression: "response.body.state == 'done'"
        pollInterval: 1s
  - {name: after, dependsOn: [job], wait: {duration: 0s}}
`, srv.URL))
	run(t, ns, "waiting", "waiting", nil)
	run(t, ns, "judged", "judged", nil)
	run(t, ns, "hooked", "hooked", nil)

	soak := stageOf(g, waitStagePhase(g, ns, "waiting", "soak", v1alpha1.StageRunning), "soak")
	waitStagePhase(g, ns, "judged", "go-no-go", v1alpha1.StageWaitingForJudgment)
	g.Eventually(polls.Load).Should(BeNumerically(">=", 1), "the webhook is being polled")
	job := stageOf(g, execution(g, ns, "hooked"), "job")
	g.Expect(job.Phase).To(Equal(v1alpha1.StageRunning))
	stop()

	// While no controller runs, a person approves.
	patch(t, ns, "judged", `{"spec":{"judgments":{"go-no-go":{"decision":"Continue"}}}}`)

	env.StartManager(t)
	for _, name := range []string{"waiting", "judged", "hooked"} {
		waitPhase(g, ns, name, v1alpha1.ExecutionSucceeded)
	}
	g.Expect(calls.Load()).To(Equal(int32(1)), "the webhook was called once")
	// Polling went on from where the status says it was: a poll answered while the manager stopped, before
	// its answer was written, is made again (a GET; the README says so), and none other.
	g.Expect(polls.Load()).To(BeNumerically("~", 4, 1), "polling went on from where it was")
	// The stages that were under way kept their start: they were resumed, not started again.
	g.Expect(stageOf(g, execution(g, ns, "waiting"), "soak").StartTime).To(Equal(soak.StartTime))
	g.Expect(stageOf(g, execution(g, ns, "hooked"), "job").StartTime).To(Equal(job.StartTime))
}
