package aws_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	cloudsim "github.com/gennaker/gennaker/test/cloudsim/aws"
)

func TestThrottlingIsRetriedAsThrottle(t *testing.T) {
	e := newEnv(t)
	e.template(e.cfg(), "web")
	c := e.asg()

	// Two throttles, then success on the SDK's third attempt.
	e.sim.Inject(cloudsim.Fault{Service: cloudsim.ServiceAutoScaling, Action: "CreateAutoScalingGroup", Kind: cloudsim.Throttle, Count: 2})
	createGroup(t, e, "web", 0, 1, 1)
	if got := e.sim.Calls()["autoscaling:CreateAutoScalingGroup"]; got != 3 {
		t.Fatalf("CreateAutoScalingGroup calls = %d, want 3 (2 throttled + 1)", got)
	}
	// Throttled attempts did not touch the model: one group, no AlreadyExists.
	if len(e.sim.Groups()) != 1 {
		t.Fatalf("groups = %+v", e.sim.Groups())
	}

	// Throttled until cleared: the SDK gives up after its attempts, and the
	// error is one the retryer classifies as throttling.
	e.sim.Inject(cloudsim.Fault{Service: cloudsim.ServiceAutoScaling, Kind: cloudsim.Throttle})
	e.sim.ResetCalls()
	_, err := c.DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	wantCode(t, err, "Throttling")
	if httpStatus(err) != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400", httpStatus(err))
	}
	if !retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() {
		t.Fatalf("%v is not classified as a throttle", err)
	}
	var maxAttempts *retry.MaxAttemptsError
	if !errors.As(err, &maxAttempts) {
		t.Fatalf("%v: want *retry.MaxAttemptsError", err)
	}
	if got := e.sim.Calls()["autoscaling:DescribeAutoScalingGroups"]; got != 3 {
		t.Fatalf("DescribeAutoScalingGroups calls = %d, want 3", got)
	}
	// Other services are unaffected.
	try(e.ec2().DescribeLaunchTemplates(e.ctx, &ec2.DescribeLaunchTemplatesInput{})).must(t)
	e.sim.ClearFaults()
	try(c.DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{})).must(t)

	// EC2 throttles with its own code, which is a throttle too.
	e.sim.Inject(cloudsim.Fault{Service: cloudsim.ServiceEC2, Kind: cloudsim.Throttle})
	_, err = e.ec2().DescribeLaunchTemplates(e.ctx, &ec2.DescribeLaunchTemplatesInput{})
	wantCode(t, err, "RequestLimitExceeded")
	if !retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() {
		t.Fatalf("%v is not classified as a throttle", err)
	}
}

func TestServerErrorFaults(t *testing.T) {
	e := newEnv(t)

	e.sim.Inject(cloudsim.Fault{Service: cloudsim.ServiceEC2, Action: "CreateLaunchTemplate", Kind: cloudsim.ServerError})
	_, err := e.ec2().CreateLaunchTemplate(e.ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-1")},
	})
	wantCode(t, err, "InternalError")
	if httpStatus(err) != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", httpStatus(err))
	}
	if got := e.sim.Calls()["ec2:CreateLaunchTemplate"]; got != 3 {
		t.Fatalf("calls = %d, want 3 (the SDK retries 500s)", got)
	}
	if lts := e.sim.LaunchTemplates(); len(lts) != 0 {
		t.Fatalf("a faulted create left %+v", lts)
	}
	e.sim.ClearFaults()

	// "elbv2" is accepted as the service name.
	e.sim.Inject(cloudsim.Fault{Service: "elbv2", Kind: cloudsim.ServerError, Count: 1})
	try(e.elb().DescribeTargetGroups(e.ctx, &elbv2.DescribeTargetGroupsInput{})).must(t)
	if got := e.sim.Calls()["elasticloadbalancing:DescribeTargetGroups"]; got != 2 {
		t.Fatalf("calls = %d, want 2", got)
	}

	e.sim.Inject(cloudsim.Fault{Service: cloudsim.ServiceAutoScaling, Kind: cloudsim.ServerError})
	_, err = e.asg().DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	wantCode(t, err, "InternalFailure")
}

func TestSlowFault(t *testing.T) {
	e := newEnv(t)
	e.sim.Inject(cloudsim.Fault{Service: cloudsim.ServiceSTS, Kind: cloudsim.Slow, Delay: time.Millisecond, Count: 1})
	try(e.sts().GetCallerIdentity(e.ctx, &sts.GetCallerIdentityInput{})).must(t)

	// A slow request gives up with its client instead of holding the server.
	e.sim.Inject(cloudsim.Fault{Service: cloudsim.ServiceSTS, Kind: cloudsim.Slow, Delay: time.Hour})
	ctx, cancel := context.WithTimeout(e.ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.sts().GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("slow fault held the client for %v", d)
	}
}

func TestModeledErrorsThroughRetries(t *testing.T) {
	// A modeled error is not retried: one call, typed error.
	e := newEnv(t)
	_, err := e.asg().DeleteAutoScalingGroup(e.ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("nope")})
	wantCode(t, err, "ValidationError")
	var exists *astypes.AlreadyExistsFault
	if errors.As(err, &exists) {
		t.Fatal("ValidationError decoded as AlreadyExistsFault")
	}
	if got := e.sim.Calls()["autoscaling:DeleteAutoScalingGroup"]; got != 1 {
		t.Fatalf("calls = %d, want 1", got)
	}
}
