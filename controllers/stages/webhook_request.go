package stages

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/controllers/engine/expr"
)

// request is a rendered HTTP request. Its String is what messages show of it.
type request struct {
	method string
	url    *url.URL
	header http.Header
	body   string
}

// String gives the method and the URL as redact shows it.
func (r request) String() string { return r.method + " " + redact(r.url) }

// redact shows a URL the way messages, Events and logs may: scheme, host and the first path segment, then
// a marker where more was left out. Tokens ride in the rest of a path (Slack's
// /services/T000/B000/XXXX), in the query (?token=) and in userinfo, none of which is shown.
func redact(u *url.URL) string {
	out := u.Scheme + "://" + u.Host
	first, _, more := strings.Cut(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	if first != "" {
		out += "/" + first
	}
	switch {
	case more:
		out += "/…"
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		out += "?…"
	}
	return out
}

// renderCall renders the call. A non-empty message says why it cannot be made; an error is transient.
func (w Webhook) renderCall(ctx context.Context, s *engine.StageRun) (request, string, error) {
	wh := s.Spec.Webhook
	raw, err := s.Render(wh.URL, nil, expr.EscapeURL())
	if err != nil {
		return request{}, fmt.Sprintf("webhook.url: %v", err), nil
	}
	u, msg := parseURL("webhook.url", raw, nil)
	if msg != "" {
		return request{}, msg, nil
	}
	header, msg, err := w.renderHeaders(ctx, s, true)
	if err != nil || msg != "" {
		return request{}, msg, err
	}
	if wh.Body != "" && header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/json")
	}
	var opts []expr.Option
	if isJSON(header.Get("Content-Type")) {
		opts = append(opts, expr.EscapeJSON())
	}
	body, err := s.Render(wh.Body, nil, opts...)
	if err != nil {
		return request{}, fmt.Sprintf("webhook.body: %v", err), nil
	}
	if header.Get("Idempotency-Key") == "" {
		header.Set("Idempotency-Key", string(s.Execution.UID)+"/"+s.Spec.Name)
	}
	method := string(wh.Method)
	if method == "" {
		method = http.MethodPost
	}
	return request{method: method, url: u, header: header, body: body}, "", nil
}

// renderPoll renders a poll: a GET of the status URL with the call's headers, which usually carry the
// credentials the status endpoint wants too. The headersFrom Secrets go only to the call's own scheme,
// host and port: a status URL may come from the remote's answer (a Location header, a body field), and
// the remote must not be able to send the stage's tokens elsewhere.
func (w Webhook) renderPoll(ctx context.Context, s *engine.StageRun) (request, string, error) {
	wh := s.Spec.Webhook
	raw, err := s.Render(wh.WaitForCompletion.StatusURL, map[string]any{expr.VarResponse: callResponse(s)}, expr.WithResponse(), expr.EscapeURL())
	if err != nil {
		return request{}, fmt.Sprintf("webhook.waitForCompletion.statusURL: %v", err), nil
	}
	var base *url.URL
	if callURL, err := s.Render(wh.URL, nil, expr.EscapeURL()); err == nil {
		base, _ = url.Parse(callURL)
	}
	u, msg := parseURL("webhook.waitForCompletion.statusURL", raw, base)
	if msg != "" {
		return request{}, msg, nil
	}
	header, msg, err := w.renderHeaders(ctx, s, base != nil && sameOrigin(u, base))
	if err != nil || msg != "" {
		return request{}, msg, err
	}
	return request{method: http.MethodGet, url: u, header: header}, "", nil
}

// sameOrigin says whether two absolute http(s) URLs have one scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "https") {
			return "443"
		}
		return "80"
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// renderHeaders renders headers, then, with secrets, reads headersFrom, whose values win.
func (w Webhook) renderHeaders(ctx context.Context, s *engine.StageRun, secrets bool) (http.Header, string, error) {
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
			return nil, fmt.Sprintf("webhook.headers.%s: %v", k, err), nil
		}
		header.Set(k, v)
	}
	if !secrets {
		return header, "", nil
	}
	for i, h := range s.Spec.Webhook.HeadersFrom {
		v, msg, err := w.secretValue(ctx, s.Execution.Namespace, fmt.Sprintf("webhook.headersFrom[%d].valueFrom.secretKeyRef", i), h.ValueFrom.SecretKeyRef.Name, h.ValueFrom.SecretKeyRef.Key)
		if err != nil || msg != "" {
			return nil, msg, err
		}
		header.Set(h.Name, v)
	}
	return header, "", nil
}

// secretValue reads a key of a Secret of the run's namespace, past the cache. A missing Secret or key is
// the pipeline's to fix (a message naming field and Secret); any other error is transient. Neither ever
// holds the value.
func (w Webhook) secretValue(ctx context.Context, namespace, field, name, key string) (string, string, error) {
	if w.Secrets == nil {
		return "", fmt.Sprintf("%s: this operator reads no Secrets", field), nil
	}
	var secret corev1.Secret
	err := w.Secrets.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &secret)
	if apierrors.IsNotFound(err) {
		return "", fmt.Sprintf("%s: Secret %s/%s not found", field, namespace, name), nil
	}
	if err != nil {
		return "", "", fmt.Errorf("%s: reading Secret %s/%s: %w", field, namespace, name, err)
	}
	v, ok := secret.Data[key]
	if !ok {
		return "", fmt.Sprintf("%s: Secret %s/%s has no key %s", field, namespace, name, key), nil
	}
	return string(v), "", nil
}
