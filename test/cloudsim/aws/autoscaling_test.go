package aws_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func describeGroup(t *testing.T, e *env, name string) astypes.AutoScalingGroup {
	t.Helper()
	out := try(e.asg().DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})).must(t)
	if len(out.AutoScalingGroups) != 1 {
		t.Fatalf("DescribeAutoScalingGroups(%s) returned %d groups", name, len(out.AutoScalingGroups))
	}
	return out.AutoScalingGroups[0]
}

func states(g astypes.AutoScalingGroup) map[astypes.LifecycleState]int {
	m := map[astypes.LifecycleState]int{}
	for _, in := range g.Instances {
		m[in.LifecycleState]++
	}
	return m
}

func createGroup(t *testing.T, e *env, name string, minSize, maxSize, desired int32, tgs ...string) {
	t.Helper()
	try(e.asg().CreateAutoScalingGroup(e.ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name),
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web"), Version: aws.String("$Latest")},
		MinSize:              aws.Int32(minSize),
		MaxSize:              aws.Int32(maxSize),
		DesiredCapacity:      aws.Int32(desired),
		VPCZoneIdentifier:    aws.String("subnet-aaaa,subnet-bbbb"),
		TargetGroupARNs:      tgs,
	})).must(t)
}

func TestGroupLifecycle(t *testing.T) {
	e := newEnv(t)
	e.template(e.cfg(), "web")
	c := e.asg()

	try(c.CreateAutoScalingGroup(e.ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("web-v1"),
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web"), Version: aws.String("$Latest")},
		MinSize:              aws.Int32(1),
		MaxSize:              aws.Int32(4),
		DesiredCapacity:      aws.Int32(2),
		VPCZoneIdentifier:    aws.String("subnet-aaaa,subnet-bbbb"),
		TargetGroupARNs:      []string{testTG},
		Tags:                 []astypes.Tag{{Key: aws.String("gennaker.io/app"), Value: aws.String("web"), PropagateAtLaunch: aws.Bool(true)}},
	})).must(t)

	g := describeGroup(t, e, "web-v1")
	if states(g)[astypes.LifecycleStatePending] != 2 || len(g.Instances) != 2 {
		t.Fatalf("after create: instances %+v, want 2 Pending", g.Instances)
	}
	if g.Instances[0].AvailabilityZone == g.Instances[1].AvailabilityZone {
		t.Fatalf("instances not spread over zones: %s, %s", aws.ToString(g.Instances[0].AvailabilityZone), aws.ToString(g.Instances[1].AvailabilityZone))
	}
	if aws.ToString(g.LaunchTemplate.Version) != "$Latest" || aws.ToString(g.LaunchTemplate.LaunchTemplateName) != "web" || aws.ToString(g.LaunchTemplate.LaunchTemplateId) == "" {
		t.Fatalf("group launch template = %+v", g.LaunchTemplate)
	}
	if !slices.Equal(g.AvailabilityZones, []string{"us-east-1a", "us-east-1b"}) || !slices.Equal(g.TargetGroupARNs, []string{testTG}) {
		t.Fatalf("zones %v, target groups %v", g.AvailabilityZones, g.TargetGroupARNs)
	}
	if !aws.ToTime(g.CreatedTime).Equal(e.clock.Now()) || aws.ToString(g.AutoScalingGroupARN) == "" || g.Status != nil {
		t.Fatalf("created %v (want %v), arn %q, status %v", aws.ToTime(g.CreatedTime), e.clock.Now(), aws.ToString(g.AutoScalingGroupARN), g.Status)
	}
	if len(g.Tags) != 1 || aws.ToString(g.Tags[0].Key) != "gennaker.io/app" || aws.ToString(g.Tags[0].ResourceId) != "web-v1" {
		t.Fatalf("tags = %+v", g.Tags)
	}

	// Modeled errors come back typed.
	_, err := c.CreateAutoScalingGroup(e.ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("web-v1"),
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web")},
		MinSize:              aws.Int32(0), MaxSize: aws.Int32(1),
		AvailabilityZones: []string{"us-east-1a"},
	})
	var exists *astypes.AlreadyExistsFault
	if !errors.As(err, &exists) {
		t.Fatalf("duplicate create: got %v, want *AlreadyExistsFault", err)
	}
	_, err = c.CreateAutoScalingGroup(e.ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("other"),
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("missing")},
		MinSize:              aws.Int32(0), MaxSize: aws.Int32(1),
		AvailabilityZones: []string{"us-east-1a"},
	})
	wantCode(t, err, "ValidationError")
	_, err = c.CreateAutoScalingGroup(e.ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("other"),
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web")},
		MinSize:              aws.Int32(0), MaxSize: aws.Int32(1),
		AvailabilityZones: []string{"us-east-1a"},
		TargetGroupARNs:   []string{"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/1"},
	})
	wantCode(t, err, "ValidationError")

	e.clock.Advance(launchDelay)
	g = describeGroup(t, e, "web-v1")
	if states(g)[astypes.LifecycleStateInService] != 2 {
		t.Fatalf("after launch delay: %+v, want 2 InService", g.Instances)
	}
	for _, in := range g.Instances {
		if aws.ToString(in.HealthStatus) != "Healthy" || aws.ToString(in.LaunchTemplate.Version) != "1" {
			t.Fatalf("instance %+v: want Healthy, launched from version 1", in)
		}
	}

	// Sizes are validated; moving a bound drags desired capacity along.
	_, err = c.UpdateAutoScalingGroup(e.ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("web-v1"), DesiredCapacity: aws.Int32(5)})
	wantCode(t, err, "ValidationError")
	_, err = c.UpdateAutoScalingGroup(e.ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("web-v1"), MinSize: aws.Int32(3), MaxSize: aws.Int32(2)})
	wantCode(t, err, "ValidationError")
	try(c.UpdateAutoScalingGroup(e.ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("web-v1"), MinSize: aws.Int32(3)})).must(t)
	g = describeGroup(t, e, "web-v1")
	if aws.ToInt32(g.DesiredCapacity) != 3 || states(g)[astypes.LifecycleStatePending] != 1 {
		t.Fatalf("after MinSize=3: desired %d, instances %+v", aws.ToInt32(g.DesiredCapacity), g.Instances)
	}

	// Scale in: two of three instances terminate, then disappear.
	try(c.UpdateAutoScalingGroup(e.ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("web-v1"), MinSize: aws.Int32(1), DesiredCapacity: aws.Int32(1)})).must(t)
	g = describeGroup(t, e, "web-v1")
	if states(g)[astypes.LifecycleStateTerminating] != 2 || len(g.Instances) != 3 {
		t.Fatalf("after scale-in: %+v, want 2 of 3 Terminating", g.Instances)
	}
	e.clock.Advance(termDelay)
	g = describeGroup(t, e, "web-v1")
	if len(g.Instances) != 1 {
		t.Fatalf("after terminate delay: %+v, want 1 instance", g.Instances)
	}

	// Deleting needs ForceDelete while instances remain.
	_, err = c.DeleteAutoScalingGroup(e.ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("web-v1")})
	var inUse *astypes.ResourceInUseFault
	if !errors.As(err, &inUse) {
		t.Fatalf("delete without force: got %v, want *ResourceInUseFault", err)
	}
	try(c.DeleteAutoScalingGroup(e.ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("web-v1"), ForceDelete: aws.Bool(true)})).must(t)
	g = describeGroup(t, e, "web-v1")
	if aws.ToString(g.Status) != "Delete in progress" || states(g)[astypes.LifecycleStateTerminating] != 1 || aws.ToInt32(g.DesiredCapacity) != 0 {
		t.Fatalf("while deleting: status %q, desired %d, instances %+v", aws.ToString(g.Status), aws.ToInt32(g.DesiredCapacity), g.Instances)
	}
	if v, ok := e.sim.Group("web-v1"); !ok || !v.Deleting {
		t.Fatalf("Group(web-v1) = %+v, %v; want deleting", v, ok)
	}
	// A second delete is accepted; changes and re-creation are not.
	try(c.DeleteAutoScalingGroup(e.ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("web-v1")})).must(t)
	_, err = c.UpdateAutoScalingGroup(e.ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("web-v1"), DesiredCapacity: aws.Int32(1)})
	var inProgress *astypes.ScalingActivityInProgressFault
	if !errors.As(err, &inProgress) {
		t.Fatalf("update while deleting: got %v, want *ScalingActivityInProgressFault", err)
	}
	createErr := func() error {
		_, err := c.CreateAutoScalingGroup(e.ctx, &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String("web-v1"),
			LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web")},
			MinSize:              aws.Int32(0), MaxSize: aws.Int32(1),
			AvailabilityZones: []string{"us-east-1a"},
		})
		return err
	}
	if err := createErr(); !errors.As(err, &exists) {
		t.Fatalf("create while deleting: got %v, want *AlreadyExistsFault", err)
	}

	e.clock.Advance(deleteDelay)
	out := try(c.DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web-v1"}})).must(t)
	if len(out.AutoScalingGroups) != 0 {
		t.Fatalf("after delete delay: %d groups, want 0", len(out.AutoScalingGroups))
	}
	if _, ok := e.sim.Group("web-v1"); ok {
		t.Fatal("Group(web-v1) still present after deletion")
	}
	if err := createErr(); err != nil {
		t.Fatalf("re-create after deletion: %v", err)
	}
	if got := e.sim.Calls()["autoscaling:DeleteAutoScalingGroup"]; got != 3 {
		t.Fatalf("autoscaling:DeleteAutoScalingGroup calls = %d, want 3", got)
	}
}

func TestDescribePagingAndFilters(t *testing.T) {
	e := newEnv(t)
	e.template(e.cfg(), "web")
	c := e.asg()
	for _, name := range []string{"c", "a", "b"} {
		in := &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(name),
			LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web")},
			MinSize:              aws.Int32(0), MaxSize: aws.Int32(1),
			AvailabilityZones: []string{"us-east-1a"},
		}
		if name != "b" {
			in.Tags = []astypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}
		}
		try(c.CreateAutoScalingGroup(e.ctx, in)).must(t)
	}

	var names []string
	pages := 0
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(c, &autoscaling.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(1)})
	for p.HasMorePages() {
		page := try(p.NextPage(e.ctx)).must(t)
		pages++
		for _, g := range page.AutoScalingGroups {
			names = append(names, aws.ToString(g.AutoScalingGroupName))
		}
	}
	if !slices.Equal(names, []string{"a", "b", "c"}) || pages != 3 {
		t.Fatalf("paged names %v in %d pages, want [a b c] in 3", names, pages)
	}

	out := try(c.DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		Filters: []astypes.Filter{{Name: aws.String("tag:env"), Values: []string{"prod"}}},
	})).must(t)
	names = nil
	for _, g := range out.AutoScalingGroups {
		names = append(names, aws.ToString(g.AutoScalingGroupName))
	}
	if !slices.Equal(names, []string{"a", "c"}) {
		t.Fatalf("tag:env=prod matched %v, want [a c]", names)
	}

	// Unknown names are skipped, as in AWS, not an error.
	out = try(c.DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"b", "zzz"}})).must(t)
	if len(out.AutoScalingGroups) != 1 {
		t.Fatalf("got %d groups, want 1", len(out.AutoScalingGroups))
	}

	_, err := c.DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{NextToken: aws.String("!!!")})
	var badToken *astypes.InvalidNextToken
	if !errors.As(err, &badToken) {
		t.Fatalf("bad NextToken: got %v, want *InvalidNextToken", err)
	}
}

func TestSuspendedProcesses(t *testing.T) {
	e := newEnv(t)
	e.template(e.cfg(), "web")
	c := e.asg()
	createGroup(t, e, "web", 0, 3, 0)
	name := aws.String("web")

	try(c.SuspendProcesses(e.ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: name, ScalingProcesses: []string{"Launch"}})).must(t)
	try(c.UpdateAutoScalingGroup(e.ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: name, DesiredCapacity: aws.Int32(2)})).must(t)
	g := describeGroup(t, e, "web")
	if len(g.Instances) != 0 {
		t.Fatalf("Launch suspended, yet instances %+v", g.Instances)
	}
	if len(g.SuspendedProcesses) != 1 || aws.ToString(g.SuspendedProcesses[0].ProcessName) != "Launch" || aws.ToString(g.SuspendedProcesses[0].SuspensionReason) == "" {
		t.Fatalf("suspended processes = %+v", g.SuspendedProcesses)
	}

	try(c.ResumeProcesses(e.ctx, &autoscaling.ResumeProcessesInput{AutoScalingGroupName: name, ScalingProcesses: []string{"Launch"}})).must(t)
	if g = describeGroup(t, e, "web"); states(g)[astypes.LifecycleStatePending] != 2 {
		t.Fatalf("after resuming Launch: %+v, want 2 Pending", g.Instances)
	}
	e.clock.Advance(launchDelay)

	try(c.SuspendProcesses(e.ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: name, ScalingProcesses: []string{"Terminate"}})).must(t)
	try(c.UpdateAutoScalingGroup(e.ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: name, DesiredCapacity: aws.Int32(0)})).must(t)
	if g = describeGroup(t, e, "web"); states(g)[astypes.LifecycleStateInService] != 2 {
		t.Fatalf("Terminate suspended, yet %+v", g.Instances)
	}

	// No process names means all of them.
	try(c.SuspendProcesses(e.ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: name})).must(t)
	if v, _ := e.sim.Group("web"); len(v.SuspendedProcesses) != 9 {
		t.Fatalf("suspend all: %v", v.SuspendedProcesses)
	}
	try(c.ResumeProcesses(e.ctx, &autoscaling.ResumeProcessesInput{AutoScalingGroupName: name})).must(t)
	if g = describeGroup(t, e, "web"); states(g)[astypes.LifecycleStateTerminating] != 2 || len(g.SuspendedProcesses) != 0 {
		t.Fatalf("after resume all: %+v, suspended %+v", g.Instances, g.SuspendedProcesses)
	}

	_, err := c.SuspendProcesses(e.ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: name, ScalingProcesses: []string{"Nap"}})
	wantCode(t, err, "ValidationError")
}

func TestDeletedTemplateStopsLaunches(t *testing.T) {
	e := newEnv(t)
	e.template(e.cfg(), "web")
	createGroup(t, e, "web", 0, 3, 1)
	try(e.ec2().DeleteLaunchTemplate(e.ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: aws.String("web")})).must(t)
	try(e.asg().UpdateAutoScalingGroup(e.ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(3)})).must(t)
	if g := describeGroup(t, e, "web"); len(g.Instances) != 1 {
		t.Fatalf("launched %d instances from a deleted template", len(g.Instances)-1)
	}
}

func TestScaleInPrefersOutdatedInstances(t *testing.T) {
	// A rollback: the group goes back to version 1 after an instance was
	// launched from version 2. On scale-in, the newer but outdated version-2
	// instance must go, not the oldest one.
	e := newEnv(t)
	e.template(e.cfg(), "web")
	c := e.asg()
	createGroup(t, e, "web", 0, 2, 1) // $Latest, which is version 1 for now
	e.clock.Advance(launchDelay)
	v1 := describeGroup(t, e, "web").Instances[0]

	try(e.ec2().CreateLaunchTemplateVersion(e.ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateName: aws.String("web"),
		SourceVersion:      aws.String("1"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-22222222")},
	})).must(t)
	try(c.UpdateAutoScalingGroup(e.ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(2)})).must(t)
	e.clock.Advance(launchDelay)
	if v, _ := e.sim.Group("web"); len(v.Instances) != 2 || v.Instances[1].LaunchTemplateVersion != 2 {
		t.Fatalf("after scale-out: %+v, want a second instance from version 2", v.Instances)
	}

	try(c.UpdateAutoScalingGroup(e.ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("web"),
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web"), Version: aws.String("1")},
		DesiredCapacity:      aws.Int32(1),
	})).must(t)
	g := describeGroup(t, e, "web")
	if aws.ToString(g.LaunchTemplate.Version) != "1" {
		t.Fatalf("group template version = %s, want 1", aws.ToString(g.LaunchTemplate.Version))
	}
	for _, in := range g.Instances {
		wantKept := aws.ToString(in.InstanceId) == aws.ToString(v1.InstanceId)
		if (in.LifecycleState == astypes.LifecycleStateInService) != wantKept {
			t.Fatalf("instance %s (version %s) is %s; want only the version-1 instance %s kept",
				aws.ToString(in.InstanceId), aws.ToString(in.LaunchTemplate.Version), in.LifecycleState, aws.ToString(v1.InstanceId))
		}
	}
}
