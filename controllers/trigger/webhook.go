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

// DefaultRemembered is how many delivery IDs a Webhooks keeps in memory, across all triggers: a replay of
// one of them is refused even after its run was pruned by the history limit. Older ones are still refused
// as long as their run exists (its name is derived from the delivery ID).
const DefaultRemembered = 10000

// Webhooks serves the webhook triggers of every Pipeline at /triggers/<namespace>/<pipeline>/<trigger>.
// A call starts one run, or is refused with nothing started: 401 without a signature, 403 with a wrong
// one, 413 for a body over MaxBody, 422 without a delivery ID, with a body that is not JSON or values that
// do not render, 409 for a delivery ID already seen, 404 for a trigger that does not exist; a signed GitHub
// ping gets 200 and starts nothing. The answer's body is JSON: {"execution": name} or {"error": why}.
type Webhooks struct {
	// Client reads Pipelines (from the cache) and creates runs.
	Client client.Client
	// Secrets reads the shared secrets past the cache, which keeps no Secret data.
	Secrets client.Reader
	// Recorder, if set, records each started run as an Event on its Pipeline.
	Recorder events.EventRecorder
	// MaxBody bounds the body; zero means DefaultMaxBody.
	MaxBody int64
	// Remembered bounds the delivery IDs kept; zero means DefaultRemembered.
	Remembered int

	mu   sync.Mutex
	seen map[string]bool
	fifo []string
}

// Handler is the endpoint's mux: POST /triggers/{namespace}/{pipeline}/{trigger}, nothing else.
func (w *Webhooks) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /triggers/{namespace}/{pipeline}/{trigger}", w)
	return mux
}

// refusal is an answer other than 202.
type refusal struct {
	code int
	why  string
}

func refuse(code int, format string, args ...any) *refusal {
	return &refusal{code: code, why: fmt.Sprintf(format, args...)}
}

func (w *Webhooks) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	key := types.NamespacedName{Namespace: req.PathValue("namespace"), Name: req.PathValue("pipeline")}
	name := req.PathValue("trigger")
	logger := log.FromContext(req.Context()).WithValues("pipeline", key, "trigger", name, "remote", req.RemoteAddr)
	ex, r := w.serve(req, key, name)
	if r != nil {
		logger.Info("refused a webhook trigger call", "status", r.code, "reason", r.why)
		webhookRefusals.WithLabelValues(strconv.Itoa(r.code)).Inc()
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
// the trigger, the signature; only then the delivery ID and the payload.
func (w *Webhooks) serve(req *http.Request, key types.NamespacedName, name string) (*v1alpha1.Execution, *refusal) {
	ctx := req.Context()
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
		return nil, refuse(http.StatusBadRequest, "reading the body: %v", err)
	}

	var pl v1alpha1.Pipeline
	if err := w.Client.Get(ctx, key, &pl); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, refuse(http.StatusNotFound, "pipeline %s has no webhook trigger %s", key, name)
		}
		return nil, refuse(http.StatusServiceUnavailable, "reading pipeline %s: %v", key, err)
	}
	index := -1
	for i, t := range pl.Spec.Triggers {
		if t.Name == name && t.Webhook != nil {
			index = i
		}
	}
	if index < 0 {
		return nil, refuse(http.StatusNotFound, "pipeline %s has no webhook trigger %s", key, name)
	}
	if r := w.verify(ctx, &pl, pl.Spec.Triggers[index].Webhook, req.Header.Get(HeaderSignature), body); r != nil {
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
	memo := key.String() + "/" + name + "/" + delivery
	if w.remembers(memo) {
		return nil, refuse(http.StatusConflict, "delivery %s was already received", delivery)
	}
	if invalid := validation.Pipeline(&pl).ToAggregate(); invalid != nil {
		return nil, refuse(http.StatusUnprocessableEntity, "pipeline %s is invalid: %v", key, invalid)
	}
	var payload any
	if err := json.Unmarshal(body, &payload); err != nil {
		return nil, refuse(http.StatusUnprocessableEntity, "the body is not JSON: %v", err)
	}

	ex, created, err := Start(ctx, w.Client, &pl, Run{
		Type: v1alpha1.TriggerWebhook, Index: index, Key: delivery, Payload: payload,
		Annotations: map[string]string{v1alpha1.AnnotationDeliveryID: delivery},
	})
	switch {
	case err != nil && ex == nil: // a value that does not render
		return nil, refuse(http.StatusUnprocessableEntity, "%v", err)
	case err != nil:
		return nil, refuse(http.StatusServiceUnavailable, "%v", err)
	case !created:
		w.remember(memo)
		return nil, refuse(http.StatusConflict, "delivery %s was already received: it started Execution %s", delivery, ex.Name)
	}
	w.remember(memo)
	if w.Recorder != nil {
		w.Recorder.Eventf(&pl, ex, corev1.EventTypeNormal, "Triggered", "Trigger",
			"webhook trigger %s started Execution %s, delivery %s", name, ex.Name, delivery)
	}
	return ex, nil
}

// verify checks the body's signature against the trigger's shared secret, in constant time. The secret's
// value never reaches an answer or a log line.
func (w *Webhooks) verify(ctx context.Context, pl *v1alpha1.Pipeline, wh *v1alpha1.WebhookTrigger, header string, body []byte) *refusal {
	if header == "" {
		return refuse(http.StatusUnauthorized, "no signature: set %s to sha256=<HMAC-SHA256 of the body with the shared secret, in hex>", HeaderSignature)
	}
	given, ok := strings.CutPrefix(header, "sha256=")
	sig, err := hex.DecodeString(given)
	if !ok || err != nil {
		return refuse(http.StatusUnauthorized, "%s must be sha256=<hex>", HeaderSignature)
	}
	var secret corev1.Secret
	if err := w.Secrets.Get(ctx, types.NamespacedName{Namespace: pl.Namespace, Name: wh.SecretRef.Name}, &secret); err != nil {
		log.FromContext(ctx).Error(err, "reading a webhook trigger's secret", "secret", wh.SecretRef.Name)
		return refuse(http.StatusServiceUnavailable, "the trigger's shared secret cannot be read")
	}
	key := secret.Data[wh.SecretRef.Key]
	if len(key) == 0 {
		return refuse(http.StatusServiceUnavailable, "the trigger's shared secret is empty")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return refuse(http.StatusForbidden, "the signature does not match the body")
	}
	return nil
}

func (w *Webhooks) remembers(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen[key]
}

// remember keeps key, forgetting the oldest beyond Remembered.
func (w *Webhooks) remember(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	if w.seen[key] {
		return
	}
	w.seen[key] = true
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

// Server serves h on l until ctx ends: a manager Runnable that every replica runs (the runs' names make a
// call that reaches two replicas start one run).
type Server struct {
	Listener net.Listener
	Handler  http.Handler
}

// NeedLeaderElection is false: every replica answers calls.
func (s *Server) NeedLeaderElection() bool { return false }

// Start serves until ctx ends, then shuts down, letting calls in flight finish for a few seconds.
func (s *Server) Start(ctx context.Context) error {
	srv := &http.Server{Handler: s.Handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
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
