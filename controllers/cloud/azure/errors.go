package azure

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/gennaker/gennaker/controllers/cloud"
)

// accessCodes are ARM error codes of refused credentials or missing permissions.
var accessCodes = map[string]bool{
	"AuthenticationFailed":             true,
	"AuthorizationFailed":              true,
	"InvalidAuthenticationToken":       true,
	"ExpiredAuthenticationToken":       true,
	"LinkedAuthorizationFailed":        true,
	"InvalidAuthenticationTokenTenant": true,
}

// notFoundCodes are ARM error codes of something the request names that does not exist.
var notFoundCodes = map[string]bool{
	"ResourceNotFound":         true,
	"NotFound":                 true,
	"ResourceGroupNotFound":    true,
	"SubscriptionNotFound":     true,
	"ParentResourceNotFound":   true,
	"InvalidResourceReference": true,
}

// throttleCodes are the codes of a request refused to slow the caller down, whatever the status.
var throttleCodes = map[string]bool{
	"TooManyRequests":               true,
	"SubscriptionRequestsThrottled": true,
}

// serverCodes are server faults, also when they end an operation (whose poll answered 200).
var serverCodes = map[string]bool{
	"InternalServerError":    true,
	"InternalExecutionError": true,
	"ServiceUnavailable":     true,
	"GatewayTimeout":         true,
}

// invalidCodes are refusals of the request as it is, also when they end an operation.
var invalidCodes = map[string]bool{
	"InvalidParameter":           true,
	"BadRequest":                 true,
	"InvalidRequestContent":      true,
	"SkuNotAvailable":            true,
	"InvalidTagNameCharacters":   true,
	"QuotaExceeded":              true,
	"ImageNotFound":              true,
	"InvalidApiVersionParameter": true,
	"LocationRequired":           true,
}

// reasonOf classifies an SDK error.
func reasonOf(err error) cloud.Reason {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		code := re.ErrorCode
		switch {
		case throttleCodes[code] || re.StatusCode == http.StatusTooManyRequests:
			return cloud.Throttled
		case accessCodes[code] || re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
			return cloud.AccessDenied
		case notFoundCodes[code] || re.StatusCode == http.StatusNotFound:
			return cloud.NotFound
		case serverCodes[code] || re.StatusCode >= 500:
			return cloud.Unavailable
		case invalidCodes[code]:
			return cloud.InvalidRequest
		case re.StatusCode == http.StatusConflict || re.StatusCode == http.StatusPreconditionFailed || re.StatusCode < 400:
			// A conflict with an operation in progress passes on its own; an operation that ended Failed
			// with a code not known here (its poll answered 200) may pass too.
			return cloud.Unknown
		}
		return cloud.InvalidRequest
	}
	var ae *azidentity.AuthenticationFailedError
	if errors.As(err, &ae) {
		if ae.RawResponse != nil && ae.RawResponse.StatusCode >= 500 {
			return cloud.Unavailable
		}
		if ae.RawResponse != nil {
			return cloud.AccessDenied
		}
	}
	if cloud.IsNetworkError(err) {
		return cloud.Unreachable
	}
	if ae != nil {
		return cloud.AccessDenied
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
	return &cloud.Error{Reason: reasonOf(err), Op: op, Err: trim(err)}
}

// trim keeps of an ARM error its status, code and message: azcore's own message repeats the request and
// the whole response body over many lines, which is too much for a condition.
func trim(err error) error {
	var ae *azidentity.AuthenticationFailedError
	if errors.As(err, &ae) && ae.RawResponse != nil {
		// Entra's OAuth error, whose description never carries the secret.
		var doc struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if body, perr := runtime.Payload(ae.RawResponse); perr == nil && json.Unmarshal(body, &doc) == nil && doc.Error != "" {
			return &authError{status: ae.RawResponse.StatusCode, code: doc.Error, message: doc.Description, err: ae}
		}
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	e := &armError{status: re.StatusCode, code: re.ErrorCode, err: re}
	if re.RawResponse != nil {
		if body, perr := runtime.Payload(re.RawResponse); perr == nil {
			var doc struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if json.Unmarshal(body, &doc) == nil {
				e.message = doc.Error.Message
				if e.code == "" {
					e.code = doc.Error.Code
				}
			}
		}
	}
	return e
}

// armError is an ARM error in one line.
type armError struct {
	status        int
	code, message string
	err           *azcore.ResponseError
}

func (e *armError) Error() string {
	s := fmt.Sprintf("%d %s", e.status, http.StatusText(e.status))
	if e.status == http.StatusOK {
		s = "the operation failed" // the poll of an operation answers 200 with its outcome
	}
	if e.code != "" {
		s += ": " + e.code
	}
	if e.message != "" {
		s += ": " + e.message
	}
	return s
}

func (e *armError) Unwrap() error { return e.err }

// authError is Entra ID's refusal of a token request, in one line.
type authError struct {
	status        int
	code, message string
	err           *azidentity.AuthenticationFailedError
}

func (e *authError) Error() string {
	return fmt.Sprintf("Entra ID refused the token request: %d %s: %s", e.status, e.code, e.message)
}

func (e *authError) Unwrap() error { return e.err }
