package aws_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	awsprovider "github.com/gennaker/gennaker/controllers/cloud/aws"
	awssim "github.com/gennaker/gennaker/test/cloudsim/aws"
)

func TestThrottlingIsRetriedThenSurfaced(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1)

	e.sim.Inject(awssim.Fault{Service: awssim.ServiceAutoScaling, Action: "DescribeAutoScalingGroups", Kind: awssim.Throttle, Count: 2})
	if _, err := e.client.Observe(e.ctx, sg); err != nil {
		t.Fatalf("two throttles were not survived: %v", err)
	}
	if n := e.sim.Calls()["autoscaling:DescribeAutoScalingGroups"]; n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}

	e.sim.ResetCalls()
	e.sim.Inject(awssim.Fault{Service: awssim.ServiceAutoScaling, Kind: awssim.Throttle})
	_, err := e.client.Observe(e.ctx, sg)
	wantReason(t, "permanent throttle", err, cloud.Throttled)
	if !cloud.Retryable(err) {
		t.Error("a throttle is not retryable")
	}
	if n := e.sim.Calls()["autoscaling:DescribeAutoScalingGroups"]; n != maxAttempts {
		t.Errorf("%d attempts, want %d", n, maxAttempts)
	}
	var ce *cloud.Error
	if !errors.As(err, &ce) || ce.Op != "DescribeAutoScalingGroups" {
		t.Errorf("error %#v", err)
	}
	t.Logf("throttled: %v", err)
	e.sim.ClearFaults()

	// EC2 throttles with 503 RequestLimitExceeded.
	e.sim.Inject(awssim.Fault{Service: awssim.ServiceEC2, Kind: awssim.Throttle})
	wantReason(t, "EC2 throttle", errOf(e.client.Create(e.ctx, sg)), cloud.Throttled)
}

func TestServerErrorIsUnavailable(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1)
	e.sim.Inject(awssim.Fault{Service: awssim.ServiceAutoScaling, Kind: awssim.ServerError, Count: 1})
	if _, err := e.client.Observe(e.ctx, sg); err != nil {
		t.Fatalf("one 500 was not survived: %v", err)
	}
	e.sim.Inject(awssim.Fault{Kind: awssim.ServerError})
	_, err := e.client.Observe(e.ctx, sg)
	wantReason(t, "autoscaling 500", err, cloud.Unavailable)
	_, err = e.client.Verify(e.ctx)
	wantReason(t, "sts 500", err, cloud.Unavailable)
	wantReason(t, "ec2 500", errOf(e.client.Create(e.ctx, sg)), cloud.Unavailable)
	if !cloud.Retryable(err) {
		t.Error("a 5xx is not retryable")
	}
}

func TestWrongKeyIsAccessDenied(t *testing.T) {
	e := newEnv(t)
	c := e.connect(e.account(), keyBlock("AKIDUNKNOWN"))
	_, err := c.Verify(e.ctx)
	wantReason(t, "Verify", err, cloud.AccessDenied)
	_, err = c.Observe(e.ctx, serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1))
	wantReason(t, "Observe", err, cloud.AccessDenied)
	// EC2 answers 401 AuthFailure.
	wantReason(t, "Create", errOf(c.Create(e.ctx, serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1))), cloud.AccessDenied)
	if cloud.Retryable(err) {
		t.Error("AccessDenied is retryable")
	}
	t.Logf("access denied: %v", err)
}

func TestUnreachableEndpoint(t *testing.T) {
	e := newEnv(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	c := e.connect(secretAccount(closed.URL), keyBlock(testKeyID))
	_, err := c.Verify(e.ctx)
	wantReason(t, "Verify", err, cloud.Unreachable)
	_, err = c.Observe(e.ctx, serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1))
	wantReason(t, "Observe", err, cloud.Unreachable)
	t.Logf("unreachable: %v", err)

	// A DNS failure.
	c = e.connect(secretAccount("https://aws.invalid"), keyBlock(testKeyID))
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	_, err = c.Verify(ctx)
	wantReason(t, "Verify by name", err, cloud.Unreachable)
}

func TestSlowEndpointIsUnreachable(t *testing.T) {
	e := newEnv(t)
	p := &awsprovider.Provider{HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}, MaxAttempts: 2, MaxBackoff: time.Millisecond}
	c, err := p.Connect(e.ctx, e.account(), keyBlock(testKeyID))
	if err != nil {
		t.Fatal(err)
	}
	e.sim.Inject(awssim.Fault{Service: awssim.ServiceSTS, Kind: awssim.Slow, Delay: 2 * time.Second})
	_, err = c.Verify(e.ctx)
	wantReason(t, "Verify of a slow endpoint", err, cloud.Unreachable)
}

// Each attempt has a deadline of its own, so one hanging attempt leaves time for the retry that succeeds;
// and one call, its retries included, fits in a reconcile's deadline.
func TestAttemptTimeout(t *testing.T) {
	e := newEnv(t)
	p := &awsprovider.Provider{HTTPClient: e.srv.Client(), AttemptTimeout: 100 * time.Millisecond, MaxAttempts: 3, MaxBackoff: time.Millisecond}
	c, err := p.Connect(e.ctx, e.account(), keyBlock(testKeyID))
	if err != nil {
		t.Fatal(err)
	}
	e.sim.Inject(awssim.Fault{Service: awssim.ServiceSTS, Kind: awssim.Slow, Delay: time.Minute, Count: 1})
	e.wantIdentity(c, keyUser)
	if n := e.sim.Calls()["sts:GetCallerIdentity"]; n != 2 {
		t.Errorf("%d calls, want the one that hung and its retry", n)
	}
	if e.srv.Client().Timeout != 0 {
		t.Error("the Provider changed the HTTP client it was given")
	}

	e.sim.Inject(awssim.Fault{Service: awssim.ServiceSTS, Kind: awssim.Slow, Delay: time.Minute})
	_, err = c.Verify(e.ctx)
	wantReason(t, "Verify of an endpoint that always hangs", err, cloud.Unreachable)

	if d := (&awsprovider.Provider{}).MaxCallDuration(); d != 26*time.Second {
		t.Errorf("one call takes up to %v with the defaults", d)
	}
}

func TestAssumeRole(t *testing.T) {
	e := newEnv(t)
	const role = "arn:aws:iam::210987654321:role/gennaker-deployer"
	e.sim.AddRole(role, "ext-42")
	acct := e.account()
	acct.Spec.AWS.AssumeRoleARN = role
	acct.Spec.AWS.ExternalID = "ext-42"
	c := e.connect(acct, keyBlock(testKeyID))
	e.wantIdentity(c, "arn:aws:sts::210987654321:assumed-role/gennaker-deployer/gennaker")
	// The assumed role's credentials sign the server group calls too, and are cached.
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1)
	if err := errOf(c.Create(e.ctx, sg)); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.Calls()["sts:AssumeRole"]; n != 1 {
		t.Errorf("AssumeRole called %d times", n)
	}

	acct.Spec.AWS.ExternalID = "wrong"
	_, err := e.connect(acct, keyBlock(testKeyID)).Verify(e.ctx)
	wantReason(t, "a wrong external ID", err, cloud.AccessDenied)
	t.Logf("assume role refused: %v", err)
}

// TestCycleCalls runs what the ServerGroup reconciler does for one red/black of a 3-instance group, with an
// Observe before each step, and reports the calls by operation.
func TestCycleCalls(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficDisabled, 3)
	e.sim.ResetCalls()
	step := func(what string, f func() error) {
		t.Helper()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	observe := func() cloud.Observation { return e.observe(sg) }

	observe()
	step("Create", func() error { return errOf(e.client.Create(e.ctx, sg)) })
	e.clock.Advance(launchDelay)
	if o := observe(); o.Instances.Healthy != 3 {
		t.Fatalf("not up: %+v", o)
	}
	step("enable", func() error { return errOf(e.client.SetTraffic(e.ctx, sg, v1alpha1.TrafficEnabled)) })
	observe()
	e.clock.Advance(healthyDelay)
	if o := observe(); o.Instances.Healthy != 3 || o.Traffic != v1alpha1.TrafficEnabled {
		t.Fatalf("not healthy: %+v", o)
	}
	step("disable", func() error { return errOf(e.client.SetTraffic(e.ctx, sg, v1alpha1.TrafficDisabled)) })
	observe()
	sg.Spec.Capacity = v1alpha1.Capacity{}
	step("scale to 0", func() error { return errOf(e.client.UpdateCapacity(e.ctx, sg, sg.Spec.Capacity)) })
	e.clock.Advance(terminateDelay)
	if o := observe(); o.Instances.Running != 0 {
		t.Fatalf("not scaled in: %+v", o)
	}
	for gone := false; !gone; e.clock.Advance(deleteDelay) {
		var err error
		if gone, _, err = e.client.Delete(e.ctx, sg); err != nil {
			t.Fatal(err)
		}
	}

	calls := e.sim.Calls()
	want := map[string]int{
		"autoscaling:DescribeAutoScalingGroups":      12, // 6 Observe, Create, 2 SetTraffic, UpdateCapacity, 2 Delete
		"autoscaling:CreateAutoScalingGroup":         1,
		"autoscaling:SuspendProcesses":               2,
		"autoscaling:ResumeProcesses":                2,
		"autoscaling:AttachLoadBalancerTargetGroups": 1,
		"autoscaling:DetachLoadBalancerTargetGroups": 1,
		"autoscaling:UpdateAutoScalingGroup":         1,
		"autoscaling:DeleteAutoScalingGroup":         1,
		"ec2:CreateLaunchTemplate":                   1,
		"ec2:DescribeLaunchTemplates":                1,
		"ec2:DeleteLaunchTemplate":                   1,
		"elasticloadbalancing:DescribeTargetHealth":  2,
	}
	var lines []string
	total := 0
	for k, v := range calls {
		lines = append(lines, fmt.Sprintf("%-48s %d", k, v))
		total += v
	}
	sort.Strings(lines)
	t.Logf("calls of one cycle (%d in all):\n%s", total, strings.Join(lines, "\n"))
	for k, v := range want {
		if calls[k] != v {
			t.Errorf("%s: %d calls, want %d", k, calls[k], v)
		}
	}
	for k := range calls {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected call %s", k)
		}
	}
}

func TestChangingADeletingGroupIsRetryable(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1)
	e.create(sg)
	if _, _, err := e.client.Delete(e.ctx, sg); err != nil {
		t.Fatal(err)
	}
	err := errOf(e.client.SetTraffic(e.ctx, sg, v1alpha1.TrafficDisabled))
	wantReason(t, "SetTraffic of a deleting group", err, cloud.Unknown)
	if !cloud.Retryable(err) {
		t.Error("not retryable")
	}
}
