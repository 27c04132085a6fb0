package stages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/controllers/engine/expr"
	"github.com/gennaker/gennaker/controllers/remote"
)

var webhookT0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// receiver is a webhook receiver that records what it was sent and answers with reply, given the 0-based
// number of the request.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

type received struct {
	Method, Path, RawQuery, Body string
	Header                       http.Header
}

func newRemote(t *testing.T, reply func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rm := &receiver{}
	rm.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rm.mu.Lock()
		n := len(rm.reqs)
		rm.reqs = append(rm.reqs, received{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Body: string(body), Header: r.Header.Clone()})
		rm.mu.Unlock()
		reply(n, w, r)
	}))
	t.Cleanup(rm.Close)
	return rm
}

func (rm *receiver) received() []received {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return append([]received(nil), rm.reqs...)
}

// reply replies with a status and a JSON body.
func reply(status int, body string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// webhookRun is a webhook stage of a run just set Running by the engine, with the Vars the engine gives it.
func webhookRun(wh *v1alpha1.WebhookStage) *engine.StageRun {
	ex := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-x7k2p", Namespace: "shop", UID: "0b6f-uid"},
		Spec:       v1alpha1.ExecutionSpec{Pipeline: "demo"},
		Status: v1alpha1.ExecutionStatus{
			Phase:      v1alpha1.ExecutionRunning,
			Parameters: map[string]string{"image": "ami-0abc", "env": "prod", "token": "s3cret-param"},
		},
	}
	start := metav1.NewTime(webhookT0)
	return &engine.StageRun{
		Spec:      &v1alpha1.Stage{Name: "notify", StageType: v1alpha1.StageType{Webhook: wh}},
		Status:    &v1alpha1.StageStatus{Name: "notify", Type: "webhook", Phase: v1alpha1.StageRunning, StartTime: &start},
		Execution: ex,
		Now:       webhookT0,
		Vars:      engine.Vars(ex),
	}
}

// hook is the webhook stage type under test, with Calls of its own whose answers wake woken.
type hook struct {
	Webhook
	woken chan types.NamespacedName
}

func newHook(o remote.Options[*answer]) *hook {
	h := &hook{woken: make(chan types.NamespacedName, 64)}
	o.Wake = func(_ context.Context, owner types.NamespacedName) { h.woken <- owner }
	h.Webhook = Webhook{Calls: remote.New(o)}
	return h
}

// start starts the stage as the engine would, and records the answer once it is in.
func start(t *testing.T, run *engine.StageRun) *hook {
	h := newHook(remote.Options[*answer]{})
	NewWithT(t).Expect(h.Start(context.Background(), run)).To(Succeed())
	h.settle(NewWithT(t), run)
	return h
}

// settle waits, while the stage awaits an answer, for the wake-up it brings, and checks the stage then.
func (h *hook) settle(g Gomega, run *engine.StageRun) {
	for awaiting(run) {
		g.ExpectWithOffset(1, run.Status.Phase).To(Equal(v1alpha1.StageRunning))
		g.EventuallyWithOffset(1, h.woken, "10s").Should(Receive(Equal(types.NamespacedName{Namespace: "shop", Name: "demo-x7k2p"})))
		g.ExpectWithOffset(1, h.Check(context.Background(), run)).To(Succeed())
	}
}

func awaiting(run *engine.StageRun) bool {
	return meta.IsStatusConditionTrue(run.Status.Conditions, v1alpha1.ConditionAwaitingResponse)
}

func output(g Gomega, s *engine.StageRun, key string) any {
	raw, ok := s.Status.Outputs[key]
	g.ExpectWithOffset(1, ok).To(BeTrue(), "output %s", key)
	var v any
	g.ExpectWithOffset(1, json.Unmarshal(raw.Raw, &v)).To(Succeed())
	return v
}

func TestWebhookSendsRenderedCall(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, reply(200, `{}`))
	run := webhookRun(&v1alpha1.WebhookStage{
		URL:     rm.URL + "/deploy/${ parameters.image }?env=${ parameters.env }",
		Headers: map[string]string{"X-Token": "${ parameters.token }", "X-Run": "${ execution.namespace }/${ execution.name }"},
		Body:    `{"image": "${ parameters.image }"}`,
	})

	start(t, run)

	reqs := rm.received()
	g.Expect(reqs).To(HaveLen(1))
	r := reqs[0]
	g.Expect(r.Method).To(Equal("POST"), "POST when method is empty")
	g.Expect(r.Path).To(Equal("/deploy/ami-0abc"))
	g.Expect(r.RawQuery).To(Equal("env=prod"))
	g.Expect(r.Body).To(Equal(`{"image": "ami-0abc"}`))
	g.Expect(r.Header.Get("X-Token")).To(Equal("s3cret-param"))
	g.Expect(r.Header.Get("X-Run")).To(Equal("shop/demo-x7k2p"))
	g.Expect(r.Header.Get("Content-Type")).To(Equal("application/json"), "default content type with a body")
	g.Expect(r.Header.Get("Idempotency-Key")).To(Equal("0b6f-uid/notify"))

	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageSucceeded))
	g.Expect(run.Status.Message).To(Equal("POST "+rm.URL+"/deploy/… returned 200"), "the URL shortened")
	g.Expect(output(g, run, "statusCode")).To(BeEquivalentTo(200))
}

func TestWebhookPipelineHeadersWin(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, reply(200, `{}`))
	run := webhookRun(&v1alpha1.WebhookStage{
		URL:     rm.URL,
		Method:  "PUT",
		Headers: map[string]string{"content-type": "text/plain", "Idempotency-Key": "mine"},
		Body:    "hello",
	})
	start(t, run)
	r := rm.received()[0]
	g.Expect(r.Method).To(Equal("PUT"))
	g.Expect(r.Header.Get("Content-Type")).To(Equal("text/plain"))
	g.Expect(r.Header.Get("Idempotency-Key")).To(Equal("mine"))

	// No body, no content type.
	run = webhookRun(&v1alpha1.WebhookStage{URL: rm.URL, Method: "DELETE"})
	start(t, run)
	r = rm.received()[1]
	g.Expect(r.Method).To(Equal("DELETE"))
	g.Expect(r.Header.Values("Content-Type")).To(BeEmpty())
	g.Expect(r.Header.Get("Idempotency-Key")).To(Equal("0b6f-uid/notify"))
}

func TestWebhookSuccessStatuses(t *testing.T) {
	tests := map[string]struct {
		successStatuses []int32
		status          int
		wantPhase       v1alpha1.StagePhase
		wantMessage     string // suffix after "POST <url> "
	}{
		"any 2xx by default":       {status: 204, wantPhase: v1alpha1.StageSucceeded, wantMessage: "returned 204"},
		"listed status":            {successStatuses: []int32{201}, status: 201, wantPhase: v1alpha1.StageSucceeded, wantMessage: "returned 201"},
		"2xx not listed":           {successStatuses: []int32{201, 202}, status: 200, wantPhase: v1alpha1.StageFailed, wantMessage: "returned 200, not one of the success statuses 201, 202"},
		"500":                      {status: 500, wantPhase: v1alpha1.StageFailed, wantMessage: "returned 500, not one of the success statuses 2xx"},
		"redirect is not followed": {status: 302, wantPhase: v1alpha1.StageFailed, wantMessage: "returned 302, not one of the success statuses 2xx"},
		"redirect when listed":     {successStatuses: []int32{302}, status: 302, wantPhase: v1alpha1.StageSucceeded, wantMessage: "returned 302"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			target := newRemote(t, reply(200, `{}`))
			rm := newRemote(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Location", target.URL)
				w.WriteHeader(tc.status)
			})
			run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL + "/hook", SuccessStatuses: tc.successStatuses})
			start(t, run)
			g.Expect(run.Status.Phase).To(Equal(tc.wantPhase))
			g.Expect(run.Status.Message).To(Equal("POST " + rm.URL + "/hook " + tc.wantMessage))
			g.Expect(output(g, run, "statusCode")).To(BeEquivalentTo(tc.status), "outputs are kept on failure too")
			g.Expect(target.received()).To(BeEmpty())
		})
	}
}

// Secrets reach the remote, never the stage's status: URL userinfo and query, header values.
func TestWebhookFailureMessagesHideSecrets(t *testing.T) {
	secrets := []string{"s3cret", "hunter2", "s3cret-param", "token="}
	rm := newRemote(t, reply(500, `{"error":"boom"}`))
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	hostOf := func(u string) string { return strings.TrimPrefix(u, "http://") }

	tests := map[string]struct {
		url         string
		wantMessage string
	}{
		"failure status": {
			url:         "http://admin:hunter2@" + hostOf(rm.URL) + "/hook?token=s3cret#frag",
			wantMessage: "POST " + rm.URL + "/hook?… returned 500, not one of the success statuses 2xx",
		},
		"connection refused": {
			url:         "http://admin:hunter2@" + hostOf(closed.URL) + "/hook?token=${ parameters.token }",
			wantMessage: "POST " + closed.URL + "/hook?… failed: ",
		},
		"not a URL": {
			url:         "http://bad host/?token=s3cret",
			wantMessage: "webhook.url: not a valid URL: ",
		},
		"not http": {
			url:         "ftp://admin:hunter2@example.com/?token=s3cret",
			wantMessage: "webhook.url: must be an absolute http or https URL",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			run := webhookRun(&v1alpha1.WebhookStage{URL: tc.url, Headers: map[string]string{"Authorization": "Bearer ${ parameters.token }"}})
			start(t, run)
			g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageFailed))
			g.Expect(run.Status.Message).To(HavePrefix(tc.wantMessage))
			status, err := json.Marshal(run.Status)
			g.Expect(err).NotTo(HaveOccurred())
			for _, s := range secrets {
				g.Expect(string(status)).NotTo(ContainSubstring(s))
			}
		})
	}
}

func TestWebhookRenderErrorNamesTheField(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, reply(200, `{}`))
	run := webhookRun(&v1alpha1.WebhookStage{
		URL:     rm.URL,
		Headers: map[string]string{"X-A": "fine", "X-Token": "${ stages['build'].outputs.token }"},
	})
	start(t, run)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(run.Status.Message).To(HavePrefix("webhook.headers.X-Token: "))
	g.Expect(rm.received()).To(BeEmpty())
}

// A parameter cannot take the call, and its headersFrom Secrets, to another host: the stage fails naming
// the field, and nothing is sent.
func TestWebhookValueCannotChangeTheHost(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, reply(200, `{}`))
	run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL + "${ parameters.p }"})
	run.Vars.Parameters["p"] = "@evil.com/x?"
	start(t, run)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(run.Status.Message).To(Equal(`webhook.url: ${ parameters.p }: a value inserted into a URL's scheme, host or port may not contain '@'`))
	g.Expect(rm.received()).To(BeEmpty())
}

func TestWebhookJSONResponseBecomesOutputs(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Set-Cookie", "session=s3cret")
		w.WriteHeader(201)
		fmt.Fprint(w, `{"id": "job-42", "build": 1234567890123, "ok": true, "tags": ["a", "b"]}`)
	})
	run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL})
	start(t, run)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageSucceeded))
	g.Expect(output(g, run, "body")).To(Equal(map[string]any{"id": "job-42", "build": float64(1234567890123), "ok": true, "tags": []any{"a", "b"}}))
	g.Expect(output(g, run, "headers")).To(Equal(map[string]any{"content-type": "application/json; charset=utf-8"}), "only the kept headers")

	// A later stage reads the outputs the way the engine gives them to expressions.
	run.Execution.Status.Stages = []v1alpha1.StageStatus{*run.Status}
	vars := engine.Vars(run.Execution)
	ok, err := func() (bool, error) {
		x, err := expr.CompileBool("stages['notify'].outputs.statusCode == 201 && stages['notify'].outputs.body.id == 'job-42' && stages.notify.outputs.body.tags[1] == 'b'")
		if err != nil {
			return false, err
		}
		return x.EvalBool(vars)
	}()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
}

func TestWebhookNonJSONResponseIsAString(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, `{"looks": "like json"}`)
	})
	run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL})
	start(t, run)
	g.Expect(output(g, run, "body")).To(Equal(`{"looks": "like json"}`))
}

func TestWebhookBodyLimits(t *testing.T) {
	tests := map[string]struct {
		body        string
		keepBody    *bool
		max         *int32
		wantKept    bool
		wantMessage string
	}{
		"small":                 {body: `"` + strings.Repeat("x", 100) + `"`, wantKept: true},
		"over the default":      {body: `"` + strings.Repeat("x", 40<<10) + `"`, wantMessage: "(response body over maxBodyBytes, 32768, not kept in outputs.body)"},
		"far over":              {body: `"` + strings.Repeat("x", 2<<20) + `"`, wantMessage: "(response body over maxBodyBytes, 32768, not kept in outputs.body)"},
		"within a larger limit": {body: `"` + strings.Repeat("x", 40<<10) + `"`, max: ptr.To[int32](64 << 10), wantKept: true},
		"over a smaller limit":  {body: `"` + strings.Repeat("x", 100) + `"`, max: ptr.To[int32](64), wantMessage: "(response body over maxBodyBytes, 64, not kept in outputs.body)"},
		"exactly the limit":     {body: `"` + strings.Repeat("x", 62) + `"`, max: ptr.To[int32](64), wantKept: true},
		"not kept":              {body: `{"id": 1}`, keepBody: ptr.To(false)},
		"escapes inflate it":    {body: strings.Repeat("\x01", 1000), max: ptr.To[int32](1000), wantMessage: "(response body not kept in outputs.body: 6002 bytes as JSON, over twice maxBodyBytes)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			rm := newRemote(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if strings.HasPrefix(tc.body, "\x01") {
					w.Header().Set("Content-Type", "text/plain")
				}
				fmt.Fprint(w, tc.body)
			})
			run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL, KeepBody: tc.keepBody, MaxBodyBytes: tc.max})
			start(t, run)
			g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageSucceeded))
			_, kept := run.Status.Outputs["body"]
			g.Expect(kept).To(Equal(tc.wantKept))
			want := " returned 200"
			if tc.wantMessage != "" {
				want += " " + tc.wantMessage
			}
			g.Expect(run.Status.Message).To(HaveSuffix(want))
			g.Expect(output(g, run, "statusCode")).To(BeEquivalentTo(200))
		})
	}
}

func TestWebhookTimeout(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, func(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL})
	h := newHook(remote.Options[*answer]{Timeout: 100 * time.Millisecond})
	g.Expect(h.Start(context.Background(), run)).To(Succeed())
	h.settle(g, run)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(run.Status.Message).To(Equal("POST " + rm.URL + " failed: no response within 100ms"))
}

// Start hands the call over and returns while the remote has not answered; the stage says whom it calls.
// The same Start again, as after a status write that was lost, makes no second call, and both take the
// one answer.
func TestWebhookStartDoesNotWaitForTheRemote(t *testing.T) {
	g := NewWithT(t)
	release := make(chan struct{})
	rm := newRemote(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		<-release
		w.WriteHeader(204)
	})
	run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL + "/services/T000/B000/XXXX?token=s3cret"})
	notStarted := run.Status.DeepCopy()
	h := newHook(remote.Options[*answer]{})

	g.Expect(h.Start(context.Background(), run)).To(Succeed())
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageRunning))
	g.Expect(run.Status.Message).To(Equal("calling POST " + rm.URL + "/services/…"))
	c := meta.FindStatusCondition(run.Status.Conditions, v1alpha1.ConditionAwaitingResponse)
	g.Expect(c).NotTo(BeNil())
	g.Expect(c.Reason).To(Equal("Call"))
	g.Expect(c.LastTransitionTime.Time).To(Equal(webhookT0))
	g.Eventually(rm.received).Should(HaveLen(1))

	// Nothing due while the remote hangs.
	before := run.Status.DeepCopy()
	run.Now = webhookT0.Add(time.Second)
	g.Expect(h.Check(context.Background(), run)).To(Succeed())
	g.Expect(run.Status).To(Equal(before))

	lost := webhookRun(run.Spec.Webhook)
	lost.Status = notStarted
	g.Expect(h.Start(context.Background(), lost)).To(Succeed())

	close(release)
	h.settle(g, run)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageSucceeded))
	g.Expect(run.Status.Message).To(Equal("POST " + rm.URL + "/services/… returned 204"))
	g.Expect(run.Status.Conditions).To(BeEmpty(), "the answer is recorded")
	g.Expect(h.Check(context.Background(), lost)).To(Succeed())
	g.Expect(lost.Status.Phase).To(Equal(v1alpha1.StageSucceeded))
	g.Expect(rm.received()).To(HaveLen(1))
}

// An operator that restarted knows nothing of the requests in flight: the status says one is awaited, and
// it is handed over again, with the same idempotency key for a call (at least once), and the same poll
// number for a poll.
func TestWebhookRestartHandsOverAgain(t *testing.T) {
	g := NewWithT(t)
	release := make(chan struct{})
	rm := newRemote(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			<-release // the first operator's call, never answered to it
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"state": "done"}`)
	})
	defer close(release)
	run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL, WaitForCompletion: &v1alpha1.WebhookCompletion{
		StatusURL: rm.URL + "/status", SuccessExpression: "response.body.state == 'done'"}})
	g.Expect(newHook(remote.Options[*answer]{}).Start(context.Background(), run)).To(Succeed())
	g.Eventually(rm.received).Should(HaveLen(1))

	restarted := newHook(remote.Options[*answer]{})
	g.Expect(restarted.Check(context.Background(), run)).To(Succeed())
	restarted.settle(g, run)
	g.Expect(run.Status.Message).To(HavePrefix("POST " + rm.URL + " returned 200; polling"))
	reqs := rm.received()
	g.Expect(reqs).To(HaveLen(2))
	g.Expect(reqs[1].Header.Get("Idempotency-Key")).To(Equal(reqs[0].Header.Get("Idempotency-Key")))

	run.Now = run.Status.NextCheckTime.Time
	g.Expect(restarted.Check(context.Background(), run)).To(Succeed())
	g.Expect(awaiting(run)).To(BeTrue())
	again := newHook(remote.Options[*answer]{})
	g.Expect(again.Check(context.Background(), run)).To(Succeed())
	again.settle(g, run)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageSucceeded))
	g.Expect(output(g, run, "polls")).To(BeEquivalentTo(1), "the poll handed over again is the same poll")
}

// An answer to the call that Calls drops before the run records it (the run was not reconciled within the
// answers' TTL) fails the stage rather than calling again; the condition goes with the failure.
func TestWebhookLostAnswerIsNotCalledAgain(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, reply(200, `{}`))
	run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL + "/services/T000/B000/XXXX"})
	clock := clocktesting.NewFakePassiveClock(webhookT0)
	h := newHook(remote.Options[*answer]{TTL: time.Minute, Clock: clock})
	g.Expect(h.Start(context.Background(), run)).To(Succeed())
	g.Eventually(h.woken, "10s").Should(Receive())

	clock.SetTime(webhookT0.Add(time.Minute))
	run.Now = webhookT0.Add(time.Minute)
	g.Expect(h.Check(context.Background(), run)).To(Succeed())
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(run.Status.Message).To(Equal("POST " + rm.URL + "/services/…: the answer was lost before it was recorded; not calling again"))
	g.Expect(awaiting(run)).To(BeFalse())
	g.Expect(run.Status.Conditions).To(BeEmpty())

	// A status write of that failure that is lost brings the stage back awaiting: still no second call.
	again := webhookRun(run.Spec.Webhook)
	g.Expect(h.Start(context.Background(), again)).To(Succeed())
	g.Expect(again.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(rm.received()).To(HaveLen(1))
}

// A remote cannot fill the operator's memory with headers: over 64 KiB of them fail the call.
func TestWebhookResponseHeadersAreBounded(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Big", strings.Repeat("x", 80<<10))
		w.WriteHeader(200)
	})
	run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL})
	h := newHook(remote.Options[*answer]{})
	h.HTTP = NewWebhookClient(nil)
	g.Expect(h.Start(context.Background(), run)).To(Succeed())
	h.settle(g, run)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(run.Status.Message).To(ContainSubstring("headers exceeded"))
}

// A stage that fails or times out while awaiting an answer no longer says it awaits one: not when the
// call handed over again after a restart cannot be rendered, nor when the engine's timeout ends it.
func TestWebhookFailedStageAwaitsNothing(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	rm := newRemote(t, func(_ int, w http.ResponseWriter, _ *http.Request) { <-release; w.WriteHeader(204) })

	t.Run("call not renderable after a restart", func(t *testing.T) {
		g := NewWithT(t)
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "hook-token"}, Data: map[string][]byte{"token": []byte("t0ps3cret")}}
		run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL, HeadersFrom: []v1alpha1.WebhookHeaderSource{
			{Name: "Authorization", ValueFrom: v1alpha1.HeaderValueSource{SecretKeyRef: v1alpha1.SecretKeySelector{Name: "hook-token", Key: "token"}}}}})
		h := newHook(remote.Options[*answer]{})
		h.Secrets = fake.NewClientBuilder().WithObjects(secret).Build()
		g.Expect(h.Start(context.Background(), run)).To(Succeed())
		g.Expect(awaiting(run)).To(BeTrue())

		restarted := newHook(remote.Options[*answer]{})
		restarted.Secrets = fake.NewClientBuilder().Build() // the Secret was deleted meanwhile
		g.Expect(restarted.Check(context.Background(), run)).To(Succeed())
		g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageFailed))
		g.Expect(run.Status.Message).To(Equal("webhook.headersFrom[0].valueFrom.secretKeyRef: Secret shop/hook-token not found"))
		g.Expect(run.Status.Conditions).To(BeEmpty())
	})

	t.Run("timed out", func(t *testing.T) {
		g := NewWithT(t)
		ex := &v1alpha1.Execution{
			ObjectMeta: metav1.ObjectMeta{Name: "demo-x7k2p", Namespace: "shop", UID: "0b6f-uid-2"},
			Spec:       v1alpha1.ExecutionSpec{Pipeline: "demo"},
			Status: v1alpha1.ExecutionStatus{
				Phase: v1alpha1.ExecutionRunning,
				PipelineSpec: &v1alpha1.PipelineSpec{Application: "shop", Stages: []v1alpha1.Stage{
					{Name: "notify", Timeout: "1s", StageType: v1alpha1.StageType{Webhook: &v1alpha1.WebhookStage{URL: rm.URL}}},
				}},
			},
		}
		engine.InitStages(ex)
		h := newHook(remote.Options[*answer]{})
		e := &engine.Engine{Stages: engine.Stages{"webhook": h.Webhook}}
		fresh := func(context.Context) error { return nil }
		g.Expect(e.Step(context.Background(), ex, webhookT0, fresh).Err).NotTo(HaveOccurred())
		g.Expect(meta.IsStatusConditionTrue(ex.Status.Stages[0].Conditions, v1alpha1.ConditionAwaitingResponse)).To(BeTrue())

		g.Expect(e.Step(context.Background(), ex, webhookT0.Add(2*time.Second), fresh).Err).NotTo(HaveOccurred())
		g.Expect(ex.Status.Stages[0].Phase).To(Equal(v1alpha1.StageFailed))
		g.Expect(ex.Status.Stages[0].Message).To(Equal("timed out after 1s"))
		g.Expect(ex.Status.Stages[0].Conditions).To(BeEmpty())
	})
}

// The engine's freshness check runs before the call: a stale cache makes no call, and the engine gets
// ErrStale back and leaves the stage as it was.
func TestWebhookStaleCacheMakesNoCall(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, reply(200, `{}`))
	ex := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-x7k2p", Namespace: "shop", UID: "0b6f-uid"},
		Spec:       v1alpha1.ExecutionSpec{Pipeline: "demo"},
		Status: v1alpha1.ExecutionStatus{
			Phase: v1alpha1.ExecutionRunning,
			PipelineSpec: &v1alpha1.PipelineSpec{Application: "shop", Stages: []v1alpha1.Stage{
				{Name: "notify", StageType: v1alpha1.StageType{Webhook: &v1alpha1.WebhookStage{URL: rm.URL}}},
			}},
		},
	}
	engine.InitStages(ex)
	h := newHook(remote.Options[*answer]{})
	e := &engine.Engine{Stages: engine.Stages{"webhook": h.Webhook}}
	stale := func(context.Context) error { return engine.ErrStale }

	res := e.Step(context.Background(), ex, webhookT0, stale)

	g.Expect(errors.Is(res.Err, engine.ErrStale)).To(BeTrue(), "%v", res.Err)
	g.Expect(rm.received()).To(BeEmpty())
	g.Expect(ex.Status.Stages[0].Phase).To(Equal(v1alpha1.StageNotStarted))

	fresh := func(context.Context) error { return nil }
	res = e.Step(context.Background(), ex, webhookT0, fresh)
	g.Expect(res.Err).NotTo(HaveOccurred())
	g.Expect(ex.Status.Stages[0].Phase).To(Equal(v1alpha1.StageRunning))
	g.Eventually(h.woken).Should(Receive())
	res = e.Step(context.Background(), ex, webhookT0, fresh)
	g.Expect(res.Err).NotTo(HaveOccurred())
	g.Expect(rm.received()).To(HaveLen(1))
	g.Expect(ex.Status.Stages[0].Phase).To(Equal(v1alpha1.StageSucceeded))
}

// pollUntil runs Check at each NextCheckTime until the stage leaves Running or max checks were made.
func pollUntil(g Gomega, h *hook, run *engine.StageRun, max int) {
	for range max {
		if run.Status.Phase != v1alpha1.StageRunning {
			return
		}
		g.ExpectWithOffset(1, run.Status.NextCheckTime).NotTo(BeNil())
		run.Now = run.Status.NextCheckTime.Time
		g.ExpectWithOffset(1, h.Check(context.Background(), run)).To(Succeed())
		h.settle(g, run)
	}
}

func TestWebhookWaitForCompletion(t *testing.T) {
	g := NewWithT(t)
	var rm *receiver
	rm = newRemote(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "POST":
			w.WriteHeader(202)
			fmt.Fprint(w, `{"id": "job-42"}`)
		case n < 3:
			fmt.Fprint(w, `{"state": "running"}`)
		default:
			fmt.Fprint(w, `{"state": "done", "artifact": "app-1.2.3"}`)
		}
	})
	run := webhookRun(&v1alpha1.WebhookStage{
		URL:     rm.URL + "/jobs",
		Headers: map[string]string{"Authorization": "Bearer ${ parameters.token }"},
		Body:    `{}`,
		WaitForCompletion: &v1alpha1.WebhookCompletion{
			StatusURL:         rm.URL + "/jobs/${ response.body.id }?v=${ response.status }",
			SuccessExpression: "response.status == 200 && response.body.state == 'done'",
			FailureExpression: "response.body.state == 'failed'",
			PollInterval:      "5s",
		},
	})
	w := start(t, run)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageRunning))
	g.Expect(run.Status.Message).To(Equal("POST " + rm.URL + "/jobs returned 202; polling for completion every 5s"))
	g.Expect(run.Status.NextCheckTime.Time).To(Equal(webhookT0.Add(5 * time.Second)))

	// The engine checks on every reconcile; before the poll is due nothing happens, status included.
	before := run.Status.DeepCopy()
	run.Now = webhookT0.Add(4 * time.Second)
	g.Expect(w.Check(context.Background(), run)).To(Succeed())
	g.Expect(rm.received()).To(HaveLen(1))
	g.Expect(run.Status).To(Equal(before))

	run.Now = webhookT0.Add(5 * time.Second)
	g.Expect(w.Check(context.Background(), run)).To(Succeed())
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageRunning))
	g.Expect(run.Status.Message).To(Equal("poll 1: calling GET " + rm.URL + "/jobs/…"))
	w.settle(g, run)
	g.Expect(run.Status.Message).To(Equal("polled 1 time, last status 200"))
	g.Expect(run.Status.NextCheckTime.Time).To(Equal(webhookT0.Add(10 * time.Second)))

	pollUntil(g, w, run, 5)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageSucceeded))
	g.Expect(run.Status.Message).To(Equal("webhook.waitForCompletion.successExpression is true after 3 polls"))
	g.Expect(run.Status.EndTime.Time).To(Equal(webhookT0.Add(15 * time.Second)))

	reqs := rm.received()
	g.Expect(reqs).To(HaveLen(4))
	for _, r := range reqs[1:] {
		g.Expect(r.Method).To(Equal("GET"))
		g.Expect(r.Path).To(Equal("/jobs/job-42"), "statusURL reads the call's response")
		g.Expect(r.RawQuery).To(Equal("v=202"))
		g.Expect(r.Header.Get("Authorization")).To(Equal("Bearer s3cret-param"), "polls carry the stage's headers")
		g.Expect(r.Header.Values("Idempotency-Key")).To(BeEmpty())
	}
	g.Expect(output(g, run, "polls")).To(BeEquivalentTo(3))
	g.Expect(output(g, run, "pollStatusCode")).To(BeEquivalentTo(200))
	g.Expect(output(g, run, "pollBody")).To(Equal(map[string]any{"state": "done", "artifact": "app-1.2.3"}))
	g.Expect(output(g, run, "statusCode")).To(BeEquivalentTo(202))
	g.Expect(output(g, run, "body")).To(Equal(map[string]any{"id": "job-42"}))
}

func TestWebhookFailureExpression(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"state": "failed", "reason": "tests failed"}`)
	})
	run := webhookRun(&v1alpha1.WebhookStage{
		URL: rm.URL,
		WaitForCompletion: &v1alpha1.WebhookCompletion{
			StatusURL:         rm.URL + "/status",
			SuccessExpression: "response.body.state == 'done'",
			FailureExpression: "response.body.state == 'failed'",
		},
	})
	h := start(t, run)
	g.Expect(run.Status.NextCheckTime.Time).To(Equal(webhookT0.Add(10*time.Second)), "default poll interval")
	pollUntil(g, h, run, 2)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(run.Status.Message).To(Equal("webhook.waitForCompletion.failureExpression is true after 1 poll: response.body.state == 'failed'"))
	g.Expect(output(g, run, "pollBody")).To(HaveKeyWithValue("reason", "tests failed"))
}

// A status endpoint that sends JSON as text/plain gets a string body, and the message says why.
func TestWebhookExpressionOnNonJSONBodyExplains(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, `{"state": "done"}`)
	})
	run := webhookRun(&v1alpha1.WebhookStage{
		URL: rm.URL,
		WaitForCompletion: &v1alpha1.WebhookCompletion{
			StatusURL:         rm.URL + "/status",
			SuccessExpression: "response.body.state == 'done'",
		},
	})
	h := start(t, run)
	pollUntil(g, h, run, 2)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(run.Status.Message).To(HavePrefix("webhook.waitForCompletion.successExpression: "))
	g.Expect(run.Status.Message).To(HaveSuffix("(response.body is a string: the content type is text/plain; charset=utf-8, not JSON)"))
}

func TestWebhookExpressionErrorFails(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, reply(200, `{"state": "running"}`))
	run := webhookRun(&v1alpha1.WebhookStage{
		URL: rm.URL,
		WaitForCompletion: &v1alpha1.WebhookCompletion{
			StatusURL:         rm.URL + "/status",
			SuccessExpression: "response.body.result == 'ok'",
		},
	})
	h := start(t, run)
	pollUntil(g, h, run, 2)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(run.Status.Message).To(HavePrefix("webhook.waitForCompletion.successExpression: "))
	g.Expect(run.Status.Message).To(ContainSubstring("result"))
}

// While polling, what may pass (a refused connection, 429, 5xx) is retried at the next poll time.
func TestWebhookTransientPollErrorsKeepPolling(t *testing.T) {
	g := NewWithT(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	rm := newRemote(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 0:
			w.WriteHeader(200) // the call
		case 1:
			w.WriteHeader(503)
		case 2:
			w.WriteHeader(429)
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"state": "done"}`)
		}
	})
	statusURL := rm.URL + "/status?token=s3cret"
	run := webhookRun(&v1alpha1.WebhookStage{
		URL: rm.URL,
		WaitForCompletion: &v1alpha1.WebhookCompletion{
			StatusURL:         "${ parameters.env == 'down' ? '" + closed.URL + "/status' : '" + statusURL + "' }",
			SuccessExpression: "response.body.state == 'done'",
			PollInterval:      "5s",
		},
	})
	w := start(t, run)

	// A refused connection.
	run.Vars.Parameters = map[string]string{"env": "down"}
	pollUntil(g, w, run, 1)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageRunning))
	g.Expect(run.Status.Message).To(MatchRegexp(`^poll 1 failed: GET %s/status: .*; retrying in 5s$`, closed.URL))
	g.Expect(run.Status.NextCheckTime.Time).To(Equal(webhookT0.Add(10 * time.Second)))
	run.Vars.Parameters = map[string]string{"env": "prod"}

	pollUntil(g, w, run, 1)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageRunning))
	g.Expect(run.Status.Message).To(Equal("poll 2 failed: GET " + rm.URL + "/status?… returned 503; retrying in 5s"))

	pollUntil(g, w, run, 1)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageRunning))
	g.Expect(run.Status.Message).To(Equal("poll 3 failed: GET " + rm.URL + "/status?… returned 429; retrying in 5s"))
	_, answered := run.Status.Outputs["pollStatusCode"]
	g.Expect(answered).To(BeFalse(), "transient failures are not recorded as the last answer")

	pollUntil(g, w, run, 1)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageSucceeded))
	g.Expect(output(g, run, "polls")).To(BeEquivalentTo(4))
}

// The asynchronous request pattern: 202 with a relative Location to poll.
func TestWebhookPollsRelativeLocation(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			w.Header().Set("Location", "/queue/7")
			w.WriteHeader(202)
			return
		}
		w.WriteHeader(303) // done: see the result
	})
	run := webhookRun(&v1alpha1.WebhookStage{
		URL: rm.URL + "/api/builds?token=s3cret",
		WaitForCompletion: &v1alpha1.WebhookCompletion{
			StatusURL:         "${ response.headers.location }",
			SuccessExpression: "response.status == 303",
		},
	})
	h := start(t, run)
	pollUntil(g, h, run, 2)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageSucceeded))
	reqs := rm.received()
	g.Expect(reqs).To(HaveLen(2))
	g.Expect(reqs[1].Path).To(Equal("/queue/7"))
	g.Expect(reqs[1].RawQuery).To(BeEmpty())
}

func TestWebhookCancelHasNothingToStop(t *testing.T) {
	g := NewWithT(t)
	run := webhookRun(&v1alpha1.WebhookStage{URL: "http://127.0.0.1:1"})
	before := run.Status.DeepCopy()
	g.Expect(Webhook{}.Cancel(context.Background(), run)).To(Succeed())
	g.Expect(run.Status).To(Equal(before))
}

func TestNewWebhookClientRefusesMetadataService(t *testing.T) {
	g := NewWithT(t)
	c := NewWebhookClient(nil)
	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://[fe80::1]:80/", "http://[fd00:ec2::254]/", "http://100.100.100.200/"} {
		_, err := c.Get(u)
		g.Expect(err).To(MatchError(ContainSubstring("link-local or cloud metadata address")), u)
	}
	rm := newRemote(t, reply(200, `{}`))
	resp, err := c.Get(rm.URL)
	g.Expect(err).NotTo(HaveOccurred(), "loopback is allowed")
	resp.Body.Close()
}

func TestForbiddenAddresses(t *testing.T) {
	tests := map[string]struct {
		addr string
		want bool
	}{
		"AWS, GCP, Azure IMDS":          {"169.254.169.254", true},
		"link-local":                    {"169.254.1.2", true},
		"AWS over IPv6":                 {"fd00:ec2::254", true},
		"AWS's IPv6 /64":                {"fd00:ec2::1", true},
		"GCP over IPv6":                 {"fd20:ce::254", true},
		"Alibaba":                       {"100.100.100.200", true},
		"Azure wireserver":              {"168.63.129.16", true},
		"IPv6 link-local":               {"fe80::1", true},
		"IPv6 link-local with a zone":   {"fe80::1%eth0", true},
		"IPv4-mapped":                   {"::ffff:169.254.169.254", true},
		"IPv4-mapped Azure":             {"::ffff:168.63.129.16", true},
		"NAT64":                         {"64:ff9b::a9fe:a9fe", true},
		"NAT64 Alibaba":                 {"64:ff9b::6464:64c8", true},
		"local-use NAT64":               {"64:ff9b:1::a9fe:a9fe", true},
		"6to4":                          {"2002:a9fe:a9fe::1", true},
		"IPv4-compatible":               {"::169.254.169.254", true},
		"loopback":                      {"127.0.0.1", false},
		"IPv6 loopback":                 {"::1", false},
		"private":                       {"10.0.0.7", false},
		"CGNAT next to Alibaba":         {"100.100.100.201", false},
		"public":                        {"203.0.113.9", false},
		"NAT64 of a public address":     {"64:ff9b::cb00:7109", false},
		"6to4 of a public address":      {"2002:cb00:7109::1", false},
		"another ULA":                   {"fd00:ec3::254", false},
		"IPv4-mapped public":            {"::ffff:203.0.113.9", false},
		"global IPv6":                   {"2001:db8::1", false},
		"IPv6 unspecified is not ours":  {"::", false},
		"IPv4-mapped loopback, allowed": {"::ffff:127.0.0.1", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			err := refuseMetadata("tcp", net.JoinHostPort(tc.addr, "80"), nil)
			if tc.want {
				g.Expect(err).To(MatchError(ContainSubstring("link-local or cloud metadata address")))
			} else {
				g.Expect(err).NotTo(HaveOccurred())
			}
		})
	}
}

// proxyTrap is a listener set as the environment's proxy: it counts the connections it gets.
func proxyTrap(t *testing.T) *atomic.Int32 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	for _, v := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		t.Setenv(v, "http://"+l.Addr().String())
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	return &n
}

// The proxy environment variables do not take webhooks around the address check: a metadata address is
// refused instead of handed to the proxy, and a remote that is not loopback (which Go never proxies) is
// dialed directly.
func TestWebhookClientIgnoresProxyEnvironment(t *testing.T) {
	g := NewWithT(t)
	proxied := proxyTrap(t)
	c := NewWebhookClient(nil)
	g.Expect(c.Transport.(*http.Transport).Proxy).To(BeNil(), "no proxy at all, not even the environment's")

	_, err := c.Get("http://169.254.169.254/latest/meta-data/")
	g.Expect(err).To(MatchError(ContainSubstring("link-local or cloud metadata address")))

	if ip := nonLoopbackIP(); ip != "" {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		g.Expect(err).NotTo(HaveOccurred())
		srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })}}
		srv.Start()
		defer srv.Close()
		resp, err := c.Get(srv.URL)
		g.Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(204), "answered by the remote itself")
	}
	g.Expect(proxied.Load()).To(BeZero(), "the proxy of the environment got a connection")
}

// With a proxy named by the manager, every call goes through it, loopback included.
func TestWebhookClientUsesTheNamedProxy(t *testing.T) {
	g := NewWithT(t)
	hosts := make(chan string, 4) // recorded here, asserted in the test's goroutine
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts <- r.URL.Host
		w.WriteHeader(202)
	}))
	defer proxy.Close()
	u, err := url.Parse(proxy.URL)
	g.Expect(err).NotTo(HaveOccurred())
	resp, err := NewWebhookClient(u).Get("http://hooks.example.com/services/x")
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(202))
	g.Expect(hosts).To(HaveLen(1))
	g.Expect(<-hosts).To(Equal("hooks.example.com"))
}

func nonLoopbackIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"https://hooks.example.com/services/T000/B000/XXXX":   "https://hooks.example.com/services/…",
		"https://user:pass@hooks.example.com/services/T0?a=b": "https://hooks.example.com/services/…",
		"https://ci.example.com:8443/hook?token=s3cret":       "https://ci.example.com:8443/hook?…",
		"https://ci.example.com/hook#frag":                    "https://ci.example.com/hook?…",
		"https://ci.example.com/hook":                         "https://ci.example.com/hook",
		"https://ci.example.com/hook/":                        "https://ci.example.com/hook/…",
		"https://ci.example.com":                              "https://ci.example.com",
		"https://ci.example.com/?token=s3cret":                "https://ci.example.com?…",
		"http://[::1]:8080/a%2Fb/c":                           "http://[::1]:8080/a%2Fb/…",
	}
	for raw, want := range tests {
		t.Run(raw, func(t *testing.T) {
			u, err := url.Parse(raw)
			NewWithT(t).Expect(err).NotTo(HaveOccurred())
			NewWithT(t).Expect(redact(u)).To(Equal(want))
		})
	}
}

// Values with quotes, braces, ampersands and slashes stay values: the JSON body keeps its structure, the
// URL its path and query.
func TestWebhookEscapesTemplateValues(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, reply(200, `{}`))
	run := webhookRun(&v1alpha1.WebhookStage{
		URL:  rm.URL + "/deploy/${ parameters.image }?env=${ parameters.env }&n=1",
		Body: `{"text": "deployed ${ parameters.image }", "env": ${ parameters.env }, "admin": false}`,
	})
	run.Vars.Parameters = map[string]string{"image": `x", "admin": true, "y": "/../../admin?`, "env": `prod&admin=1}`}
	start(t, run)

	r := rm.received()[0]
	var body map[string]any
	g.Expect(json.Unmarshal([]byte(r.Body), &body)).To(Succeed(), r.Body)
	g.Expect(body).To(Equal(map[string]any{
		"text":  `deployed x", "admin": true, "y": "/../../admin?`,
		"env":   `prod&admin=1}`,
		"admin": false,
	}))
	g.Expect(r.Path).To(Equal(`/deploy/x", "admin": true, "y": "/../../admin?`), "one path segment")
	q, err := url.ParseQuery(r.RawQuery)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(q).To(Equal(url.Values{"env": {"prod&admin=1}"}, "n": {"1"}}))

	// Another content type is the pipeline's to escape.
	run = webhookRun(&v1alpha1.WebhookStage{URL: rm.URL, Headers: map[string]string{"Content-Type": "text/plain"}, Body: `say "${ parameters.env }"`})
	run.Vars.Parameters = map[string]string{"env": `a"b`}
	start(t, run)
	g.Expect(rm.received()[1].Body).To(Equal(`say "a"b"`))
}

func TestWebhookStatusURLEscapesValues(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id": "7/../../admin?x=1", "state": "done"}`)
	})
	run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL, WaitForCompletion: &v1alpha1.WebhookCompletion{
		StatusURL: rm.URL + "/jobs/${ response.body.id }", SuccessExpression: "response.body.state == 'done'"}})
	h := start(t, run)
	pollUntil(g, h, run, 1)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageSucceeded))
	r := rm.received()[1]
	g.Expect(r.Path).To(Equal("/jobs/7/../../admin?x=1"))
	g.Expect(r.RawQuery).To(BeEmpty())
}

// headersFrom values come from a Secret of the run's namespace and win over headers; they appear nowhere
// in the status. A missing Secret or key fails the stage naming the field and the Secret.
func TestWebhookHeadersFromSecrets(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "hook-token"}, Data: map[string][]byte{"token": []byte("Bearer t0ps3cret")}}
	other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "theirs"}, Data: map[string][]byte{"token": []byte("n0t-yours")}}
	reader := fake.NewClientBuilder().WithObjects(secret, other).Build()
	from := func(name, key string) []v1alpha1.WebhookHeaderSource {
		return []v1alpha1.WebhookHeaderSource{{Name: "Authorization", ValueFrom: v1alpha1.HeaderValueSource{SecretKeyRef: v1alpha1.SecretKeySelector{Name: name, Key: key}}}}
	}
	tests := map[string]struct {
		from        []v1alpha1.WebhookHeaderSource
		wantHeader  string
		wantMessage string
	}{
		"sent":                {from: from("hook-token", "token"), wantHeader: "Bearer t0ps3cret"},
		"missing Secret":      {from: from("nope", "token"), wantMessage: "webhook.headersFrom[0].valueFrom.secretKeyRef: Secret shop/nope not found"},
		"another namespace's": {from: from("theirs", "token"), wantMessage: "webhook.headersFrom[0].valueFrom.secretKeyRef: Secret shop/theirs not found"},
		"missing key":         {from: from("hook-token", "tok"), wantMessage: "webhook.headersFrom[0].valueFrom.secretKeyRef: Secret shop/hook-token has no key tok"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			rm := newRemote(t, reply(200, `{}`))
			run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL, Headers: map[string]string{"Authorization": "plain"}, HeadersFrom: tc.from})
			h := newHook(remote.Options[*answer]{})
			h.Secrets = reader
			g.Expect(h.Start(context.Background(), run)).To(Succeed())
			h.settle(g, run)
			status, err := json.Marshal(run.Status)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(string(status)).NotTo(ContainSubstring("s3cret"))
			g.Expect(string(status)).NotTo(ContainSubstring("n0t-yours"))
			if tc.wantMessage != "" {
				g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageFailed))
				g.Expect(run.Status.Message).To(Equal(tc.wantMessage))
				g.Expect(rm.received()).To(BeEmpty())
				return
			}
			g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageSucceeded))
			g.Expect(rm.received()[0].Header.Values("Authorization")).To(Equal([]string{tc.wantHeader}))
		})
	}
}

// A status URL the remote chooses gets the headersFrom Secrets only when it is on the call's scheme, host
// and port; elsewhere it is polled with the plain headers alone.
func TestWebhookPollSendsSecretsOnlyToTheCallsHost(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "hook-token"}, Data: map[string][]byte{"token": []byte("Bearer t0ps3cret")}}
	elsewhere := newRemote(t, reply(200, `{"state": "done"}`))
	tests := map[string]struct {
		location   func(call *receiver) string
		polled     func(call *receiver) *receiver
		wantSecret bool
	}{
		"same host, relative": {location: func(*receiver) string { return "/status/1" }, polled: func(c *receiver) *receiver { return c }, wantSecret: true},
		"same host, absolute": {location: func(c *receiver) string { return c.URL + "/status/1" }, polled: func(c *receiver) *receiver { return c }, wantSecret: true},
		"another port":        {location: func(*receiver) string { return elsewhere.URL + "/status/1" }, polled: func(*receiver) *receiver { return elsewhere }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			var call *receiver
			call = newRemote(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 0 {
					w.Header().Set("Location", tc.location(call))
					w.WriteHeader(202)
					return
				}
				reply(200, `{"state": "done"}`)(n, w, r)
			})
			run := webhookRun(&v1alpha1.WebhookStage{
				URL: call.URL + "/jobs", Headers: map[string]string{"X-Plain": "yes"},
				HeadersFrom: []v1alpha1.WebhookHeaderSource{{Name: "Authorization", ValueFrom: v1alpha1.HeaderValueSource{
					SecretKeyRef: v1alpha1.SecretKeySelector{Name: "hook-token", Key: "token"}}}},
				WaitForCompletion: &v1alpha1.WebhookCompletion{StatusURL: "${ response.headers.location }", SuccessExpression: "response.body.state == 'done'"},
			})
			h := newHook(remote.Options[*answer]{})
			h.Secrets = fake.NewClientBuilder().WithObjects(secret).Build()
			g.Expect(h.Start(context.Background(), run)).To(Succeed())
			h.settle(g, run)
			pollUntil(g, h, run, 3)
			g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageSucceeded), run.Status.Message)

			g.Expect(call.received()[0].Header.Get("Authorization")).To(Equal("Bearer t0ps3cret"))
			polls := tc.polled(call).received()
			poll := polls[len(polls)-1]
			g.Expect(poll.Path).To(Equal("/status/1"))
			g.Expect(poll.Header.Get("X-Plain")).To(Equal("yes"))
			if tc.wantSecret {
				g.Expect(poll.Header.Get("Authorization")).To(Equal("Bearer t0ps3cret"))
			} else {
				g.Expect(poll.Header.Values("Authorization")).To(BeEmpty())
			}
		})
	}
}

// A wake-up that never comes does not leave the stage stuck or spinning: at the safety-net check the
// answer is still awaited, and the next such check is pushed a deadline further.
func TestWebhookLostWakeUpIsCheckedAgainLater(t *testing.T) {
	g := NewWithT(t)
	release := make(chan struct{})
	defer close(release)
	rm := newRemote(t, func(_ int, w http.ResponseWriter, _ *http.Request) { <-release })
	run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL})
	h := newHook(remote.Options[*answer]{Timeout: time.Hour})
	g.Expect(h.Start(context.Background(), run)).To(Succeed())
	g.Expect(run.Status.NextCheckTime.Time).To(Equal(webhookT0.Add(time.Hour + 5*time.Second)))

	run.Now = run.Status.NextCheckTime.Time
	g.Expect(h.Check(context.Background(), run)).To(Succeed())
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageRunning))
	g.Expect(awaiting(run)).To(BeTrue())
	g.Expect(run.Status.NextCheckTime.Time).To(Equal(run.Now.Add(time.Hour + 5*time.Second)))
}

// With every slot and queue place taken, a call waits in the stage, not in Calls, and is handed over by a
// later check once there is room; it is made once.
func TestWebhookBusyCallsWaitTheirTurn(t *testing.T) {
	g := NewWithT(t)
	release := make(chan struct{})
	rm := newRemote(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		w.WriteHeader(204)
	})
	h := newHook(remote.Options[*answer]{Slots: 1, Queue: 1})
	runs := make([]*engine.StageRun, 3)
	for i := range runs {
		path := "/slow"
		if i == 2 {
			path = "/fast"
		}
		runs[i] = webhookRun(&v1alpha1.WebhookStage{URL: rm.URL + path})
		runs[i].Spec.Name = fmt.Sprintf("notify-%d", i)
		g.Expect(h.Start(context.Background(), runs[i])).To(Succeed())
	}
	busy := runs[2]
	g.Expect(busy.Status.Message).To(Equal("POST " + rm.URL + "/fast: waiting, too many webhook requests are in flight"))
	g.Expect(busy.Status.NextCheckTime.Time).To(Equal(webhookT0.Add(5 * time.Second)))
	g.Expect(awaiting(busy)).To(BeTrue())

	close(release)
	for _, r := range runs[:2] {
		// Both runs' answers wake the same Execution, in either order: check until each is recorded.
		g.Eventually(func(g Gomega) {
			g.Expect(h.Check(context.Background(), r)).To(Succeed())
			g.Expect(r.Status.Phase).To(Equal(v1alpha1.StageSucceeded))
		}).Should(Succeed())
	}
	busy.Now = busy.Status.NextCheckTime.Time
	g.Expect(h.Check(context.Background(), busy)).To(Succeed())
	g.Expect(busy.Status.Message).To(Equal("calling POST " + rm.URL + "/fast"))
	h.settle(g, busy)
	g.Expect(busy.Status.Phase).To(Equal(v1alpha1.StageSucceeded))
	g.Expect(rm.received()).To(HaveLen(3))
}
