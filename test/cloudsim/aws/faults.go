package aws

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// FaultKind is what an injected fault does to a request.
type FaultKind int

const (
	// Throttle answers with the service's throttling error, which the SDK's
	// retryer classifies as a throttle: 400 Throttling "Rate exceeded" for the
	// Query services and, as real EC2 does, 503 RequestLimitExceeded for EC2.
	Throttle FaultKind = iota + 1
	// ServerError answers 500 InternalFailure (EC2: InternalError), which the
	// SDK retries.
	ServerError
	// Slow waits Fault.Delay (real time, not the sim clock) and then serves the
	// request normally, or gives up early if the client goes away.
	Slow
	// AccessDenied refuses the request as an IAM policy without the permission
	// would: 403 AccessDenied "User: ARN is not authorized to perform:
	// service:Action" (EC2: UnauthorizedOperation). Unlike a wrong key, it hits
	// only the operations it matches, as a missing permission does; clearing
	// the fault is granting the permission.
	AccessDenied
)

var faultKindNames = map[FaultKind]string{Throttle: "Throttle", ServerError: "ServerError", Slow: "Slow", AccessDenied: "AccessDenied"}

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
	return 0, fmt.Errorf("unknown fault kind %q (want Throttle, ServerError, Slow or AccessDenied)", s)
}

// Fault describes requests to disturb. Faults apply after authentication, so
// a faulted request still needs valid credentials, and before the operation
// runs, so a Throttle or ServerError fault leaves the model untouched.
type Fault struct {
	// Service is one of the Service* constants ("elbv2" is accepted for
	// ServiceELBv2); empty matches every service.
	Service string
	// Action is an operation name such as "CreateAutoScalingGroup"; empty
	// matches every operation.
	Action string
	Kind   FaultKind
	// Count is how many matching requests to disturb; 0 means every matching
	// request until ClearFaults.
	Count int
	// Delay is the wait of a Slow fault.
	Delay time.Duration
}

type activeFault struct {
	f         Fault
	remaining int
}

// Inject adds a fault. When several faults match a request, the one injected
// first applies. It panics on an unknown Kind, which is a bug in the test.
func (s *Sim) Inject(f Fault) {
	if _, ok := faultKindNames[f.Kind]; !ok {
		panic(fmt.Sprintf("cloudsim/aws: Inject with invalid fault kind %v", f.Kind))
	}
	switch strings.ToLower(f.Service) {
	case "elbv2", "elasticloadbalancingv2":
		f.Service = ServiceELBv2
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

// takeFault returns the fault that applies to a request, using up one of its
// Count.
func (s *Sim) takeFault(svc, action string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, af := range s.faults {
		if (af.f.Service != "" && af.f.Service != svc) || (af.f.Action != "" && af.f.Action != action) {
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

// apply performs the fault on a request of caller for svc's action. A non-nil
// error is the response to send instead of serving the request.
func (f Fault) apply(ctx context.Context, svc *service, action string, caller *identity) error {
	switch f.Kind {
	case AccessDenied:
		if svc.ec2 {
			return errf(http.StatusForbidden, "UnauthorizedOperation", "You are not authorized to perform this operation. User: %s is not authorized to perform: %s:%s", caller.arn, svc.name, action)
		}
		return errf(http.StatusForbidden, "AccessDenied", "User: %s is not authorized to perform: %s:%s", caller.arn, svc.name, action)
	case Throttle:
		if svc.ec2 {
			return errf(http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.")
		}
		return errf(http.StatusBadRequest, "Throttling", "Rate exceeded")
	case ServerError:
		if svc.ec2 {
			return errf(http.StatusInternalServerError, "InternalError", "An internal error has occurred.")
		}
		return errf(http.StatusInternalServerError, "InternalFailure", "An internal error occurred.")
	case Slow:
		if err := sleepCtx(ctx, f.Delay); err != nil {
			// The client has gone; this answer is only for the record.
			return errf(http.StatusServiceUnavailable, "ServiceUnavailable", "Request abandoned by the client.")
		}
	}
	return nil
}
