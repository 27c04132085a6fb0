package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
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

// response is an HTTP response as the stage keeps it.
type response struct {
	status int
	header http.Header
	// body is the body read, nil when it was longer than maxResponseBytes.
	body     []byte
	tooLarge bool
}

// do makes one request within the stage's time limit, without following redirects.
func (w Webhook) do(ctx context.Context, r request) (*response, error) {
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = defaultWebhookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url.String(), body)
	if err != nil {
		return nil, cause(err, timeout)
	}
	req.Header = r.header.Clone()
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host // net/http ignores a Host entry in Header
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "gennaker-webhook")
	}

	client := http.DefaultClient
	if w.HTTP != nil {
		client = w.HTTP
	}
	noRedirects := *client
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirects.Do(req)
	if err != nil {
		return nil, cause(err, timeout)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the response: %w", cause(err, timeout))
	}
	out := &response{status: resp.StatusCode, header: resp.Header, body: data}
	if len(data) > maxResponseBytes {
		out.body, out.tooLarge = nil, true
	}
	return out, nil
}

// cause strips the *url.Error wrapper, whose message holds the whole URL, query and userinfo included,
// and says plainly when the time limit was hit.
func cause(err error, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no response within %s", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// bodyValue is the body as outputs and expressions hold it: JSON when the response is JSON, else a string.
// Numbers keep their precision (an int stays an int), unlike a float64 round trip.
func (r *response) bodyValue() (any, bool) {
	if r.tooLarge {
		return nil, false
	}
	if isJSON(r.header.Get("Content-Type")) && json.Valid(r.body) {
		return json.RawMessage(r.body), true
	}
	return string(r.body), true
}

// vars is the response as expressions see it.
func (r *response) vars() map[string]any {
	headers := make(map[string]string, len(r.header))
	for k, v := range r.header {
		if len(v) > 0 {
			headers[strings.ToLower(k)] = v[0]
		}
	}
	m := map[string]any{"status": int64(r.status), "headers": headers}
	if v, ok := r.bodyValue(); ok {
		m["body"] = fromJSON(v)
	}
	return m
}

// bodyNote explains, after an expression error, a body that is not what the expression expected.
func (r *response) bodyNote() string {
	ct := r.header.Get("Content-Type")
	switch {
	case r.tooLarge:
		return fmt.Sprintf(" (the response body was over %d bytes and is not given to expressions)", maxResponseBytes)
	case !isJSON(ct) && json.Valid(r.body):
		return fmt.Sprintf(" (response.body is a string: the content type is %s, not JSON)", ct)
	}
	return ""
}

// keptHeaders are the response headers of the call kept in outputs: what tells how to read the body and
// where to poll, and nothing that could be a session.
var keptHeaders = []string{"Content-Type", "Location"}

// setResponseOutputs records a response's status and body under the given output keys, and, for the
// call, its kept headers. It returns a note for the stage's message when the body was not kept.
func setResponseOutputs(s *engine.StageRun, statusKey, bodyKey string, r *response) (string, error) {
	if err := s.SetOutput(statusKey, r.status); err != nil {
		return "", err
	}
	delete(s.Status.Outputs, bodyKey)
	note := ""
	switch body, ok := r.bodyValue(); {
	case !ok:
		note = fmt.Sprintf(" (response body over %d bytes not read)", maxResponseBytes)
	case len(r.body) > maxOutputBytes:
		note = fmt.Sprintf(" (response body of %d bytes not kept in outputs.%s: over %d)", len(r.body), bodyKey, maxOutputBytes)
	default:
		if err := s.SetOutput(bodyKey, body); err != nil {
			return "", err
		}
	}
	if bodyKey == "body" {
		headers := map[string]string{}
		for _, k := range keptHeaders {
			if v := r.header.Get(k); v != "" {
				headers[strings.ToLower(k)] = v
			}
		}
		if err := s.SetOutput("headers", headers); err != nil {
			return "", err
		}
	}
	return note, nil
}

// callResponse rebuilds the call's response from the stage's outputs, for the status URL: the stage keeps
// nothing else between reconciles.
func callResponse(s *engine.StageRun) map[string]any {
	m := map[string]any{}
	for key, name := range map[string]string{"statusCode": "status", "body": "body", "headers": "headers"} {
		if raw, ok := s.Status.Outputs[key]; ok {
			m[name] = fromJSON(json.RawMessage(raw.Raw))
		}
	}
	return m
}

// fromJSON decodes a JSON value for CEL with integers as int64 (so that an id of 1234567890123 renders as
// such, not as 1.234567890123e+12) and other numbers as float64. Anything else is returned as is.
func fromJSON(v any) any {
	raw, ok := v.(json.RawMessage)
	if !ok {
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return string(raw)
	}
	return numbers(out)
}

func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = numbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = numbers(x)
		}
	}
	return v
}

// isJSON says whether a body of this content type is parsed: JSON types, and no type at all.
func isJSON(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

func outputInt(s *engine.StageRun, key string) int {
	raw, ok := s.Status.Outputs[key]
	if !ok {
		return 0
	}
	var n int
	if err := json.Unmarshal(raw.Raw, &n); err != nil {
		return 0
	}
	return n
}

func successful(status int, want []int32) bool {
	if len(want) == 0 {
		return status >= 200 && status < 300
	}
	return slices.Contains(want, int32(status))
}

func successText(want []int32) string {
	if len(want) == 0 {
		return "2xx"
	}
	s := make([]string, len(want))
	for i, w := range want {
		s[i] = strconv.Itoa(int(w))
	}
	return strings.Join(s, ", ")
}

// transient says whether a polled status may well be different on the next poll.
func transient(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

func times(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// NewWebhookClient returns the HTTP client webhook stages should be given: http.DefaultTransport's
// settings, with a dialer that refuses link-local addresses and the cloud metadata services. The operator
// runs with a cloud identity (workload identity, IRSA) that the metadata service hands out to whoever asks
// from its pod; a pipeline author could otherwise point a webhook at http://169.254.169.254/... and read
// the operator's credentials back from the stage's outputs. Loopback and private addresses stay allowed:
// in-cluster services are what webhooks often call. An HTTP proxy from the environment is dialed instead
// of the remote, so behind one the check applies to the proxy only.
func NewWebhookClient() *http.Client {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	t = t.Clone()
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: refuseMetadata}
	t.DialContext = d.DialContext
	return &http.Client{Transport: t}
}

// awsIPv6Metadata is the EC2 instance metadata service's IPv6 address, which is not link-local.
var awsIPv6Metadata = netip.MustParseAddr("fd00:ec2::254")

// refuseMetadata runs after name resolution, on the address about to be connected to, so a name that
// resolves to the metadata service (metadata.google.internal, or a rebinding trick) is refused too.
func refuseMetadata(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	ip = ip.Unmap()
	if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip == awsIPv6Metadata {
		return fmt.Errorf("%s is a link-local or cloud metadata address, which webhooks may not call", host)
	}
	return nil
}
