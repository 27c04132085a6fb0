package trigger

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/validation"
)

// Headers of a webhook trigger's call. The names are GitHub's, so that a repository webhook works as is;
// other CI systems send the same headers.
const (
	HeaderSignature = "X-Hub-Signature-256"
	HeaderDelivery  = "X-GitHub-Delivery"
	// HeaderDeliveryID is the delivery header for callers that are not GitHub.
	HeaderDeliveryID = "X-Delivery-ID"
	// HeaderEvent is GitHub's event type; a ping starts nothing.
	HeaderEvent = "X-GitHub-Event"
)

// DefaultMaxBody is the largest body a webhook trigger reads: CI payloads are a few KiB (GitHub caps its
// own at 25 MiB, but a push event with many commits is still far below this).
const DefaultMaxBody = 1 << 20

// maxDeliveryID bounds a delivery ID, as status.trigger.deliveryID does.
const maxDeliveryID = 256

// DefaultRemembered is how many calls a Webhooks keeps in memory, across all triggers: a replay of one of
// them, under its delivery ID or another, is refused even after its run was pruned by the history limit.
// Older ones are still refused as long as their run exists (its name is derived from the body).
const DefaultRemembered = 10000

// LabelDelivery is on a webhook trigger's run: a hash of its delivery ID, which may be longer than a label
// value, so that a call repeating the delivery ID with another body finds the run in the cache.
const LabelDelivery = "trigger.gennaker.io/delivery"

// handlerTimeout bounds the API calls of one call, after its body is read.
const handlerTimeout = 10 * time.Second

// Webhooks serves the webhook triggers of every Pipeline at /triggers/<namespace>/<pipeline>/<trigger>.
// A call starts one run, or is refused with nothing started: 401 without a signature, with a wrong one or
// for a trigger that does not exist (one answer for all three: a signature cannot be checked without the
// trigger's secret, and a distinct answer for a missing trigger would tell a caller without the secret
// which pipelines exist), 413 for a body over MaxBody, 422 without a delivery ID, with a body that is not
// JSON or values that do not render, 409 for a delivery ID or a body already seen, or a run of that name
// that this trigger did not start; a signed GitHub ping gets 200 and starts nothing. The answer's body is
// JSON: {"execution": name} or {"error": why}; a 503's says nothing of the cause, which is logged.
type Webhooks struct {
	// Client reads Pipelines and runs (from the cache) and creates runs.
	Client client.Client
	// Secrets reads past the cache: the shared secrets, which the cache keeps no data of, a run that
	// exists but the cache has not seen yet, and the Pipeline's record of pruned calls.
	Secrets client.Reader
	// Recorder, if set, records each started run as an Event on its Pipeline.
	Recorder events.EventRecorder
	// MaxBody bounds the body; zero means DefaultMaxBody.
	MaxBody int64
	// Remembered bounds the calls kept; zero means DefaultRemembered.
	Remembered int

	mu   sync.Mutex
	seen map[string]string // delivery or body key -> the delivery ID that first used it
	fifo []string
}

// Handler is the endpoint's mux: POST /triggers/{namespace}/{pipeline}/{trigger}, nothing else.
func (w *Webhooks) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /triggers/{namespace}/{pipeline}/{trigger}", w)
	return mux
}

// refusal is an answer other than 202. cause, if set, is logged and never answered: an API server's error
// names resources and internals a caller has no business with.
type refusal struct {
	code  int
	why   string
	cause error
}

func refuse(code int, format string, args ...any) *refusal {
	return &refusal{code: code, why: fmt.Sprintf(format, args...)}
}

// unavailable is the 503 of a failure on our side.
func unavailable(cause error) *refusal {
	return &refusal{code: http.StatusServiceUnavailable, why: "the trigger cannot be served now; try again later", cause: cause}
}

// unverified is the one answer to a signature that does not verify, whether the trigger exists or not.
func unverified() *refusal {
	return refuse(http.StatusUnauthorized, "the signature does not verify: this path names no webhook trigger whose secret signs this body")
}

func (w *Webhooks) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	key := types.NamespacedName{Namespace: req.PathValue("namespace"), Name: req.PathValue("pipeline")}
	name := req.PathValue("trigger")
	logger := log.FromContext(req.Context()).WithValues("pipeline", key, "trigger", name, "remote", req.RemoteAddr)
	ex, r := w.serve(req, key, name)
	if r != nil {
		if r.cause != nil {
			logger.Error(r.cause, "could not serve a webhook trigger call", "status", r.code)
		} else {
			logger.Info("refused a webhook trigger call", "status", r.code, "reason", r.why)
		}
		webhookRefusals.WithLabelValues(strconv.Itoa(r.code)).Inc()
		if r.code == http.StatusServiceUnavailable {
			rw.Header().Set("Retry-After", "5")
		}
		answer(rw, r.code, map[string]string{"error": r.why})
		return
	}
	logger.Info("a webhook trigger started an Execution", "execution", ex.Name, "deliveryID", ex.Annotations[v1alpha1.AnnotationDeliveryID])
	answer(rw, http.StatusAccepted, map[string]string{"execution": ex.Name})
}

func answer(rw http.ResponseWriter, code int, body map[string]string) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	_ = json.NewEncoder(rw).Encode(body)
}

// serve checks the call in the order that reveals least to a caller without the secret: the body's size,
// the signature (with the trigger's secret, so a missing trigger fails as a wrong signature does); only
// then the delivery ID, a replay and the payload.
func (w *Webhooks) serve(req *http.Request, key types.NamespacedName, name string) (*v1alpha1.Execution, *refusal) {
	limit := w.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	if req.ContentLength > limit {
		return nil, refuse(http.StatusRequestEntityTooLarge, "the body is %d bytes, more than %d", req.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, req.Body, limit))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return nil, refuse(http.StatusRequestEntityTooLarge, "the body is more than %d bytes", limit)
		}
		return nil, refuse(http.StatusBadRequest, "the body could not be read")
	}
	ctx, cancel := context.WithTimeout(req.Context(), handlerTimeout)
	defer cancel()
	header := req.Header.Get(HeaderSignature)
	if header == "" {
		return nil, refuse(http.StatusUnauthorized, "no signature: set %s to sha256=<HMAC-SHA256 of the body with the shared secret, in hex>", HeaderSignature)
	}
	given, ok := strings.CutPrefix(header, "sha256=")
	sig, err := hex.DecodeString(given)
	if !ok || err != nil {
		return nil, refuse(http.StatusUnauthorized, "%s must be sha256=<hex>", HeaderSignature)
	}

	var pl v1alpha1.Pipeline
	if err := w.Client.Get(ctx, key, &pl); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, w.noSuchTrigger(ctx, key.Namespace)
		}
		return nil, unavailable(fmt.Errorf("reading pipeline %s: %w", key, err))
	}
	index := -1
	for i, t := range pl.Spec.Triggers {
		if t.Name == name && t.Webhook != nil {
			index = i
		}
	}
	if index < 0 {
		return nil, w.noSuchTrigger(ctx, key.Namespace)
	}
	if r := w.verify(ctx, &pl, pl.Spec.Triggers[index].Webhook, sig, body); r != nil {
		return nil, r
	}

	// GitHub sends a ping, signed, when a webhook is set up: answered, and nothing started.
	if req.Header.Get(HeaderEvent) == "ping" {
		return nil, refuse(http.StatusOK, "pong: the signature matches; pings start nothing")
	}
	delivery := req.Header.Get(HeaderDelivery)
	if delivery == "" {
		delivery = req.Header.Get(HeaderDeliveryID)
	}
	switch {
	case delivery == "":
		return nil, refuse(http.StatusUnprocessableEntity, "no delivery ID: set the %s or %s header to an ID unique to this call", HeaderDelivery, HeaderDeliveryID)
	case len(delivery) > maxDeliveryID || strings.ContainsFunc(delivery, func(r rune) bool { return r < 0x21 || r > 0x7e }):
		return nil, refuse(http.StatusUnprocessableEntity, "the delivery ID must be at most %d printable ASCII characters", maxDeliveryID)
	}
	// The signature covers the body, not the delivery ID: a captured call sent again under a new ID is the
	// same body, so the body names the run and is remembered as well as the ID.
	sum := sha256.Sum256(body)
	bodyHash := hex.EncodeToString(sum[:])
	trig := key.String() + "/" + name + "/"
	byDelivery, byBody := "delivery\x00"+trig+delivery, "body\x00"+trig+bodyHash
	if _, ok := w.remembers(byDelivery); ok {
		return nil, refuse(http.StatusConflict, "delivery %s was already received", delivery)
	}
	if first, ok := w.remembers(byBody); ok {
		return nil, refuse(http.StatusConflict, "this body was already received as delivery %s", first)
	}
	deliveryLabel := shortHash(delivery)[:40]
	if r := w.deliveredBefore(ctx, &pl, index, delivery, deliveryLabel); r != nil {
		return nil, r
	}
	run := Run{
		Type: v1alpha1.TriggerWebhook, Index: index, Key: bodyHash,
		Annotations: map[string]string{v1alpha1.AnnotationDeliveryID: delivery},
		Labels:      map[string]string{LabelDelivery: deliveryLabel},
	}
	if invalid := validation.Pipeline(&pl).ToAggregate(); invalid != nil {
		return nil, refuse(http.StatusUnprocessableEntity, "pipeline %s is invalid: %v", key, invalid)
	}
	var payload any
	if err := json.Unmarshal(body, &payload); err != nil {
		return nil, refuse(http.StatusUnprocessableEntity, "the body is not JSON: %v", err)
	}

	if r := w.prunedBefore(ctx, key, index, delivery, deliveryLabel, run.Name(&pl)); r != nil {
		return nil, r
	}
	run.Payload = payload
	ex, created, err := Start(ctx, w.Client, &pl, run)
	switch {
	case err != nil && ex == nil: // a value that does not render
		return nil, refuse(http.StatusUnprocessableEntity, "%v", err)
	case err != nil:
		return nil, unavailable(err)
	case !created:
		return nil, w.existing(ctx, &pl, index, ex.Name, delivery, byDelivery, byBody)
	}
	w.remember(byDelivery, delivery)
	w.remember(byBody, delivery)
	if w.Recorder != nil {
		w.Recorder.Eventf(&pl, ex, corev1.EventTypeNormal, "Triggered", "Trigger",
			"webhook trigger %s started Execution %s, delivery %s", name, ex.Name, delivery)
	}
	return ex, nil
}

// deliveredBefore refuses a delivery ID that one of the trigger's runs in the cache already carries, with
// another body (the same body finds its run by name).
func (w *Webhooks) deliveredBefore(ctx context.Context, pl *v1alpha1.Pipeline, index int, delivery, label string) *refusal {
	var runs v1alpha1.ExecutionList
	if err := w.Client.List(ctx, &runs, client.InNamespace(pl.Namespace), client.MatchingLabels{LabelDelivery: label}); err != nil {
		return unavailable(fmt.Errorf("listing the runs of delivery %s: %w", delivery, err))
	}
	for i := range runs.Items {
		ex := &runs.Items[i]
		if StartedBy(ex, pl, index, v1alpha1.TriggerWebhook) && ex.Annotations[v1alpha1.AnnotationDeliveryID] == delivery {
			return refuse(http.StatusConflict, "delivery %s was already received: it started Execution %s", delivery, ex.Name)
		}
	}
	return nil
}

// PrunedCalls is the status entry of pl's webhook trigger index that keeps the calls whose runs the
// history limit deleted, or nil. It is found by the trigger's name, from which its runs' names derive, so
// that a trigger moved to another index keeps it.
func PrunedCalls(pl *v1alpha1.Pipeline, index int) *v1alpha1.TriggerStatus {
	tr := &pl.Spec.Triggers[index]
	if tr.Webhook == nil || tr.Name == "" {
		return nil
	}
	for i := range pl.Status.Triggers {
		if st := &pl.Status.Triggers[i]; st.Name == tr.Name && st.Webhook != nil {
			return st
		}
	}
	return nil
}

// prunedBefore refuses a call whose run the history limit deleted, as the Pipeline's status records them:
// this manager may never have seen the call (it restarted since, or another replica answered it). pl is
// read from the API server, not the cache: the cache may have seen the run deleted before the record,
// which the Pipeline controller writes first.
func (w *Webhooks) prunedBefore(ctx context.Context, key types.NamespacedName, index int, delivery, label, runName string) *refusal {
	var pl v1alpha1.Pipeline
	if err := w.Secrets.Get(ctx, key, &pl); err != nil {
		return unavailable(fmt.Errorf("reading pipeline %s: %w", key, err))
	}
	if index >= len(pl.Spec.Triggers) || pl.Spec.Triggers[index].Webhook == nil {
		return unavailable(fmt.Errorf("pipeline %s changed while the call was served", key))
	}
	st := PrunedCalls(&pl, index)
	if st == nil {
		return nil
	}
	for _, p := range st.Webhook.Pruned {
		switch {
		case p.Delivery == label:
			return refuse(http.StatusConflict, "delivery %s was already received: it started Execution %s, pruned by the history limit", delivery, p.Execution)
		case p.Execution == runName:
			return refuse(http.StatusConflict, "this body was already received: it started Execution %s, pruned by the history limit", runName)
		}
	}
	return nil
}

// existing is the answer when the run's name is taken: this trigger's run of the same body (a replay,
// under the same delivery ID or another), or a run someone else made under that name, which is not taken
// for ours.
func (w *Webhooks) existing(ctx context.Context, pl *v1alpha1.Pipeline, index int, runName, delivery, byDelivery, byBody string) *refusal {
	var ex v1alpha1.Execution
	key := types.NamespacedName{Namespace: pl.Namespace, Name: runName}
	err := w.Client.Get(ctx, key, &ex)
	if apierrors.IsNotFound(err) {
		// Created by another replica, or just before a restart: not in the cache yet.
		err = w.Secrets.Get(ctx, key, &ex)
	}
	if err != nil {
		return unavailable(fmt.Errorf("reading Execution %s, whose name the call maps to: %w", key, err))
	}
	if !StartedBy(&ex, pl, index, v1alpha1.TriggerWebhook) {
		return refuse(http.StatusConflict, "Execution %s exists and was not started by this trigger: nothing was started", runName)
	}
	first := ex.Annotations[v1alpha1.AnnotationDeliveryID]
	w.remember(byDelivery, delivery)
	w.remember(byBody, first)
	if first == delivery {
		return refuse(http.StatusConflict, "delivery %s was already received: it started Execution %s", delivery, runName)
	}
	return refuse(http.StatusConflict, "this body was already received as delivery %s: it started Execution %s", first, runName)
}

// decoySecret is a name no Secret can have (a colon is not allowed in one): reading it costs what reading a
// trigger's Secret does, and never finds one.
const decoySecret = "gennaker:no-such-secret"

// noSuchTrigger is the answer to a path that names no webhook trigger. It reads a Secret first, as verify
// does, so that the time the answer takes does not tell a caller without the secret which triggers exist.
func (w *Webhooks) noSuchTrigger(ctx context.Context, namespace string) *refusal {
	_ = w.Secrets.Get(ctx, types.NamespacedName{Namespace: namespace, Name: decoySecret}, &corev1.Secret{})
	return unverified()
}

// verify checks the body's signature sig against the trigger's shared secret, in constant time. The
// secret's value never reaches an answer or a log line.
func (w *Webhooks) verify(ctx context.Context, pl *v1alpha1.Pipeline, wh *v1alpha1.WebhookTrigger, sig, body []byte) *refusal {
	var secret corev1.Secret
	if err := w.Secrets.Get(ctx, types.NamespacedName{Namespace: pl.Namespace, Name: wh.SecretRef.Name}, &secret); err != nil {
		return unavailable(fmt.Errorf("reading Secret %s, the webhook trigger's shared secret: %w", wh.SecretRef.Name, err))
	}
	key := secret.Data[wh.SecretRef.Key]
	if len(key) == 0 {
		return unavailable(fmt.Errorf("key %s of Secret %s, the webhook trigger's shared secret, is empty or missing", wh.SecretRef.Key, wh.SecretRef.Name))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return unverified()
	}
	return nil
}

// remembers returns the delivery ID that first used key.
func (w *Webhooks) remembers(key string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, ok := w.seen[key]
	return d, ok
}

// remember keeps key as first used by delivery, forgetting the oldest beyond Remembered.
func (w *Webhooks) remember(key, delivery string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen == nil {
		w.seen = map[string]string{}
	}
	if _, ok := w.seen[key]; ok {
		return
	}
	w.seen[key] = delivery
	w.fifo = append(w.fifo, key)
	limit := w.Remembered
	if limit <= 0 {
		limit = DefaultRemembered
	}
	for len(w.fifo) > limit {
		delete(w.seen, w.fifo[0])
		w.fifo = w.fifo[1:]
	}
}

// Limits of the trigger listener, which faces CI systems and anything else that reaches it. A body of
// DefaultMaxBody at 100 KiB/s fits in ServerReadTimeout. The write timeout runs from the end of the
// headers, so it is the read timeout plus writeAfterRead, which covers handlerTimeout.
const (
	ServerReadHeaderTimeout = 5 * time.Second
	ServerReadTimeout       = 15 * time.Second
	writeAfterRead          = handlerTimeout + 5*time.Second
	ServerIdleTimeout       = time.Minute
	// DefaultMaxInFlight bounds the calls served at once (each may hold a body of MaxBody in memory);
	// beyond it a call gets 503 with Retry-After.
	DefaultMaxInFlight = 64
)

// Server serves h on l until ctx ends: a manager Runnable that every replica runs (the runs' names make a
// call that reaches two replicas start one run).
type Server struct {
	Listener net.Listener
	Handler  http.Handler
	// MaxInFlight bounds the calls served at once; zero means DefaultMaxInFlight.
	MaxInFlight int
	// ReadHeaderTimeout, ReadTimeout and IdleTimeout, where zero, are the Server* constants; a zero
	// WriteTimeout is the read timeout plus the time to answer.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// NeedLeaderElection is false: every replica answers calls.
func (s *Server) NeedLeaderElection() bool { return false }

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// limit answers 503 to a call beyond max served at once, without reading it: slow callers holding every
// slot delay the others' calls, but cannot make the manager hold more than max bodies.
func limit(max int, h http.Handler) http.Handler {
	slots := make(chan struct{}, max)
	return http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			h.ServeHTTP(rw, req)
		default:
			webhookRefusals.WithLabelValues(strconv.Itoa(http.StatusServiceUnavailable)).Inc()
			rw.Header().Set("Retry-After", "1")
			rw.Header().Set("Connection", "close")
			answer(rw, http.StatusServiceUnavailable, map[string]string{"error": "too many calls in flight; try again later"})
		}
	})
}

// Start serves until ctx ends, then shuts down, letting calls in flight finish for a few seconds.
func (s *Server) Start(ctx context.Context) error {
	inFlight := s.MaxInFlight
	if inFlight <= 0 {
		inFlight = DefaultMaxInFlight
	}
	read := orDefault(s.ReadTimeout, ServerReadTimeout)
	srv := &http.Server{Handler: limit(inFlight, s.Handler),
		ReadHeaderTimeout: min(orDefault(s.ReadHeaderTimeout, ServerReadHeaderTimeout), read),
		ReadTimeout:       read,
		WriteTimeout:      orDefault(s.WriteTimeout, read+writeAfterRead),
		IdleTimeout:       orDefault(s.IdleTimeout, ServerIdleTimeout),
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx }}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(s.Listener) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
