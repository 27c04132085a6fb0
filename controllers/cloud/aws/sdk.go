package aws

import (
	"context"
	"fmt"

	"github.com/aws/smithy-go/logging"
	"github.com/go-logr/logr"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	"github.com/gennaker/gennaker/controllers/cloud"
)

// countRequests adds to every client's stack a step that records each operation, once it is over (after
// the retryer's attempts), in gennaker_cloud_requests_total.
func countRequests(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("GennakerRequestMetrics",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			cloud.ObserveRequest("aws", awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), err, reasonOf)
			return out, md, err
		}), middleware.Before)
}

// sdkLogger sends what the SDK itself logs (such as a fallback to IMDSv1 while it looks for Workload
// credentials) to the operator's structured log instead of the SDK's default, plain stderr.
type sdkLogger struct{ log logr.Logger }

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if c == logging.Warn {
		l.log.Info(msg, "level", "warn")
		return
	}
	l.log.V(1).Info(msg)
}
