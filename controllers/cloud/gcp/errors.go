package gcp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/googleapi"

	"github.com/gennaker/gennaker/controllers/cloud"
)

// Error reasons the provider acts on.
const (
	reasonNotFound        = "notFound"
	reasonAlreadyExists   = "alreadyExists"
	reasonConditionNotMet = "conditionNotMet"
	reasonResourceInUse   = "resourceInUseByAnotherResource"
	reasonNotReady        = "resourceNotReady"
)

// httpCode is the HTTP status of the answer err came from, 0 when there was none.
func httpCode(err error) int {
	var ae *apierror.APIError
	if errors.As(err, &ae) {
		return ae.HTTPCode()
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

// errorReason is the reason of the first error item of err (notFound, rateLimitExceeded), "" when none.
func errorReason(err error) string {
	var ge *googleapi.Error
	if errors.As(err, &ge) && len(ge.Errors) > 0 {
		return ge.Errors[0].Reason
	}
	var ae *apierror.APIError
	if errors.As(err, &ae) {
		if ge, ok := ae.Unwrap().(*googleapi.Error); ok && len(ge.Errors) > 0 {
			return ge.Errors[0].Reason
		}
	}
	return ""
}

// reasonOf classifies an SDK error.
func reasonOf(err error) cloud.Reason {
	switch code := httpCode(err); {
	case code == http.StatusTooManyRequests || errorReason(err) == "rateLimitExceeded":
		return cloud.Throttled
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return cloud.AccessDenied
	case code == http.StatusNotFound:
		return cloud.NotFound
	case code == http.StatusPreconditionFailed:
		return cloud.Unknown // a fingerprint gone stale: read again and retry
	case code == http.StatusBadRequest && (errorReason(err) == reasonResourceInUse || errorReason(err) == reasonNotReady):
		return cloud.Unknown // work in progress elsewhere; goes away on its own
	case code >= 500:
		return cloud.Unavailable
	case code >= 400:
		return cloud.InvalidRequest
	}
	var ae *auth.Error
	if errors.As(err, &ae) {
		// The token endpoint refused the key.
		return cloud.AccessDenied
	}
	// IAM Credentials refused the impersonation; the auth library says so only in words.
	if msg := err.Error(); strings.Contains(msg, "impersonate: status code 401") || strings.Contains(msg, "impersonate: status code 403") {
		return cloud.AccessDenied
	}
	if cloud.IsNetworkError(err) {
		return cloud.Unreachable
	}
	return cloud.Unknown
}

// wrap classifies err as a *cloud.Error of the operation op; nil stays nil and a classified error is
// returned as it is.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var ce *cloud.Error
	if errors.As(err, &ce) {
		return err
	}
	return &cloud.Error{Reason: reasonOf(err), Op: op, Err: err}
}

// isReason says whether err is the API's error of that reason.
func isReason(err error, reason string) bool { return errorReason(err) == reason }

// operationError is the error a failed operation ended with, classified by its codes and HTTP status.
func operationError(op *computepb.Operation) error {
	var codes []string
	var msgs []string
	for _, e := range op.GetError().GetErrors() {
		codes = append(codes, e.GetCode())
		msgs = append(msgs, e.GetCode()+": "+e.GetMessage())
	}
	if len(codes) == 0 && op.GetHttpErrorStatusCode() < 300 {
		return nil
	}
	reason := cloud.Unknown
	switch status := op.GetHttpErrorStatusCode(); {
	case anyCode(codes, "QUOTA_EXCEEDED"):
		reason = cloud.InvalidRequest // a quota raised by a person
	case anyCode(codes, "ZONE_RESOURCE_POOL_EXHAUSTED", "RESOURCE_POOL_EXHAUSTED"):
		reason = cloud.Unavailable
	case status == http.StatusTooManyRequests:
		reason = cloud.Throttled
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		reason = cloud.AccessDenied
	case status == http.StatusNotFound || anyCode(codes, "RESOURCE_NOT_FOUND"):
		reason = cloud.NotFound
	case status >= 500:
		reason = cloud.Unavailable
	case status >= 400:
		reason = cloud.InvalidRequest
	}
	return &cloud.Error{Reason: reason, Op: "operation " + op.GetOperationType() + " of " + lastPart(op.GetTargetLink()),
		Err: fmt.Errorf("%s", strings.Join(msgs, "; "))}
}

func anyCode(codes []string, want ...string) bool {
	for _, c := range codes {
		for _, w := range want {
			if c == w {
				return true
			}
		}
	}
	return false
}
