package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// response is an HTTP response as the stage keeps it.
type response struct {
	status int
	header http.Header
	// body is the body read, nil when it was longer than the stage's maxBodyBytes.
	body     []byte
	tooLarge bool
	// limit is the stage's maxBodyBytes.
	limit int
}

// answer is what a request handed over to Calls brings back: a response, or why there is none.
type answer struct {
	resp *response
	// err says why, without the URL (see cause).
	err error
}

// answerSize is what an answer weighs in Calls' memory.
func answerSize(a *answer) int64 {
	if a.resp == nil {
		return 0
	}
	n := len(a.resp.body)
	for k, vs := range a.resp.header {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	return int64(n)
}

// maxBodyBytes is the stage's maxBodyBytes, defaulted as the API does for a stage built without it.
func maxBodyBytes(wh *v1alpha1.WebhookStage) int {
	if wh.MaxBodyBytes == nil {
		return defaultMaxBodyBytes
	}
	return int(*wh.MaxBodyBytes)
}

// defaultMaxBodyBytes is the API's default of maxBodyBytes.
const defaultMaxBodyBytes = 32 << 10

// do makes one request within ctx's deadline, without following redirects, and reads at most limit+1
// bytes of the body: enough to know that it is over limit.
func (w Webhook) do(ctx context.Context, r request, limit int) *answer {
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url.String(), body)
	if err != nil {
		return &answer{err: cause(ctx, err, w.Calls.Timeout())}
	}
	req.Header = r.header.Clone()
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host // net/http ignores a Host entry in Header
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "gennaker-webhook")
	}

	client := w.HTTP
	if client == nil {
		client = defaultWebhookClient
	}
	noRedirects := *client
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirects.Do(req)
	if err != nil {
		return &answer{err: cause(ctx, err, w.Calls.Timeout())}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return &answer{err: fmt.Errorf("reading the response: %w", cause(ctx, err, w.Calls.Timeout()))}
	}
	out := &response{status: resp.StatusCode, header: resp.Header, body: data, limit: limit}
	if len(data) > limit {
		out.body, out.tooLarge = nil, true
	}
	return &answer{resp: out}
}

// defaultWebhookClient is the client of a Webhook given none.
var defaultWebhookClient = NewWebhookClient(nil)

// cause strips the *url.Error wrapper, whose message holds the whole URL, query and userinfo included,
// and says plainly when the time limit was hit.
func cause(ctx context.Context, err error, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
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
		return fmt.Sprintf(" (the response body was over maxBodyBytes, %d, and is not given to expressions)", r.limit)
	case !isJSON(ct) && json.Valid(r.body):
		return fmt.Sprintf(" (response.body is a string: the content type is %s, not JSON)", ct)
	}
	return ""
}

// keptHeaders are the response headers of the call kept in outputs: what tells how to read the body and
// where to poll, and nothing that could be a session.
var keptHeaders = []string{"Content-Type", "Location"}

// setResponseOutputs records a response's status and, when the stage keeps bodies, its body under the given
// output keys, and, for the call, its kept headers. It returns a note for the stage's message when the body
// was not kept for its size.
func setResponseOutputs(s *engine.StageRun, statusKey, bodyKey string, r *response) (string, error) {
	if err := s.SetOutput(statusKey, r.status); err != nil {
		return "", err
	}
	delete(s.Status.Outputs, bodyKey)
	note := ""
	keep := s.Spec.Webhook.KeepBody == nil || *s.Spec.Webhook.KeepBody
	switch body, ok := r.bodyValue(); {
	case !keep:
	case !ok:
		note = fmt.Sprintf(" (response body over maxBodyBytes, %d, not kept in outputs.%s)", r.limit, bodyKey)
	default:
		if err := s.SetOutput(bodyKey, body); err != nil {
			return "", err
		}
		// A body of characters that JSON escapes (control characters as \u0001) grows up to six times in
		// outputs; the status must stay bounded whatever the remote sends.
		if n := len(s.Status.Outputs[bodyKey].Raw); n > 2*r.limit+2 {
			delete(s.Status.Outputs, bodyKey)
			note = fmt.Sprintf(" (response body not kept in outputs.%s: %d bytes as JSON, over twice maxBodyBytes)", bodyKey, n)
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
