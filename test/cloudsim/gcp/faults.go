package gcp

import (
	"fmt"
	"net/http"
	"strings"
)

// FaultKind is what an injected fault does to a request.
type FaultKind int

const (
	// RateLimit answers 429 rateLimitExceeded, as a project over its API
	// quota is.
	RateLimit FaultKind = iota + 1
	// Unavailable answers 503 backendError.
	Unavailable
	// FailOperation serves the mutation but makes its operation fail: it
	// changes nothing and ends DONE with Fault.Code (default
	// ZONE_RESOURCE_POOL_EXHAUSTED) in its error.
	FailOperation
	// ConcurrentChange has someone else patch the backend service first (a
	// backend of another group is added and the fingerprint moves), so the
	// request's fingerprint is stale. Only for backendServices.patch and update.
	ConcurrentChange
)

var faultKindNames = map[FaultKind]string{RateLimit: "RateLimit", Unavailable: "Unavailable", FailOperation: "FailOperation", ConcurrentChange: "ConcurrentChange"}

func (k FaultKind) String() string {
	if n, ok := faultKindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// ParseFaultKind parses the String form of a FaultKind, ignoring case.
func ParseFaultKind(s string) (FaultKind, error) {
	for k, n := range faultKindNames {
		if strings.EqualFold(s, n) {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown fault kind %q (want RateLimit, Unavailable, FailOperation or ConcurrentChange)", s)
}

// Fault describes requests to disturb. Faults apply after authentication.
type Fault struct {
	// Method is a Calls key such as regionInstanceGroupManagers.insert; empty
	// matches every Compute method.
	Method string
	Kind   FaultKind
	// Count is how many matching requests to disturb; 0 means every one until
	// ClearFaults.
	Count int
	// Code is the error code of a FailOperation.
	Code string
}

type activeFault struct {
	f         Fault
	remaining int
}

// Inject adds a fault; when several match a request, the first injected
// applies. It panics on an unknown Kind, which is a bug in the test.
func (s *Sim) Inject(f Fault) {
	if _, ok := faultKindNames[f.Kind]; !ok {
		panic(fmt.Sprintf("cloudsim/gcp: Inject with invalid fault kind %v", f.Kind))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &activeFault{f: f, remaining: f.Count})
}

// ClearFaults removes every injected fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the fault that applies to a request of method, using up
// one of its Count. Callers hold s.mu.
func (s *Sim) takeFault(method string) (Fault, bool) {
	for i, af := range s.faults {
		if af.f.Method != "" && af.f.Method != method {
			continue
		}
		if af.f.Kind == ConcurrentChange && method != "backendServices.patch" && method != "backendServices.update" {
			continue
		}
		if af.f.Kind == FailOperation && !isMutation(method) {
			continue
		}
		if af.f.Count > 0 {
			af.remaining--
			if af.remaining == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return af.f, true
	}
	return Fault{}, false
}

// isMutation says whether a method starts an operation.
func isMutation(method string) bool {
	_, verb, _ := strings.Cut(method, ".")
	switch verb {
	case "insert", "delete", "resize", "patch", "update":
		return true
	}
	return false
}

// refusal is the response of a fault that refuses the request, nil for the
// others.
func (f Fault) refusal() *apiError {
	switch f.Kind {
	case RateLimit:
		return errf(http.StatusTooManyRequests, "rateLimitExceeded", "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'compute.googleapis.com'.")
	case Unavailable:
		return errf(http.StatusServiceUnavailable, "backendError", "Internal error. Please try again or contact Google Support.")
	}
	return nil
}
