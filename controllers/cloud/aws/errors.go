package aws

import (
	"errors"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/gennaker/gennaker/controllers/cloud"
)

// Error codes the provider acts on.
const (
	codeASGAlreadyExists = "AlreadyExists"
	codeLTAlreadyExists  = "InvalidLaunchTemplateName.AlreadyExistsException"
	codeValidationError  = "ValidationError"
)

// throttleCodes are the AWS codes asking a client to slow down.
var throttleCodes = map[string]bool{
	"Throttling":                             true,
	"ThrottlingException":                    true,
	"ThrottledException":                     true,
	"RequestThrottled":                       true,
	"RequestThrottledException":              true,
	"RequestLimitExceeded":                   true,
	"TooManyRequestsException":               true,
	"ProvisionedThroughputExceededException": true,
	"SlowDown":                               true,
	"EC2ThrottledException":                  true,
	"PriorRequestNotComplete":                true,
	"BandwidthLimitExceeded":                 true,
}

// accessCodes are the AWS codes of refused credentials or missing permissions.
var accessCodes = map[string]bool{
	"UnauthorizedOperation":       true,
	"InvalidClientTokenId":        true,
	"SignatureDoesNotMatch":       true,
	"AuthFailure":                 true,
	"ExpiredToken":                true,
	"ExpiredTokenException":       true,
	"MissingAuthenticationToken":  true,
	"IncompleteSignature":         true,
	"InvalidAccessKeyId":          true,
	"UnrecognizedClientException": true,
	"OptInRequired":               true,
	"Blocked":                     true,
}

// serverCodes are server faults, whatever the status they come with.
var serverCodes = map[string]bool{
	"InternalError":      true,
	"InternalFailure":    true,
	"ServiceUnavailable": true,
	"Unavailable":        true,
}

// transientCodes are conflicts with work in progress that go away on their own (a group scaling or being
// deleted). They are classified cloud.Unknown, which is retryable, not InvalidRequest, which needs a person.
var transientCodes = map[string]bool{
	"ScalingActivityInProgress": true,
	"ResourceInUse":             true,
	"ResourceContention":        true,
	"InstanceRefreshInProgress": true,
	"IncorrectState":            true,
	"IncorrectInstanceState":    true,
	"RequestTimeout":            true,
	"RequestTimeoutException":   true,
}

// errorCode returns the AWS error code of err, "" when err carries none.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus returns the HTTP status of the response that err came from, 0 when there was none.
func httpStatus(err error) int {
	var se interface{ HTTPStatusCode() int }
	if errors.As(err, &se) {
		return se.HTTPStatusCode()
	}
	return 0
}

// reasonOf classifies an SDK error.
func reasonOf(err error) cloud.Reason {
	status := httpStatus(err)
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		switch {
		case throttleCodes[code]:
			return cloud.Throttled
		case accessCodes[code] || strings.HasPrefix(code, "AccessDenied"):
			return cloud.AccessDenied
		case strings.Contains(code, "NotFound"):
			return cloud.NotFound
		case code == codeValidationError && strings.Contains(strings.ToLower(ae.ErrorMessage()), "not found"):
			return cloud.NotFound
		case status >= 500 || serverCodes[code] || (status == 0 && ae.ErrorFault() == smithy.FaultServer):
			return cloud.Unavailable
		case transientCodes[code]:
			return cloud.Unknown
		case status == 401 || status == 403:
			return cloud.AccessDenied
		case status == 429:
			return cloud.Throttled
		}
		return cloud.InvalidRequest
	}
	switch {
	case status >= 500:
		return cloud.Unavailable
	case status == 401 || status == 403:
		return cloud.AccessDenied
	case status == 429:
		return cloud.Throttled
	case status == 404:
		return cloud.NotFound
	case status >= 400:
		return cloud.InvalidRequest
	}
	if cloud.IsNetworkError(err) {
		return cloud.Unreachable
	}
	return cloud.Unknown
}

// wrap classifies err as a *cloud.Error of the operation op. nil stays nil, and an error that is already
// classified is returned as it is.
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
