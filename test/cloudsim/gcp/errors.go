package gcp

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is an error response in the shape of the Compute API's (Google's
// JSON error format), which googleapi.CheckResponse decodes.
type apiError struct {
	Code    int
	Reason  string // errors[0].reason, such as notFound or rateLimitExceeded
	Status  string // the canonical status, such as NOT_FOUND
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message) }

func errf(code int, reason, format string, args ...any) *apiError {
	return &apiError{Code: code, Reason: reason, Status: statusOf(code), Message: fmt.Sprintf(format, args...)}
}

func statusOf(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ALREADY_EXISTS"
	case http.StatusPreconditionFailed:
		return "FAILED_PRECONDITION"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	return "INTERNAL"
}

func notFound(kind, link string) *apiError {
	return errf(http.StatusNotFound, "notFound", "The resource '%s' was not found", link)
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.Code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
	}
	writeJSON(w, e.Code, map[string]any{"error": map[string]any{
		"code":    e.Code,
		"message": e.Message,
		"errors":  []map[string]string{{"message": e.Message, "domain": "global", "reason": e.Reason}},
		"status":  e.Status,
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
