package stages

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/controllers/engine/expr"
	"github.com/gennaker/gennaker/controllers/remote"
)

// Webhook is Spinnaker's webhook stage: one HTTP call, then, with waitForCompletion, GETs of a status URL
// until an expression over the polled response says the remote work is done or has failed.
//
// No reconcile waits on the remote: Start and Check hand each request over to Calls and return, the stage
// Running with the AwaitingResponse condition (reason Call or Poll) and a message such as "calling POST
// https://hooks.example.com/services/…". The answer wakes the Execution, and the next Check records it in
// the stage's status before anything else reads it: the status, not Calls, is the record of the run. Once
// that status is written (see AfterWrite), Calls forgets the answer.
//
// The call is made once per run as long as the operator runs: a reconcile whose status write is lost hands
// the same request over again, and Calls, which knows it, does not make it again. An answer Calls had to
// drop before it was recorded fails the stage instead of calling again (see await). The stage also confirms the Execution is fresh right before handing the call over, so a stale cache cannot
// repeat a call already recorded. Across an operator restart it is at least once: a call in flight, or
// answered but not yet recorded, is made again by the new operator. Every call therefore carries an
// Idempotency-Key header, "<execution UID>/<stage name>", the same on every attempt of one run and
// different in the next run, for receivers to dedupe on. A key the pipeline sets itself in headers wins.
//
// The call fails the stage when the remote cannot be reached or answers outside successStatuses (any 2xx
// when empty): like Spinnaker, no retries, since the call may not be safe to repeat; onFailure and a new run
// are the user's retries. Polls are GETs, safe to repeat, so while polling a connection error, a 429 or a
// 5xx is transient: the stage keeps polling and says so in its message, and only its timeout ends it. Any
// other polled status is given to the expressions.
//
// Redirects are never followed: a redirect would carry the stage's headers (tokens) to wherever the
// remote points, and a 303 to the result is how some status endpoints say they are done. A 3xx is an
// ordinary answer: the call fails on it unless successStatuses lists it, polls hand it to the expressions.
//
// Every request has Calls' time limit, reading the response included. Messages, and so Events, show a URL
// shortened (see redact): scheme, host and first path segment, without userinfo, query and fragment. Header
// values never appear in messages; headersFrom values are read from their Secret for each request and kept
// nowhere else.
//
// Template values are escaped for where they land: URL-escaped in the path, query and fragment of url and
// statusURL, JSON-escaped in a JSON body (the default content type when a body is given), so that a
// parameter cannot change the URL's path or query, or the body's structure.
//
// Outputs, readable by later stages as stages['<name>'].outputs.<key>:
//
//	statusCode      int     the call's HTTP status
//	body            any     the call's response body: parsed JSON when the response is JSON (or says
//	                        no content type and parses), else a string; left out when keepBody is false
//	                        or the body is over maxBodyBytes
//	headers         map     the call's content-type and location headers, by lowercase name, when sent
//	polls           int     polls made so far, counted across controller restarts
//	pollStatusCode  int     the status of the last poll that was answered (not a transient failure)
//	pollBody        any     that poll's body, as body
//
// Expressions see the response variable as {status: int, body: any, headers: map(string, string)}; body
// is missing when it was over maxBodyBytes, which is also the most of a body read. In
// waitForCompletion.statusURL it is the call's response, rebuilt from the outputs above (so its headers are
// only content-type and location, and it has no body unless keepBody); a relative status URL, as a
// Location header often is, is resolved against the call's url. In successExpression and failureExpression
// it is the polled response, with all its headers (lowercase names, first value). failureExpression is
// evaluated first; an expression that cannot be evaluated fails the stage.
//
// Cancel, on a timeout or the run's cancel, has nothing to stop: the remote is not told, and a request in
// flight runs to its deadline. It removes AwaitingResponse, as does any failure of the stage.
type Webhook struct {
	// HTTP makes the requests; redirects are not followed whatever its CheckRedirect says. Nil means
	// NewWebhookClient(nil).
	HTTP *http.Client
	// Calls runs the requests outside the reconciles.
	Calls *remote.Calls[*answer]
	// Secrets reads the Secrets of headersFrom. The manager's cache holds no Secret data: this is an API
	// reader.
	Secrets client.Reader
}

// NewWebhook returns the webhook stage type of d: requests through d.HTTP within d.WebhookTimeout, answers
// waking the run with d.Wake, Secrets read with d.APIReader.
func NewWebhook(d Deps) Webhook {
	return Webhook{HTTP: d.HTTP, Secrets: d.APIReader,
		Calls: remote.New(remote.Options[*answer]{Wake: d.Wake, Size: answerSize, Timeout: d.WebhookTimeout})}
}

// The AwaitingResponse condition's reasons: which request is awaited.
const (
	reasonCall = "Call"
	reasonPoll = "Poll"
)

const (
	defaultPollInterval = 10 * time.Second
	// busyRetry is when a request that found every slot of Calls taken is handed over again.
	busyRetry = 5 * time.Second
	// lostAnswer is how long after a request's deadline the stage looks at it again without being woken:
	// a wake-up can be dropped.
	lostAnswer = 5 * time.Second
)

// Start checks the stage and hands the call over.
func (w Webhook) Start(ctx context.Context, s *engine.StageRun) error {
	if c := s.Spec.Webhook.WaitForCompletion; c != nil {
		if _, err := pollInterval(c); err != nil {
			s.Fail(fmt.Sprintf("webhook.waitForCompletion.pollInterval: %v", err))
			return nil
		}
	}
	return w.call(ctx, s)
}

// Check records an answer that came in, and hands the next poll over when it is due.
func (w Webhook) Check(ctx context.Context, s *engine.StageRun) error {
	if c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionAwaitingResponse); c != nil && c.Status == metav1.ConditionTrue {
		return w.await(ctx, s, c)
	}
	c := s.Spec.Webhook.WaitForCompletion
	if c == nil {
		return nil // the answer to the call finished the stage; only a hand-edited status gets here
	}
	if next := s.Status.NextCheckTime; next != nil && s.Now.Before(next.Time) {
		return nil
	}
	if err := s.SetOutput("polls", outputInt(s, "polls")+1); err != nil {
		return err
	}
	return w.poll(ctx, s)
}

// Cancel has nothing to stop: the call is over or runs to its deadline, and a poll only reads. The stage
// no longer awaits its answer.
func (Webhook) Cancel(_ context.Context, s *engine.StageRun) error {
	meta.RemoveStatusCondition(&s.Status.Conditions, v1alpha1.ConditionAwaitingResponse)
	return nil
}

// call renders the call and hands it over.
func (w Webhook) call(ctx context.Context, s *engine.StageRun) error {
	req, msg, err := w.renderCall(ctx, s)
	if err != nil || msg != "" {
		return failOrRetry(s, msg, err)
	}
	if err := s.EnsureFresh(ctx); err != nil {
		return err
	}
	return w.handOver(ctx, s, reasonCall, req)
}

// poll renders poll number outputs.polls and hands it over. Polls are GETs: repeating one from a stale
// cache does no harm, so no EnsureFresh here.
func (w Webhook) poll(ctx context.Context, s *engine.StageRun) error {
	req, msg, err := w.renderPoll(ctx, s)
	if err != nil || msg != "" {
		return failOrRetry(s, msg, err)
	}
	return w.handOver(ctx, s, reasonPoll, req)
}

func failOrRetry(s *engine.StageRun, msg string, err error) error {
	if err != nil {
		return err
	}
	fail(s, msg)
	return nil
}

// fail fails the stage, which then awaits nothing.
func fail(s *engine.StageRun, msg string) {
	meta.RemoveStatusCondition(&s.Status.Conditions, v1alpha1.ConditionAwaitingResponse)
	s.Fail(msg)
}

// handOver gives req to Calls and keeps the stage Running while it is answered; an answer already in
// (the same request handed over by a reconcile whose write was lost) is recorded at once.
func (w Webhook) handOver(ctx context.Context, s *engine.StageRun, reason string, req request) error {
	s.SetCondition(metav1.Condition{
		Type: v1alpha1.ConditionAwaitingResponse, Status: metav1.ConditionTrue, Reason: reason, Message: req.String(),
		ObservedGeneration: s.Execution.Generation, LastTransitionTime: metav1.NewTime(s.Now),
	})
	limit := maxBodyBytes(s.Spec.Webhook)
	_, state, err := w.Calls.Submit(remote.Request[*answer]{
		Key:   requestKey(s, reason),
		Owner: types.NamespacedName{Namespace: s.Execution.Namespace, Name: s.Execution.Name},
		Do:    func(ctx context.Context) *answer { return w.do(ctx, req, limit) },
		Once:  reason == reasonCall,
	})
	if errors.Is(err, remote.ErrBusy) {
		s.Running(fmt.Sprintf("%s: waiting, too many webhook requests are in flight", req), s.Now.Add(busyRetry))
		return nil
	}
	if err != nil {
		return err
	}
	if state == remote.Done || state == remote.Lost {
		return w.await(ctx, s, meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionAwaitingResponse))
	}
	w.awaiting(s, req.String(), reason)
	return nil
}

// awaiting says the stage waits for the answer to the request shown as req.
func (w Webhook) awaiting(s *engine.StageRun, req, reason string) {
	msg := "calling " + req
	if reason == reasonPoll {
		msg = fmt.Sprintf("poll %d: calling %s", outputInt(s, "polls"), req)
	}
	s.Running(msg, s.Now.Add(w.Calls.Timeout()+lostAnswer))
}

// await looks at the request the AwaitingResponse condition c names: it records its answer when in, and
// hands it over again when Calls does not know it (the operator restarted, or every slot was taken). A
// call whose answer Calls dropped before it was recorded (the run was not reconciled within Calls' TTL,
// or larger answers pushed it out) fails the stage: it may have done its work, and is not made again.
func (w Webhook) await(ctx context.Context, s *engine.StageRun, c *metav1.Condition) error {
	key := requestKey(s, c.Reason)
	// Once what the answer led to is recorded, the stage never asks for it again.
	forget := func() { OnWritten(ctx, func() { w.Calls.Forget(key) }) }
	a, state := w.Calls.Result(key)
	switch state {
	case remote.Pending:
		if next := s.Status.NextCheckTime; next == nil || !s.Now.Before(next.Time) {
			w.awaiting(s, c.Message, c.Reason) // the wake-up was lost, or a slot is slow to free
		}
		return nil
	case remote.Unknown:
		if c.Reason == reasonPoll {
			return w.poll(ctx, s)
		}
		return w.call(ctx, s)
	case remote.Lost:
		fail(s, c.Message+": the answer was lost before it was recorded; not calling again")
		forget()
		return nil
	}
	req := c.Message
	meta.RemoveStatusCondition(&s.Status.Conditions, v1alpha1.ConditionAwaitingResponse)
	s.Settle() // the answer is in memory only until this step's status is written
	if c.Reason == reasonPoll {
		if err := w.polled(s, req, a); err != nil {
			return err // the engine drops what the stage recorded
		}
		forget()
		return nil
	}
	w.called(s, req, a)
	forget()
	return nil
}

// requestKey names the stage's request for Calls: the call, or the poll outputs.polls counts.
func requestKey(s *engine.StageRun, reason string) remote.Key {
	attempt := "call"
	if reason == reasonPoll {
		attempt = fmt.Sprintf("poll/%d", outputInt(s, "polls"))
	}
	return remote.Key{Run: s.Execution.UID, Stage: s.Spec.Name, Attempt: attempt}
}

// called records the call's answer; req shows the call.
func (w Webhook) called(s *engine.StageRun, req string, a *answer) {
	wh := s.Spec.Webhook
	if a.err != nil {
		s.Fail(fmt.Sprintf("%s failed: %v", req, a.err))
		return
	}
	resp := a.resp
	note, err := setResponseOutputs(s, "statusCode", "body", resp)
	if err != nil {
		// Returning the error would make the engine drop the answer from status, and call again.
		s.Fail(err.Error())
		return
	}
	if !successful(resp.status, wh.SuccessStatuses) {
		s.Fail(fmt.Sprintf("%s returned %d, not one of the success statuses %s%s", req, resp.status, successText(wh.SuccessStatuses), note))
		return
	}
	if wh.WaitForCompletion == nil {
		s.Succeed(fmt.Sprintf("%s returned %d%s", req, resp.status, note))
		return
	}
	interval, _ := pollInterval(wh.WaitForCompletion) // checked by Start
	s.Running(fmt.Sprintf("%s returned %d; polling for completion every %s%s", req, resp.status, interval, note), s.Now.Add(interval))
}

// polled records the answer to poll number outputs.polls, and gives it to the expressions.
func (w Webhook) polled(s *engine.StageRun, req string, a *answer) error {
	c := s.Spec.Webhook.WaitForCompletion
	interval, _ := pollInterval(c) // checked by Start
	polls := outputInt(s, "polls")
	retry := func(why string) {
		s.Running(fmt.Sprintf("poll %d failed: %s; retrying in %s", polls, why, interval), s.Now.Add(interval))
	}
	if a.err != nil {
		retry(fmt.Sprintf("%s: %v", req, a.err))
		return nil
	}
	resp := a.resp
	if transient(resp.status) {
		retry(fmt.Sprintf("%s returned %d", req, resp.status))
		return nil
	}
	if _, err := setResponseOutputs(s, "pollStatusCode", "pollBody", resp); err != nil {
		return err
	}
	vars := map[string]any{expr.VarResponse: resp.vars()}
	if c.FailureExpression != "" {
		failed, err := s.EvalBool(c.FailureExpression, vars, expr.WithResponse())
		if err != nil {
			s.Fail(fmt.Sprintf("webhook.waitForCompletion.failureExpression: %v%s", err, resp.bodyNote()))
			return nil
		}
		if failed {
			s.Fail(fmt.Sprintf("webhook.waitForCompletion.failureExpression is true after %s: %s", times(polls, "poll"), c.FailureExpression))
			return nil
		}
	}
	done, err := s.EvalBool(c.SuccessExpression, vars, expr.WithResponse())
	if err != nil {
		s.Fail(fmt.Sprintf("webhook.waitForCompletion.successExpression: %v%s", err, resp.bodyNote()))
		return nil
	}
	if done {
		s.Succeed(fmt.Sprintf("webhook.waitForCompletion.successExpression is true after %s", times(polls, "poll")))
		return nil
	}
	s.Running(fmt.Sprintf("polled %s, last status %d", times(polls, "time"), resp.status), s.Now.Add(interval))
	return nil
}

// parseURL parses a rendered URL, resolving a relative one against base when there is one. Messages never
// quote the URL: url.Parse's errors do, so only their cause is kept.
func parseURL(field, raw string, base *url.URL) (*url.URL, string) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Sprintf("%s: not a valid URL: %v", field, err)
	}
	if base != nil && !u.IsAbs() {
		u = base.ResolveReference(u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Sprintf("%s: must be an absolute http or https URL", field)
	}
	return u, ""
}

func pollInterval(c *v1alpha1.WebhookCompletion) (time.Duration, error) {
	if c.PollInterval == "" {
		return defaultPollInterval, nil
	}
	d, err := c.PollInterval.Duration()
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, errors.New("must be greater than zero")
	}
	return d, nil
}
