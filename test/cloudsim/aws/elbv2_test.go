package aws_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// targetStates returns instance ID -> target state in testTG.
func targetStates(t *testing.T, e *env) map[string]elbtypes.TargetHealthStateEnum {
	t.Helper()
	out := try(e.elb().DescribeTargetHealth(e.ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(testTG)})).must(t)
	m := map[string]elbtypes.TargetHealthStateEnum{}
	for _, d := range out.TargetHealthDescriptions {
		if aws.ToInt32(d.Target.Port) != 80 {
			t.Fatalf("target %s port %d, want 80", aws.ToString(d.Target.Id), aws.ToInt32(d.Target.Port))
		}
		m[aws.ToString(d.Target.Id)] = d.TargetHealth.State
	}
	return m
}

func instanceIDs(g astypes.AutoScalingGroup, state astypes.LifecycleState) []string {
	var ids []string
	for _, in := range g.Instances {
		if in.LifecycleState == state {
			ids = append(ids, aws.ToString(in.InstanceId))
		}
	}
	slices.Sort(ids)
	return ids
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestTargetHealthFollowsAttachmentAndProcesses(t *testing.T) {
	e := newEnv(t)
	e.template(e.cfg(), "web")
	c := e.asg()
	name := aws.String("web")
	createGroup(t, e, "web", 0, 4, 1, testTG)

	// Pending instances are not registered yet.
	if got := targetStates(t, e); len(got) != 0 {
		t.Fatalf("targets before launch: %v", got)
	}
	e.clock.Advance(launchDelay)
	first := instanceIDs(describeGroup(t, e, "web"), astypes.LifecycleStateInService)
	if got := targetStates(t, e); len(got) != 1 || got[first[0]] != elbtypes.TargetHealthStateEnumInitial {
		t.Fatalf("targets after launch: %v, want %s initial", got, first[0])
	}
	e.clock.Advance(healthyDelay)
	if got := targetStates(t, e); got[first[0]] != elbtypes.TargetHealthStateEnumHealthy {
		t.Fatalf("targets after health delay: %v", got)
	}

	// An instance entering service while AddToLoadBalancer is suspended is
	// not registered, and resuming does not register it later (AWS does the
	// same).
	try(c.SuspendProcesses(e.ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: name, ScalingProcesses: []string{"AddToLoadBalancer"}})).must(t)
	try(c.UpdateAutoScalingGroup(e.ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: name, DesiredCapacity: aws.Int32(2)})).must(t)
	e.clock.Advance(launchDelay)
	try(c.ResumeProcesses(e.ctx, &autoscaling.ResumeProcessesInput{AutoScalingGroupName: name, ScalingProcesses: []string{"AddToLoadBalancer"}})).must(t)
	both := instanceIDs(describeGroup(t, e, "web"), astypes.LifecycleStateInService)
	if got := targetStates(t, e); len(both) != 2 || !slices.Equal(keys(got), first) {
		t.Fatalf("in service %v, targets %v; want only %v registered", both, got, first)
	}

	// Detaching deregisters; attaching registers everything in service.
	try(c.DetachLoadBalancerTargetGroups(e.ctx, &autoscaling.DetachLoadBalancerTargetGroupsInput{AutoScalingGroupName: name, TargetGroupARNs: []string{testTG}})).must(t)
	if got := targetStates(t, e); len(got) != 0 {
		t.Fatalf("targets after detach: %v", got)
	}
	if g := describeGroup(t, e, "web"); len(g.TargetGroupARNs) != 0 {
		t.Fatalf("group still lists %v", g.TargetGroupARNs)
	}
	try(c.AttachLoadBalancerTargetGroups(e.ctx, &autoscaling.AttachLoadBalancerTargetGroupsInput{AutoScalingGroupName: name, TargetGroupARNs: []string{testTG}})).must(t)
	if got := targetStates(t, e); !slices.Equal(keys(got), both) || got[both[0]] != elbtypes.TargetHealthStateEnumInitial {
		t.Fatalf("targets after attach: %v, want %v initial", got, both)
	}
	e.clock.Advance(healthyDelay)
	if got := targetStates(t, e); got[both[0]] != elbtypes.TargetHealthStateEnumHealthy || got[both[1]] != elbtypes.TargetHealthStateEnumHealthy {
		t.Fatalf("targets after health delay: %v", got)
	}
	v, _ := e.sim.Group("web")
	if v.Instances[0].TargetHealth[testTG] != "healthy" {
		t.Fatalf("Group view target health = %v", v.Instances[0].TargetHealth)
	}

	// Scale-in deregisters at once.
	try(c.UpdateAutoScalingGroup(e.ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: name, DesiredCapacity: aws.Int32(1)})).must(t)
	if got := targetStates(t, e); len(got) != 1 {
		t.Fatalf("targets after scale-in: %v", got)
	}

	// Asking for a specific unregistered target reports it unused.
	out := try(e.elb().DescribeTargetHealth(e.ctx, &elbv2.DescribeTargetHealthInput{
		TargetGroupArn: aws.String(testTG),
		Targets:        []elbtypes.TargetDescription{{Id: aws.String("i-00000000000000000")}},
	})).must(t)
	if len(out.TargetHealthDescriptions) != 1 || out.TargetHealthDescriptions[0].TargetHealth.State != elbtypes.TargetHealthStateEnumUnused {
		t.Fatalf("unregistered target: %+v", out.TargetHealthDescriptions)
	}
}

func TestNeverHealthyGroup(t *testing.T) {
	e := newEnv(t)
	e.template(e.cfg(), "web")
	e.sim.NeverHealthy("bad")
	createGroup(t, e, "bad", 1, 1, 1, testTG)
	e.clock.Advance(launchDelay)
	if got := targetStates(t, e); len(got) != 1 || got[keys(got)[0]] != elbtypes.TargetHealthStateEnumInitial {
		t.Fatalf("targets: %v", got)
	}
	e.clock.Advance(healthyDelay * 10)
	if got := targetStates(t, e); got[keys(got)[0]] != elbtypes.TargetHealthStateEnumUnhealthy {
		t.Fatalf("targets: %v, want unhealthy", got)
	}
	g := describeGroup(t, e, "bad")
	if in := g.Instances[0]; in.LifecycleState != astypes.LifecycleStateInService || aws.ToString(in.HealthStatus) != "Healthy" {
		t.Fatalf("never-healthy instance in group: %+v, want InService/Healthy", in)
	}
}

func TestDescribeTargetGroups(t *testing.T) {
	e := newEnv(t)
	out := try(e.elb().DescribeTargetGroups(e.ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{testTG}})).must(t)
	if len(out.TargetGroups) != 1 || aws.ToString(out.TargetGroups[0].TargetGroupName) != "web" || out.TargetGroups[0].TargetType != elbtypes.TargetTypeEnumInstance {
		t.Fatalf("DescribeTargetGroups = %+v", out.TargetGroups)
	}
	_, err := e.elb().DescribeTargetGroups(e.ctx, &elbv2.DescribeTargetGroupsInput{
		TargetGroupArns: []string{"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/1"},
	})
	var nf *elbtypes.TargetGroupNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("unknown target group: got %v, want *TargetGroupNotFoundException", err)
	}
	_, err = e.elb().DescribeTargetHealth(e.ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/1")})
	if !errors.As(err, &nf) {
		t.Fatalf("DescribeTargetHealth of unknown target group: got %v, want *TargetGroupNotFoundException", err)
	}
}
