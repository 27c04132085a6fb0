package aws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/gennaker/gennaker/controllers/cloud"
)

// response wraps an API error the way the SDK does: operation error, AWS response error, smithy
// response error.
func response(status int, code, msg string) error {
	var api error
	if code != "" {
		api = &smithy.GenericAPIError{Code: code, Message: msg}
	} else {
		api = errors.New("unparsable body")
	}
	resp := &smithyhttp.Response{Response: &http.Response{StatusCode: status}}
	return &smithy.OperationError{ServiceID: "Auto Scaling", OperationName: "Op",
		Err: &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{Response: resp, Err: api}, RequestID: "r"}}
}

func TestReasonOf(t *testing.T) {
	cases := []struct {
		err  error
		want cloud.Reason
	}{
		{response(400, "Throttling", "Rate exceeded"), cloud.Throttled},
		{response(400, "ThrottlingException", ""), cloud.Throttled},
		{response(503, "RequestLimitExceeded", ""), cloud.Throttled},
		{response(429, "TooManyRequestsException", ""), cloud.Throttled},
		{response(403, "AccessDenied", ""), cloud.AccessDenied},
		{response(403, "AccessDeniedException", ""), cloud.AccessDenied},
		{response(403, "UnauthorizedOperation", ""), cloud.AccessDenied},
		{response(403, "InvalidClientTokenId", ""), cloud.AccessDenied},
		{response(403, "SignatureDoesNotMatch", ""), cloud.AccessDenied},
		{response(401, "AuthFailure", ""), cloud.AccessDenied},
		{response(400, "ExpiredToken", ""), cloud.AccessDenied},
		{response(403, "MissingAuthenticationToken", ""), cloud.AccessDenied},
		{response(400, "InvalidLaunchTemplateName.NotFoundException", ""), cloud.NotFound},
		{response(400, "InvalidLaunchTemplateId.NotFound", ""), cloud.NotFound},
		{response(400, "TargetGroupNotFound", ""), cloud.NotFound},
		{response(400, "ValidationError", "AutoScalingGroup name not found - AutoScalingGroup x not found"), cloud.NotFound},
		{response(400, "ValidationError", "Max bound, 1, must be greater than or equal to min bound, 3"), cloud.InvalidRequest},
		{response(400, "AlreadyExists", ""), cloud.InvalidRequest},
		{response(400, "LimitExceeded", ""), cloud.InvalidRequest},
		{response(400, "ScalingActivityInProgress", ""), cloud.Unknown},
		{response(400, "ResourceInUse", ""), cloud.Unknown},
		{response(500, "InternalFailure", ""), cloud.Unavailable},
		{response(500, "InternalError", ""), cloud.Unavailable},
		{response(503, "ServiceUnavailable", ""), cloud.Unavailable},
		{response(502, "", ""), cloud.Unavailable},
		{response(403, "", ""), cloud.AccessDenied},
		{response(404, "", ""), cloud.NotFound},
		{response(400, "", ""), cloud.InvalidRequest},
		{&url.Error{Op: "Post", URL: "http://127.0.0.1:1/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}, cloud.Unreachable},
		{fmt.Errorf("request send failed, %w", &net.DNSError{Err: "no such host", Name: "aws.invalid", IsNotFound: true}), cloud.Unreachable},
		{fmt.Errorf("operation error: %w", context.DeadlineExceeded), cloud.Unreachable},
		{errors.New("something else"), cloud.Unknown},
	}
	for _, c := range cases {
		if got := reasonOf(c.err); got != c.want {
			t.Errorf("%v: %s, want %s", c.err, got, c.want)
		}
	}
	if wrap("Op", nil) != nil {
		t.Error("wrap(nil) is not nil")
	}
	inner := &cloud.Error{Reason: cloud.NotFound, Op: "Inner", Err: errors.New("x")}
	if got := wrap("Outer", inner); got != error(inner) {
		t.Errorf("a classified error was wrapped again: %v", got)
	}
}
