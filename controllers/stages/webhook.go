package stages

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/controllers/engine/expr"
)

// Webhook is Spinnaker's webhook stage: one HTTP call, then, with waitForCompletion, GETs of a status URL
// until an expression over the polled response says the remote work is done or has failed.
//
// The call is made at least once, not exactly once: the stage confirms the Execution is fresh right before
// calling, but a controller that dies (or loses a status write) between the call and the status write makes
// it again on the next reconcile. Every call therefore carries an Idempotency-Key header,
// "<execution UID>/<stage name>", the same on every attempt of one run and different in the next run, for
// receivers to dedupe on. A key the pipeline sets itself in headers wins.
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
// Every request has a time limit (Timeout), since the call is made inside a reconcile. Messages name the
// method and the URL without its userinfo, query and fragment; header values never appear in messages.
//
// Outputs, readable by later stages as stages['<name>'].outputs.<key>:
//
//	statusCode      int     the call's HTTP status
//	body            any     the call's response body: parsed JSON when the response is JSON (or says
//	                        no content type and parses), else a string; left out above 32 KiB
//	headers         map     the call's content-type and location headers, by lowercase name, when sent
//	polls           int     polls made so far, counted across controller restarts
//	pollStatusCode  int     the status of the last poll that was answered (not a transient failure)
//	pollBody        any     that poll's body, as body
//
// Expressions see the response variable as {status: int, body: any, headers: map(string, string)}.
// In waitForCompletion.statusURL it is the call's response, rebuilt from the outputs above (so its headers
// are only content-type and location); a relative status URL, as a Location header often is, is resolved
// against the call's url. In successExpression and failureExpression it is the polled response, with all
// its headers (lowercase names, first value). failureExpression is evaluated first; an expression that
// cannot be evaluated fails the stage.
//
// Cancel has nothing to stop: the remote is not told.
type Webhook struct {
	// HTTP makes the requests; redirects are not followed whatever its CheckRedirect says.
	HTTP *http.Client
	// Timeout bounds each request, reading the response included; zero means 30s.
	Timeout time.Duration
}

const (
	defaultWebhookTimeout = 30 * time.Second
	defaultPollInterval   = 10 * time.Second
	// maxResponseBytes is the most of a response body read; a longer one is treated as having none, so
	// that a remote cannot make the operator hold an unbounded body in memory.
	maxResponseBytes = 1 << 20
	// maxOutputBytes is the most of a body kept in outputs. The Execution, with every stage's outputs,
	// must stay well below etcd's 1.5 MiB object limit.
	maxOutputBytes = 32 << 10
)

// Start makes the call.
func (w Webhook) Start(ctx context.Context, s *engine.StageRun) error {
	wh := s.Spec.Webhook
	req, msg := renderCall(s)
	if msg != "" {
		s.Fail(msg)
		return nil
	}
	var interval time.Duration
	if c := wh.WaitForCompletion; c != nil {
		d, err := pollInterval(c)
		if err != nil {
			s.Fail(fmt.Sprintf("webhook.waitForCompletion.pollInterval: %v", err))
			return nil
		}
		interval = d
	}
	if err := s.EnsureFresh(ctx); err != nil {
		return err
	}
	resp, err := w.do(ctx, req)
	if err != nil && ctx.Err() != nil {
		// The reconcile is being cut short (the manager stops): not the remote's doing. The next reconcile
		// starts the stage again, and calls again, as the doc comment warns.
		return ctx.Err()
	}
	if err != nil {
		s.Fail(fmt.Sprintf("%s failed: %v", req, err))
		return nil
	}
	note, err := setResponseOutputs(s, "statusCode", "body", resp)
	if err != nil {
		// Returning the error would make the engine start the stage, and so call, again.
		s.Fail(err.Error())
		return nil
	}
	if !successful(resp.status, wh.SuccessStatuses) {
		s.Fail(fmt.Sprintf("%s returned %d, not one of the success statuses %s%s", req, resp.status, successText(wh.SuccessStatuses), note))
		return nil
	}
	if wh.WaitForCompletion == nil {
		s.Succeed(fmt.Sprintf("%s returned %d%s", req, resp.status, note))
		return nil
	}
	s.Running(fmt.Sprintf("%s returned %d; polling for completion every %s%s", req, resp.status, interval, note), s.Now.Add(interval))
	return nil
}

// Check polls the status URL when the next poll is due.
func (w Webhook) Check(ctx context.Context, s *engine.StageRun) error {
	c := s.Spec.Webhook.WaitForCompletion
	if c == nil {
		return nil // Start finishes a stage without waitForCompletion; only a hand-edited status gets here.
	}
	if next := s.Status.NextCheckTime; next != nil && s.Now.Before(next.Time) {
		return nil
	}
	interval, err := pollInterval(c)
	if err != nil {
		s.Fail(fmt.Sprintf("webhook.waitForCompletion.pollInterval: %v", err))
		return nil
	}
	polls := outputInt(s, "polls") + 1
	if err := s.SetOutput("polls", polls); err != nil {
		return err
	}
	req, msg := renderPoll(s)
	if msg != "" {
		s.Fail(msg)
		return nil
	}
	// Polls are GETs: repeating one from a stale cache does no harm, so no EnsureFresh here.
	retry := func(why string) {
		s.Running(fmt.Sprintf("poll %d failed: %s; retrying in %s", polls, why, interval), s.Now.Add(interval))
	}
	resp, err := w.do(ctx, req)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		retry(fmt.Sprintf("%s: %v", req, err))
		return nil
	}
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

// Cancel has nothing to stop: the call is over, and a poll only reads.
func (Webhook) Cancel(context.Context, *engine.StageRun) error { return nil }

// request is a rendered HTTP request. Its String is what messages show of it.
type request struct {
	method string
	url    *url.URL
	header http.Header
	body   string
}

// String gives the method and the URL without userinfo, query and fragment, which may carry tokens.
func (r request) String() string {
	u := url.URL{Scheme: r.url.Scheme, Host: r.url.Host, Path: r.url.Path, RawPath: r.url.RawPath}
	return r.method + " " + u.String()
}

// renderCall renders the call. A non-empty message says why it cannot be made.
func renderCall(s *engine.StageRun) (request, string) {
	wh := s.Spec.Webhook
	raw, err := s.Render(wh.URL, nil)
	if err != nil {
		return request{}, fmt.Sprintf("webhook.url: %v", err)
	}
	u, msg := parseURL("webhook.url", raw, nil)
	if msg != "" {
		return request{}, msg
	}
	header, msg := renderHeaders(s)
	if msg != "" {
		return request{}, msg
	}
	body, err := s.Render(wh.Body, nil)
	if err != nil {
		return request{}, fmt.Sprintf("webhook.body: %v", err)
	}
	if body != "" && header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/json")
	}
	if header.Get("Idempotency-Key") == "" {
		header.Set("Idempotency-Key", string(s.Execution.UID)+"/"+s.Spec.Name)
	}
	method := string(wh.Method)
	if method == "" {
		method = http.MethodPost
	}
	return request{method: method, url: u, header: header, body: body}, ""
}

// renderPoll renders a poll: a GET of the status URL with the call's headers, which usually carry the
// credentials the status endpoint wants too.
func renderPoll(s *engine.StageRun) (request, string) {
	wh := s.Spec.Webhook
	raw, err := s.Render(wh.WaitForCompletion.StatusURL, map[string]any{expr.VarResponse: callResponse(s)}, expr.WithResponse())
	if err != nil {
		return request{}, fmt.Sprintf("webhook.waitForCompletion.statusURL: %v", err)
	}
	var base *url.URL
	if callURL, err := s.Render(wh.URL, nil); err == nil {
		base, _ = url.Parse(callURL)
	}
	u, msg := parseURL("webhook.waitForCompletion.statusURL", raw, base)
	if msg != "" {
		return request{}, msg
	}
	header, msg := renderHeaders(s)
	if msg != "" {
		return request{}, msg
	}
	return request{method: http.MethodGet, url: u, header: header}, ""
}

func renderHeaders(s *engine.StageRun) (http.Header, string) {
	header := http.Header{}
	hs := s.Spec.Webhook.Headers
	keys := make([]string, 0, len(hs))
	for k := range hs {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first bad header named is the same on every reconcile
	for _, k := range keys {
		v, err := s.Render(hs[k], nil)
		if err != nil {
			return nil, fmt.Sprintf("webhook.headers.%s: %v", k, err)
		}
		header.Set(k, v)
	}
	return header, ""
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
