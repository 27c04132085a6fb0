package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
	"github.com/gennaker/gennaker/test/testenv"
)

// TestSlowWebhookHoldsNoWorker runs the manager with a single Execution worker while three runs call a
// webhook that hangs for minutes. Twenty other runs, each waiting on a manual judgment and then calling a
// fast webhook, are approved and all finish while the three calls are still hanging: no reconcile waited on
// the slow remote. The hanging stages say whom they call, with the URL shortened.
func TestSlowWebhookHoldsNoWorker(t *testing.T) {
	g := testenv.NewWithT(t)
	const hangFor = 5 * time.Minute
	release := make(chan struct{})
	var hanging atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hanging.Add(1)
		defer hanging.Add(-1)
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(hangFor):
		}
		w.WriteHeader(204)
	}))
	// Cleanups run last in, first out: the release comes before the server waits for its handlers.
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	t.Cleanup(fast.Close)

	ns := env.Namespace(t)
	// The calls' deadline is past the hang, so that the slow calls still hang when the last judged run is
	// done, however slow this machine is.
	env.StartManagerWith(t, testenv.Manager{Controllers: controllers.Options{ExecutionWorkers: 1, WebhookTimeout: hangFor + time.Minute}})
	apply(t, ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: slow}
spec:
  application: shop
  limitConcurrent: false
  stages:
  - {name: notify, webhook: {url: "%s/hang/T000/B000/XXXX?token=s3cret"}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: judged}
spec:
  application: shop
  limitConcurrent: false
  stages:
  - {name: go-no-go, manualJudgment: {instructions: "ship it?"}}
  - {name: notify, dependsOn: [go-no-go], webhook: {url: "%s/done"}}
`, slow.URL, fast.URL))

	const slowRuns, judgedRuns = 3, 20
	for i := range slowRuns {
		run(t, ns, fmt.Sprintf("slow-%d", i), "slow", nil)
	}
	g.Eventually(hanging.Load).Should(BeEquivalentTo(slowRuns))
	for i := range slowRuns {
		ex := waitStagePhase(g, ns, fmt.Sprintf("slow-%d", i), "notify", v1alpha1.StageRunning)
		st := stageOf(g, ex, "notify")
		g.Expect(st.Message).To(Equal("calling POST " + slow.URL + "/hang/…"))
		g.Expect(meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionAwaitingResponse)).To(BeTrue())
	}

	for i := range judgedRuns {
		run(t, ns, fmt.Sprintf("judged-%d", i), "judged", nil)
	}
	for i := range judgedRuns {
		name := fmt.Sprintf("judged-%d", i)
		waitStagePhase(g, ns, name, "go-no-go", v1alpha1.StageWaitingForJudgment)
		ex := &v1alpha1.Execution{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		g.Expect(env.Client.Patch(context.Background(), ex, client.RawPatch(types.MergePatchType,
			[]byte(`{"spec":{"judgments":{"go-no-go":{"decision":"Continue"}}}}`)))).To(Succeed())
	}
	g.Eventually(func(g Gomega) {
		for i := range judgedRuns {
			ex := execution(g, ns, fmt.Sprintf("judged-%d", i))
			g.Expect(ex.Status.Phase).To(Equal(v1alpha1.ExecutionSucceeded), "%s: %v", ex.Name, phases(ex))
		}
	}).Should(Succeed())
	g.Expect(hanging.Load()).To(BeEquivalentTo(slowRuns), "the slow calls are still hanging")
	for i := range slowRuns {
		g.Expect(execution(g, ns, fmt.Sprintf("slow-%d", i)).Status.Phase).To(Equal(v1alpha1.ExecutionRunning))
	}
}

// TestWebhookTimeoutOption: the manager's webhook timeout is each request's deadline; a call that hangs
// past it fails its stage, saying so.
func TestWebhookTimeoutOption(t *testing.T) {
	g := testenv.NewWithT(t)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })

	ns := env.Namespace(t)
	env.StartManagerWith(t, testenv.Manager{Controllers: controllers.Options{WebhookTimeout: time.Second}})
	apply(t, ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: hang}
spec:
  application: shop
  stages:
  - {name: notify, webhook: {url: "%s/hook"}}
`, hang.URL))
	run(t, ns, "hang-1", "hang", nil)
	ex := waitPhase(g, ns, "hang-1", v1alpha1.ExecutionFailed)
	g.Expect(stageOf(g, ex, "notify").Message).To(Equal("POST " + hang.URL + "/hook failed: no response within 1s"))
}

// TestWebhookSecretHeaders sends a header read from a Secret of the run's namespace; it appears nowhere
// in the Execution's status or Events, and the URL's token-bearing path and query appear in no stage status
// or Event, which show the URL shortened. A run whose Secret is missing fails, naming the field and the Secret.
func TestWebhookSecretHeaders(t *testing.T) {
	g := testenv.NewWithT(t)
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok": true}`)
	}))
	t.Cleanup(srv.Close)

	ns := setup(t)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook-token"},
		StringData: map[string]string{"token": "Bearer t0ps3cret-value"}}
	g.Expect(env.Client.Create(context.Background(), secret)).To(Succeed())
	pipeline := func(name, secretName string) string {
		return fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: %s}
spec:
  application: shop
  stages:
  - name: notify
    webhook:
      url: "%s/services/T000/B000/XXXX?token=query-s3cret"
      headers: {X-Run: "${ execution.name }"}
      headersFrom:
      - {name: Authorization, valueFrom: {secretKeyRef: {name: %s, key: token}}}
`, name, srv.URL, secretName)
	}
	apply(t, ns, pipeline("notify", "hook-token")+"---"+pipeline("missing", "no-such-secret"))
	run(t, ns, "notify-1", "notify", nil)
	run(t, ns, "missing-1", "missing", nil)

	ex := waitPhase(g, ns, "notify-1", v1alpha1.ExecutionSucceeded)
	g.Expect(stageOf(g, ex, "notify").Message).To(Equal("POST " + srv.URL + "/services/… returned 200"))
	mu.Lock()
	g.Expect(auth).To(Equal([]string{"Bearer t0ps3cret-value"}))
	mu.Unlock()

	failed := waitPhase(g, ns, "missing-1", v1alpha1.ExecutionFailed)
	g.Expect(stageOf(g, failed, "notify").Message).To(Equal(
		"webhook.headersFrom[0].valueFrom.secretKeyRef: Secret " + ns + "/no-such-secret not found"))

	secrets := []string{"t0ps3cret", "query-s3cret", "T000", "B000", "XXXX"}
	var notes []string
	g.Eventually(func(g Gomega) {
		notes = nil
		for _, name := range []string{"notify-1", "missing-1"} {
			for _, e := range events(g, ns, name) {
				notes = append(notes, e.Note)
			}
		}
		g.Expect(notes).To(ContainElement(ContainSubstring("POST " + srv.URL + "/services/… returned 200")))
		g.Expect(notes).To(ContainElement(ContainSubstring("Secret " + ns + "/no-such-secret not found")))
	}).Should(Succeed())
	for _, e := range []*v1alpha1.Execution{ex, failed} {
		status, err := json.Marshal(e.Status)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(status)).NotTo(ContainSubstring("t0ps3cret"), "status of %s", e.Name)
		// The URL as the pipeline wrote it is frozen into status.pipelineSpec with the rest of the spec;
		// what the stage reports of it is shortened.
		reported, err := json.Marshal(e.Status.Stages)
		g.Expect(err).NotTo(HaveOccurred())
		for _, s := range secrets {
			g.Expect(string(reported)).NotTo(ContainSubstring(s), "stages of %s", e.Name)
		}
	}
	for _, n := range notes {
		for _, s := range secrets {
			g.Expect(n).NotTo(ContainSubstring(s))
		}
	}
}

// TestWebhookCalledOnceThroughLostWrites loses every other status write of the Executions while runs call
// a webhook that answers with a body far over maxBodyBytes. Each run's call is made exactly once, its
// answer is recorded though the writes after it were lost, and the body is left out of the outputs with
// the stage saying so.
func TestWebhookCalledOnceThroughLostWrites(t *testing.T) {
	g := testenv.NewWithT(t)
	var mu sync.Mutex
	calls := map[string]int{}
	big := strings.Repeat("x", 4<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.Header.Get("Idempotency-Key")]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"blob": %q}`, big)
	}))
	t.Cleanup(srv.Close)

	ns := env.Namespace(t)
	lossy := &losingWrites{resource: "executions", every: 2}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { lossy.next = rt; return lossy })
	env.StartManagerWithConfig(t, cfg)
	apply(t, ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: big}
spec:
  application: shop
  limitConcurrent: false
  stages:
  - {name: notify, webhook: {url: "%s/hook", maxBodyBytes: 1024}}
  - {name: after, dependsOn: [notify], checkPreconditions: {expressions: ["stages.notify.outputs.statusCode == 200"]}}
`, srv.URL))
	const runs = 4
	for i := range runs {
		run(t, ns, fmt.Sprintf("big-%d", i), "big", nil)
	}
	for i := range runs {
		ex := waitPhase(g, ns, fmt.Sprintf("big-%d", i), v1alpha1.ExecutionSucceeded)
		st := stageOf(g, ex, "notify")
		g.Expect(st.Message).To(Equal("POST " + srv.URL + "/hook returned 200 (response body over maxBodyBytes, 1024, not kept in outputs.body)"))
		g.Expect(st.Outputs).NotTo(HaveKey("body"))
	}
	g.Expect(lossy.lost.Load()).To(BeNumerically(">=", runs), "writes were lost")
	mu.Lock()
	defer mu.Unlock()
	g.Expect(calls).To(HaveLen(runs))
	for key, n := range calls {
		g.Expect(n).To(Equal(1), "calls with idempotency key %s", key)
	}
}
