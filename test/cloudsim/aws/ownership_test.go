package aws_test

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	cloudsim "github.com/gennaker/gennaker/test/cloudsim/aws"
)

func groupTag(group, k, v string) astypes.Tag {
	return astypes.Tag{ResourceId: aws.String(group), ResourceType: aws.String("auto-scaling-group"),
		Key: aws.String(k), Value: aws.String(v), PropagateAtLaunch: aws.Bool(true)}
}

// CreateOrUpdateTags adds and replaces tags, and refuses a request that names a missing group as a whole.
func TestCreateOrUpdateTags(t *testing.T) {
	e := newEnv(t)
	e.template(e.cfg(), "web")
	createGroup(t, e, "web-v1", 0, 4, 1)
	c := e.asg()

	try(c.CreateOrUpdateTags(e.ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: []astypes.Tag{
		groupTag("web-v1", "owner", "a"), groupTag("web-v1", "team", "shop"),
	}})).must(t)
	try(c.CreateOrUpdateTags(e.ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: []astypes.Tag{groupTag("web-v1", "owner", "b")}})).must(t)
	g, _ := e.sim.Group("web-v1")
	if want := map[string]string{"owner": "b", "team": "shop"}; !maps.Equal(g.Tags, want) {
		t.Fatalf("tags %v, want %v", g.Tags, want)
	}
	if got := describeGroup(t, e, "web-v1").Tags; len(got) != 2 || !aws.ToBool(got[0].PropagateAtLaunch) {
		t.Fatalf("described tags %+v", got)
	}

	_, err := c.CreateOrUpdateTags(e.ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: []astypes.Tag{
		groupTag("web-v1", "owner", "c"), groupTag("nope", "owner", "c"),
	}})
	wantCode(t, err, "ValidationError")
	if g, _ := e.sim.Group("web-v1"); g.Tags["owner"] != "b" {
		t.Fatalf("a refused request changed tags: %v", g.Tags)
	}
}

// SetDesiredCapacity (the API and the test hook) moves the desired capacity within the bounds only.
func TestSetDesiredCapacity(t *testing.T) {
	e := newEnv(t)
	e.template(e.cfg(), "web")
	createGroup(t, e, "web-v1", 1, 4, 1)
	c := e.asg()

	try(c.SetDesiredCapacity(e.ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web-v1"), DesiredCapacity: aws.Int32(3)})).must(t)
	if g := describeGroup(t, e, "web-v1"); aws.ToInt32(g.DesiredCapacity) != 3 || len(g.Instances) != 3 {
		t.Fatalf("desired %d, %d instances", aws.ToInt32(g.DesiredCapacity), len(g.Instances))
	}
	_, err := c.SetDesiredCapacity(e.ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web-v1"), DesiredCapacity: aws.Int32(5)})
	wantCode(t, err, "ValidationError")

	e.sim.ResetCalls()
	if err := e.sim.SetDesiredCapacity("web-v1", 2); err != nil {
		t.Fatal(err)
	}
	if g := describeGroup(t, e, "web-v1"); aws.ToInt32(g.DesiredCapacity) != 2 {
		t.Fatalf("desired %d after the hook", aws.ToInt32(g.DesiredCapacity))
	}
	if calls := e.sim.Calls(); len(calls) != 1 {
		t.Fatalf("the hook counted as a call: %v", calls)
	}
	if err := e.sim.SetDesiredCapacity("web-v1", 0); err == nil {
		t.Fatal("a desired capacity under the min was accepted")
	}
	if err := e.sim.SetDesiredCapacity("nope", 1); err == nil {
		t.Fatal("a missing group was scaled")
	}

	admin := httptest.NewServer(e.sim.AdminHandler())
	t.Cleanup(admin.Close)
	resp, err := admin.Client().Post(admin.URL+"/_sim/desired?group=web-v1&capacity=4", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if g, _ := e.sim.Group("web-v1"); resp.StatusCode != http.StatusNoContent || g.DesiredCapacity != 4 {
		t.Fatalf("admin: %d, desired %d", resp.StatusCode, g.DesiredCapacity)
	}
}

// An AccessDenied fault refuses only the operations it matches, as a missing IAM permission does, and
// names the caller and the permission.
func TestAccessDeniedFault(t *testing.T) {
	e := newEnv(t)
	e.template(e.cfg(), "web")
	e.sim.Inject(cloudsim.Fault{Service: cloudsim.ServiceAutoScaling, Action: "CreateAutoScalingGroup", Kind: cloudsim.AccessDenied})
	_, err := e.asg().CreateAutoScalingGroup(e.ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("web-v1"),
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web")},
		MinSize:              aws.Int32(0), MaxSize: aws.Int32(1), AvailabilityZones: []string{"us-east-1a"},
	})
	wantCode(t, err, "AccessDenied")
	if httpStatus(err) != http.StatusForbidden || !strings.Contains(err.Error(), "is not authorized to perform: autoscaling:CreateAutoScalingGroup") {
		t.Fatalf("error %v (status %d)", err, httpStatus(err))
	}
	if calls := e.sim.Calls()["autoscaling:CreateAutoScalingGroup"]; calls != 1 {
		t.Fatalf("an AccessDenied was retried: %d calls", calls)
	}
	try(e.asg().DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{})).must(t)

	e.sim.Inject(cloudsim.Fault{Service: cloudsim.ServiceEC2, Kind: cloudsim.AccessDenied})
	_, err = e.ec2().DescribeLaunchTemplates(e.ctx, &ec2.DescribeLaunchTemplatesInput{})
	wantCode(t, err, "UnauthorizedOperation")

	e.sim.ClearFaults()
	createGroup(t, e, "web-v1", 0, 1, 1)
}

// A launch template version keeps the data the sim models, DescribeLaunchTemplateVersions returns it, a
// version made from it inherits what it does not give, and CreateTags retags the template.
func TestLaunchTemplateDataAndTags(t *testing.T) {
	e := newEnv(t)
	c := e.ec2()
	lt := try(c.CreateLaunchTemplate(e.ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId: aws.String("ami-1"), InstanceType: ec2types.InstanceTypeT3Micro, UserData: aws.String("IyEvYmluL3No"),
			KeyName: aws.String("ops"), SecurityGroupIds: []string{"sg-1", "sg-2"},
		},
	})).must(t).LaunchTemplate
	try(c.CreateLaunchTemplateVersion(e.ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateName: aws.String("web"), SourceVersion: aws.String("1"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-2")},
	})).must(t)
	out := try(c.DescribeLaunchTemplateVersions(e.ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String("web")})).must(t)
	if len(out.LaunchTemplateVersions) != 2 {
		t.Fatalf("%d versions", len(out.LaunchTemplateVersions))
	}
	for i, image := range []string{"ami-1", "ami-2"} {
		d := out.LaunchTemplateVersions[i].LaunchTemplateData
		if aws.ToString(d.ImageId) != image || d.InstanceType != ec2types.InstanceTypeT3Micro || aws.ToString(d.UserData) != "IyEvYmluL3No" ||
			aws.ToString(d.KeyName) != "ops" || !slices.Equal(d.SecurityGroupIds, []string{"sg-1", "sg-2"}) {
			t.Fatalf("version %d data %+v", i+1, d)
		}
	}

	try(c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{aws.ToString(lt.LaunchTemplateId)},
		Tags: []ec2types.Tag{{Key: aws.String("owner"), Value: aws.String("a")}}})).must(t)
	try(c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{aws.ToString(lt.LaunchTemplateId)},
		Tags: []ec2types.Tag{{Key: aws.String("owner"), Value: aws.String("b")}}})).must(t)
	if got := e.sim.LaunchTemplates()[0].Tags; !maps.Equal(got, map[string]string{"owner": "b"}) {
		t.Fatalf("tags %v", got)
	}
	_, err := c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{"lt-0000000000000dead"}, Tags: []ec2types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	wantCode(t, err, "InvalidLaunchTemplateId.NotFound")
	_, err = c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{"i-0123"}, Tags: []ec2types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	wantCode(t, err, "InvalidID")
}
