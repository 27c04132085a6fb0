package stages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/controllers/engine/expr"
)

var webhookT0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// remote is a webhook receiver that records what it was sent and answers with reply, given the 0-based
// number of the request.
type remote struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

type received struct {
	Method, Path, RawQuery, Body string
	Header                       http.Header
}

func newRemote(t *testing.T, reply func(n int, w http.ResponseWriter, r *http.Request)) *remote {
	rm := &remote{}
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

func (rm *remote) received() []received {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return append([]received(nil), rm.reqs...)
}

// answer replies with a status and a JSON body.
func answer(status int, body string) func(int, http.ResponseWriter, *http.Request) {
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

func output(g Gomega, s *engine.StageRun, key string) any {
	raw, ok := s.Status.Outputs[key]
	g.ExpectWithOffset(1, ok).To(BeTrue(), "output %s", key)
	var v any
	g.ExpectWithOffset(1, json.Unmarshal(raw.Raw, &v)).To(Succeed())
	return v
}

func TestWebhookSendsRenderedCall(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, answer(200, `{}`))
	run := webhookRun(&v1alpha1.WebhookStage{
		URL:     rm.URL + "/deploy/${ parameters.image }?env=${ parameters.env }",
		Headers: map[string]string{"X-Token": "${ parameters.token }", "X-Run": "${ execution.namespace }/${ execution.name }"},
		Body:    `{"image": "${ parameters.image }"}`,
	})

	g.Expect(Webhook{}.Start(context.Background(), run)).To(Succeed())

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
	g.Expect(run.Status.Message).To(Equal("POST " + rm.URL + "/deploy/ami-0abc returned 200"))
	g.Expect(output(g, run, "statusCode")).To(BeEquivalentTo(200))
}

func TestWebhookPipelineHeadersWin(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, answer(200, `{}`))
	run := webhookRun(&v1alpha1.WebhookStage{
		URL:     rm.URL,
		Method:  "PUT",
		Headers: map[string]string{"content-type": "text/plain", "Idempotency-Key": "mine"},
		Body:    "hello",
	})
	g.Expect(Webhook{}.Start(context.Background(), run)).To(Succeed())
	r := rm.received()[0]
	g.Expect(r.Method).To(Equal("PUT"))
	g.Expect(r.Header.Get("Content-Type")).To(Equal("text/plain"))
	g.Expect(r.Header.Get("Idempotency-Key")).To(Equal("mine"))

	// No body, no content type.
	run = webhookRun(&v1alpha1.WebhookStage{URL: rm.URL, Method: "DELETE"})
	g.Expect(Webhook{}.Start(context.Background(), run)).To(Succeed())
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
			target := newRemote(t, answer(200, `{}`))
			rm := newRemote(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Location", target.URL)
				w.WriteHeader(tc.status)
			})
			run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL + "/hook", SuccessStatuses: tc.successStatuses})
			g.Expect(Webhook{}.Start(context.Background(), run)).To(Succeed())
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
	rm := newRemote(t, answer(500, `{"error":"boom"}`))
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	hostOf := func(u string) string { return strings.TrimPrefix(u, "http://") }

	tests := map[string]struct {
		url         string
		wantMessage string
	}{
		"failure status": {
			url:         "http://admin:hunter2@" + hostOf(rm.URL) + "/hook?token=s3cret#frag",
			wantMessage: "POST " + rm.URL + "/hook returned 500, not one of the success statuses 2xx",
		},
		"connection refused": {
			url:         "http://admin:hunter2@" + hostOf(closed.URL) + "/hook?token=${ parameters.token }",
			wantMessage: "POST " + closed.URL + "/hook failed: ",
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
			g.Expect(Webhook{}.Start(context.Background(), run)).To(Succeed())
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
	rm := newRemote(t, answer(200, `{}`))
	run := webhookRun(&v1alpha1.WebhookStage{
		URL:     rm.URL,
		Headers: map[string]string{"X-A": "fine", "X-Token": "${ stages['build'].outputs.token }"},
	})
	g.Expect(Webhook{}.Start(context.Background(), run)).To(Succeed())
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(run.Status.Message).To(HavePrefix("webhook.headers.X-Token: "))
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
	g.Expect(Webhook{}.Start(context.Background(), run)).To(Succeed())
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
	g.Expect(Webhook{}.Start(context.Background(), run)).To(Succeed())
	g.Expect(output(g, run, "body")).To(Equal(`{"looks": "like json"}`))
}

func TestWebhookBodyLimits(t *testing.T) {
	tests := map[string]struct {
		size        int
		wantKept    bool
		wantMessage string
	}{
		"small":               {size: 100, wantKept: true},
		"too big for outputs": {size: 40 << 10, wantMessage: "(response body of 40962 bytes not kept in outputs.body: over 32768)"},
		"too big to read":     {size: 2 << 20, wantMessage: "(response body over 1048576 bytes not read)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			rm := newRemote(t, answer(200, `"`+strings.Repeat("x", tc.size)+`"`))
			run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL})
			g.Expect(Webhook{}.Start(context.Background(), run)).To(Succeed())
			g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageSucceeded))
			_, kept := run.Status.Outputs["body"]
			g.Expect(kept).To(Equal(tc.wantKept))
			g.Expect(run.Status.Message).To(HaveSuffix(tc.wantMessage))
		})
	}
}

func TestWebhookTimeout(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, func(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL})
	g.Expect(Webhook{Timeout: 100 * time.Millisecond}.Start(context.Background(), run)).To(Succeed())
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(run.Status.Message).To(Equal("POST " + rm.URL + " failed: no response within 100ms"))
}

// A reconcile cut short is not the remote's fault: the error goes back to the engine, the stage is not
// failed.
func TestWebhookCanceledReconcileIsTransient(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, func(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	run := webhookRun(&v1alpha1.WebhookStage{URL: rm.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	g.Expect(Webhook{}.Start(ctx, run)).To(MatchError(context.DeadlineExceeded))
}

// The engine's freshness check runs before the call: a stale cache makes no call, and the engine gets
// ErrStale back and leaves the stage as it was.
func TestWebhookStaleCacheMakesNoCall(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, answer(200, `{}`))
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
	e := &engine.Engine{Stages: engine.Stages{"webhook": Webhook{}}}
	stale := func(context.Context) error { return engine.ErrStale }

	res := e.Step(context.Background(), ex, webhookT0, stale)

	g.Expect(errors.Is(res.Err, engine.ErrStale)).To(BeTrue(), "%v", res.Err)
	g.Expect(rm.received()).To(BeEmpty())
	g.Expect(ex.Status.Stages[0].Phase).To(Equal(v1alpha1.StageNotStarted))

	res = e.Step(context.Background(), ex, webhookT0, func(context.Context) error { return nil })
	g.Expect(res.Err).NotTo(HaveOccurred())
	g.Expect(rm.received()).To(HaveLen(1))
	g.Expect(ex.Status.Stages[0].Phase).To(Equal(v1alpha1.StageSucceeded))
}

// pollUntil runs Check at each NextCheckTime until the stage leaves Running or max checks were made.
func pollUntil(g Gomega, w Webhook, run *engine.StageRun, max int) {
	for range max {
		if run.Status.Phase != v1alpha1.StageRunning {
			return
		}
		g.ExpectWithOffset(1, run.Status.NextCheckTime).NotTo(BeNil())
		run.Now = run.Status.NextCheckTime.Time
		g.ExpectWithOffset(1, w.Check(context.Background(), run)).To(Succeed())
	}
}

func TestWebhookWaitForCompletion(t *testing.T) {
	g := NewWithT(t)
	var rm *remote
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
	w := Webhook{}

	g.Expect(w.Start(context.Background(), run)).To(Succeed())
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
	g.Expect(Webhook{}.Start(context.Background(), run)).To(Succeed())
	g.Expect(run.Status.NextCheckTime.Time).To(Equal(webhookT0.Add(10*time.Second)), "default poll interval")
	pollUntil(g, Webhook{}, run, 2)
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
	g.Expect(Webhook{}.Start(context.Background(), run)).To(Succeed())
	pollUntil(g, Webhook{}, run, 2)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(run.Status.Message).To(HavePrefix("webhook.waitForCompletion.successExpression: "))
	g.Expect(run.Status.Message).To(HaveSuffix("(response.body is a string: the content type is text/plain; charset=utf-8, not JSON)"))
}

func TestWebhookExpressionErrorFails(t *testing.T) {
	g := NewWithT(t)
	rm := newRemote(t, answer(200, `{"state": "running"}`))
	run := webhookRun(&v1alpha1.WebhookStage{
		URL: rm.URL,
		WaitForCompletion: &v1alpha1.WebhookCompletion{
			StatusURL:         rm.URL + "/status",
			SuccessExpression: "response.body.result == 'ok'",
		},
	})
	g.Expect(Webhook{}.Start(context.Background(), run)).To(Succeed())
	pollUntil(g, Webhook{}, run, 2)
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
	w := Webhook{}
	g.Expect(w.Start(context.Background(), run)).To(Succeed())

	// A refused connection.
	run.Vars.Parameters = map[string]string{"env": "down"}
	pollUntil(g, w, run, 1)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageRunning))
	g.Expect(run.Status.Message).To(MatchRegexp(`^poll 1 failed: GET %s/status: .*; retrying in 5s$`, closed.URL))
	g.Expect(run.Status.NextCheckTime.Time).To(Equal(webhookT0.Add(10 * time.Second)))
	run.Vars.Parameters = map[string]string{"env": "prod"}

	pollUntil(g, w, run, 1)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageRunning))
	g.Expect(run.Status.Message).To(Equal("poll 2 failed: GET " + rm.URL + "/status returned 503; retrying in 5s"))

	pollUntil(g, w, run, 1)
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.StageRunning))
	g.Expect(run.Status.Message).To(Equal("poll 3 failed: GET " + rm.URL + "/status returned 429; retrying in 5s"))
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
	g.Expect(Webhook{}.Start(context.Background(), run)).To(Succeed())
	pollUntil(g, Webhook{}, run, 2)
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
	c := NewWebhookClient()
	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://[fe80::1]:80/", "http://[fd00:ec2::254]/"} {
		_, err := c.Get(u)
		g.Expect(err).To(MatchError(ContainSubstring("link-local or cloud metadata address")), u)
	}
	rm := newRemote(t, answer(200, `{}`))
	resp, err := c.Get(rm.URL)
	g.Expect(err).NotTo(HaveOccurred(), "loopback is allowed")
	resp.Body.Close()
}
