package cloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
)

// Reason classifies a cloud error the way a person acting on it needs: it becomes the reason of the
// condition that reports it, and decides whether trying again can help.
type Reason string

// The reasons a Client's errors carry.
const (
	// NotFound: something the request names does not exist (a launch template, a target group).
	NotFound Reason = "NotFound"
	// Throttled: the cloud asked to slow down; the SDK already retried with backoff.
	Throttled Reason = "Throttled"
	// InvalidRequest: the cloud refused the request as it is; only a change of spec can help.
	InvalidRequest Reason = "InvalidRequest"
	// AccessDenied: the credentials were refused, or lack a permission.
	AccessDenied Reason = "AccessDenied"
	// Unreachable: no answer from the endpoint (DNS, connection refused, timeout).
	Unreachable Reason = "EndpointUnreachable"
	// Unavailable: the cloud answered with a server error (5xx) after the SDK's retries.
	Unavailable Reason = "CloudUnavailable"
	// NotOwned: the object exists and its owner tags do not name the ServerGroup (see Check); nothing was
	// changed. Its value is v1alpha1.ReasonNotOwned.
	NotOwned Reason = "NotOwned"
	// Unknown: anything else.
	Unknown Reason = "CloudError"
)

// Error is a classified cloud error. Its message names the operation and the cloud's own code and
// message, never a credential.
type Error struct {
	Reason Reason
	// Op is the cloud operation, such as CreateAutoScalingGroup; empty for a refusal made before any call
	// (NotOwned), whose message says it all.
	Op string
	// Err is the SDK's error.
	Err error
}

func (e *Error) Error() string {
	if e.Op == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%s: %v", e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the reason of a classified error, Unknown for any other.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return Unknown
}

// Retryable says whether the same request may succeed soon without a change of spec, so that it is worth
// retrying at once with a short backoff. The other reasons need a person (a permission granted, a
// template made, a group adopted), often in the cloud, where nothing tells the operator: they are
// retried too, but slowly.
func Retryable(err error) bool {
	switch ReasonOf(err) {
	case Throttled, Unreachable, Unavailable, Unknown:
		return true
	}
	return false
}

// IsNotFound says whether err is a classified NotFound.
func IsNotFound(err error) bool { return ReasonOf(err) == NotFound }

// Invalid is an InvalidRequest error found before any call: the request cannot be made as the spec says.
func Invalid(op, msg string) error {
	return &Error{Reason: InvalidRequest, Op: op, Err: errors.New(msg)}
}

// IsNetworkError says whether err is the network's, not the cloud's answer: no connection, a failed
// dial, a timeout. Its reason is Unreachable.
func IsNetworkError(err error) bool {
	var ne net.Error
	var ue *url.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &ue) || errors.As(err, &oe) || errors.Is(err, context.DeadlineExceeded)
}
