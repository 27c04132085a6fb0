// Package faults disturbs a cloud simulator at random, as a busy cloud does: a share of the requests is
// throttled and a share fails with a 5xx, each answered in the cloud's own error format, so that the real
// SDKs classify them as they would a real cloud's. A disturbed request never reaches the simulator, so
// its model is untouched: the caller must retry.
//
// It is an http.Handler middleware, so that any simulator can be wrapped without changing it:
//
//	srv := httptest.NewServer(faults.Wrap(sim, faults.Options{Cloud: faults.AWS, Throttle: 0.10, ServerError: 0.05}))
package faults

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// Cloud says whose error format a disturbed request gets.
type Cloud string

// The clouds the simulators play.
const (
	AWS   Cloud = "aws"
	GCP   Cloud = "gcp"
	Azure Cloud = "azure"
)

// Options say how often to disturb requests.
type Options struct {
	Cloud Cloud
	// Throttle and ServerError are the shares (0 to 1) of requests answered with a throttling error and
	// with a 5xx. A request is disturbed at most once: the shares add up.
	Throttle, ServerError float64
	// Seed makes the sequence of disturbances repeatable for one order of requests.
	Seed uint64
	// Spare, if set, exempts requests from faults: the token endpoints, say, whose retries are not the
	// provider code under test.
	Spare func(*http.Request) bool
}

// Handler is a simulator behind random faults, with counts of what it did.
type Handler struct {
	next http.Handler
	o    Options
	mu   sync.Mutex
	rnd  *rand.Rand
	// Served, Throttled and Failed count the requests passed on, throttled and failed with a 5xx.
	Served, Throttled, Failed atomic.Int64
	// off turns the faults off, for a final look at the world that should not be disturbed.
	off atomic.Bool
}

// Wrap puts next behind the faults o describes.
func Wrap(next http.Handler, o Options) *Handler {
	return &Handler{next: next, o: o, rnd: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))}
}

// Pause turns the faults off (true) or back on (false).
func (h *Handler) Pause(off bool) { h.off.Store(off) }

// ServeHTTP disturbs the request or passes it on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.off.Load() || (h.o.Spare != nil && h.o.Spare(r)) {
		h.Served.Add(1)
		h.next.ServeHTTP(w, r)
		return
	}
	h.mu.Lock()
	x := h.rnd.Float64()
	h.mu.Unlock()
	switch {
	case x < h.o.Throttle:
		h.Throttled.Add(1)
		h.throttle(w, r)
	case x < h.o.Throttle+h.o.ServerError:
		h.Failed.Add(1)
		h.serverError(w, r)
	default:
		h.Served.Add(1)
		h.next.ServeHTTP(w, r)
	}
}

// String is the counts, for a summary line.
func (h *Handler) String() string {
	return fmt.Sprintf("%s served=%d throttled=%d 5xx=%d", h.o.Cloud, h.Served.Load(), h.Throttled.Load(), h.Failed.Load())
}

func (h *Handler) throttle(w http.ResponseWriter, r *http.Request) {
	switch h.o.Cloud {
	case AWS:
		if awsService(r) == "ec2" {
			ec2Error(w, http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.")
			return
		}
		queryError(w, http.StatusBadRequest, "Sender", "Throttling", "Rate exceeded")
	case GCP:
		jsonError(w, http.StatusTooManyRequests, `{"error":{"code":429,"message":"Rate Limit Exceeded","status":"RESOURCE_EXHAUSTED","errors":[{"reason":"rateLimitExceeded","domain":"usageLimits","message":"Rate Limit Exceeded"}]}}`)
	case Azure:
		w.Header().Set("Retry-After", "1")
		jsonError(w, http.StatusTooManyRequests, `{"error":{"code":"TooManyRequests","message":"The request is being throttled."}}`)
	default:
		http.Error(w, "throttled", http.StatusTooManyRequests)
	}
}

func (h *Handler) serverError(w http.ResponseWriter, r *http.Request) {
	switch h.o.Cloud {
	case AWS:
		if awsService(r) == "ec2" {
			ec2Error(w, http.StatusInternalServerError, "InternalError", "An internal error has occurred.")
			return
		}
		queryError(w, http.StatusInternalServerError, "Receiver", "InternalFailure", "An internal error occurred.")
	case GCP:
		jsonError(w, http.StatusServiceUnavailable, `{"error":{"code":503,"message":"Backend Error","status":"UNAVAILABLE","errors":[{"reason":"backendError","domain":"global","message":"Backend Error"}]}}`)
	case Azure:
		jsonError(w, http.StatusInternalServerError, `{"error":{"code":"InternalServerError","message":"An internal server error occurred."}}`)
	default:
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// awsService is the service a SigV4 request is signed for (Credential=KEY/date/region/service/aws4_request).
func awsService(r *http.Request) string {
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}

const requestID = "00000000-0000-4000-8000-00000000fa17"

func queryError(w http.ResponseWriter, status int, typ, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`, typ, code, msg, requestID)
}

func ec2Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`, code, msg, requestID)
}

func jsonError(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}
