package aws_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	cloudsim "github.com/gennaker/gennaker/test/cloudsim/aws"
)

const (
	testKey    = "AKIDCLOUDSIMTEST"
	testSecret = "cloudsim-test-secret-do-not-echo"
	testRegion = "us-east-1"
	testTG     = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"

	launchDelay  = 10 * time.Second
	healthyDelay = 20 * time.Second
	termDelay    = 5 * time.Second
	deleteDelay  = 30 * time.Second
)

type env struct {
	t     *testing.T
	ctx   context.Context
	sim   *cloudsim.Sim
	clock *cloudsim.Clock
	url   string
	http  *http.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	// Start the fake clock at the real time so that credential expiry, which
	// the SDK judges by the real clock, agrees with the sim until a test
	// moves the clock on.
	clk := cloudsim.NewClock(time.Now().UTC().Truncate(time.Second))
	sim := cloudsim.New(cloudsim.Options{
		Keys:               map[string]string{testKey: testSecret},
		LaunchDelay:        launchDelay,
		TargetHealthyDelay: healthyDelay,
		TerminateDelay:     termDelay,
		DeleteDelay:        deleteDelay,
		Now:                clk.Now,
	})
	sim.AddTargetGroup(testTG)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &env{t: t, ctx: context.Background(), sim: sim, clock: clk, url: srv.URL, http: srv.Client()}
}

// noBackoff makes SDK retries immediate so that fault tests do not sleep.
type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// config builds the aws.Config by hand, as gennaker's tests should, so that
// nothing from the environment (profiles, env vars, IMDS) leaks in.
func (e *env) config(region, id, secret, token string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, token),
		BaseEndpoint: aws.String(e.url),
		HTTPClient:   e.http,
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = noBackoff{} })
		},
	}
}

func (e *env) cfg() aws.Config { return e.config(testRegion, testKey, testSecret, "") }

func (e *env) asg() *autoscaling.Client { return autoscaling.NewFromConfig(e.cfg()) }
func (e *env) ec2() *ec2.Client         { return ec2.NewFromConfig(e.cfg()) }
func (e *env) elb() *elbv2.Client       { return elbv2.NewFromConfig(e.cfg()) }
func (e *env) sts() *sts.Client         { return sts.NewFromConfig(e.cfg()) }

// template creates a launch template with one version.
func (e *env) template(cfg aws.Config, name string) *ec2types.LaunchTemplate {
	e.t.Helper()
	out, err := ec2.NewFromConfig(cfg).CreateLaunchTemplate(e.ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-11111111"), InstanceType: ec2types.InstanceTypeT3Micro},
	})
	if err != nil {
		e.t.Fatalf("CreateLaunchTemplate %s: %v", name, err)
	}
	return out.LaunchTemplate
}

// errCode returns the AWS error code of err, or "" if it has none.
func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus returns the HTTP status behind an SDK error, or 0.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := errCode(err); got != code {
		t.Fatalf("got error %v (code %q), want code %q", err, got, code)
	}
}

// result lets a test unwrap a (value, error) call inline:
// try(client.Op(ctx, in)).must(t).
type result[T any] struct {
	v   T
	err error
}

func try[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) must(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}
