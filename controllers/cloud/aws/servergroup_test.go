package aws_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	awsprovider "github.com/gennaker/gennaker/controllers/cloud/aws"
	awssim "github.com/gennaker/gennaker/test/cloudsim/aws"
)

func TestVerify(t *testing.T) {
	e := newEnv(t)
	e.wantIdentity(e.client, keyUser)
}

func TestObserveMissingGroup(t *testing.T) {
	e := newEnv(t)
	o := e.observe(serverGroup("web-main-v000", v1alpha1.TrafficEnabled, 1))
	if o.Exists {
		t.Errorf("observation of a missing group: %+v", o)
	}
	if got := e.sim.Calls(); !maps.Equal(got, map[string]int{"autoscaling:DescribeAutoScalingGroups": 1}) {
		t.Errorf("calls %v", got)
	}
}

func TestCreateAndObserveThroughTheLifecycle(t *testing.T) {
	e := newEnv(t)
	off := serverGroup("web-main-v001", v1alpha1.TrafficDisabled, 2)
	on := serverGroup("web-main-v002", v1alpha1.TrafficEnabled, 2)
	e.create(off)
	e.create(on)

	g := e.group(off.Name)
	if len(g.TargetGroupARNs) != 0 || !slices.Equal(g.SuspendedProcesses, []string{"AddToLoadBalancer"}) {
		t.Errorf("disabled group: target groups %v, suspended %v", g.TargetGroupARNs, g.SuspendedProcesses)
	}
	wantTags := map[string]string{
		"gennaker.io/managed-by":   "gennaker",
		"gennaker.io/server-group": "team-a/web-main-v001",
		"gennaker.io/uid":          "uid-web-main-v001",
		"gennaker.io/cluster":      "web-main",
	}
	if !maps.Equal(g.Tags, wantTags) {
		t.Errorf("tags %v, want %v", g.Tags, wantTags)
	}
	if g.LaunchTemplateName != off.Name || g.LaunchTemplateVersion != "1" {
		t.Errorf("launch template %s %s, want the template made for the group at version 1", g.LaunchTemplateName, g.LaunchTemplateVersion)
	}
	for _, lt := range e.sim.LaunchTemplates() {
		if lt.Name == off.Name && !maps.Equal(lt.Tags, wantTags) {
			t.Errorf("launch template tags %v, want %v", lt.Tags, wantTags)
		}
	}
	if g.MinSize != 0 || g.MaxSize != 10 || g.DesiredCapacity != 2 || len(g.AvailabilityZones) != 2 {
		t.Errorf("group %+v", g)
	}
	g = e.group(on.Name)
	if !slices.Equal(g.TargetGroupARNs, []string{tgA}) || len(g.SuspendedProcesses) != 0 {
		t.Errorf("enabled group: target groups %v, suspended %v", g.TargetGroupARNs, g.SuspendedProcesses)
	}

	// Pending.
	for _, sg := range []*v1alpha1.ServerGroup{off, on} {
		o := e.observe(sg)
		if !o.Exists || o.Deleting || !strings.HasPrefix(o.ProviderID, "arn:aws:autoscaling:us-east-1:") {
			t.Errorf("%s: %+v", sg.Name, o)
		}
		if o.Instances != (v1alpha1.Instances{Desired: 2}) || o.Capacity != sg.Spec.Capacity {
			t.Errorf("%s pending: instances %+v capacity %+v", sg.Name, o.Instances, o.Capacity)
		}
		if o.Traffic != sg.Spec.Traffic {
			t.Errorf("%s: traffic %s", sg.Name, o.Traffic)
		}
		if o.Owner != cloud.OwnerOf(sg) {
			t.Errorf("%s: owner %+v", sg.Name, o.Owner)
		}
		if lt := o.Status.AWS.LaunchTemplate; *lt != (v1alpha1.LaunchTemplate{Name: sg.Name, Version: "1"}) {
			t.Errorf("%s: launch template in status %+v", sg.Name, lt)
		}
		if strings.Count(o.Unhealthy, ": Pending") != 2 {
			t.Errorf("%s: unhealthy %q", sg.Name, o.Unhealthy)
		}
	}
	e.sim.ResetCalls()
	e.observe(off)
	e.observe(on)
	if n := e.sim.Calls()["elasticloadbalancing:DescribeTargetHealth"]; n != 0 {
		t.Errorf("DescribeTargetHealth called %d times while no instance was in service", n)
	}

	// InService: the disabled group counts its healthy instances, the enabled one waits for its target group.
	e.clock.Advance(launchDelay)
	o := e.observe(off)
	if o.Instances != (v1alpha1.Instances{Desired: 2, Running: 2, Healthy: 2}) || o.Unhealthy != "" {
		t.Errorf("disabled in service: %+v %q", o.Instances, o.Unhealthy)
	}
	o = e.observe(on)
	if o.Instances != (v1alpha1.Instances{Desired: 2, Running: 2, Healthy: 0}) || strings.Count(o.Unhealthy, ": target initial") != 2 {
		t.Errorf("enabled in service: %+v %q", o.Instances, o.Unhealthy)
	}

	e.clock.Advance(healthyDelay)
	o = e.observe(on)
	if o.Instances != (v1alpha1.Instances{Desired: 2, Running: 2, Healthy: 2}) || o.Unhealthy != "" {
		t.Errorf("enabled healthy: %+v %q", o.Instances, o.Unhealthy)
	}
}

func TestCreateIsIdempotent(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1)
	e.create(sg)
	e.create(sg)
	calls := e.sim.Calls()
	if calls["autoscaling:CreateAutoScalingGroup"] != 1 || calls["ec2:CreateLaunchTemplate"] != 1 {
		t.Errorf("calls %v", calls)
	}
	if n := len(e.sim.Groups()); n != 1 {
		t.Errorf("%d groups", n)
	}
	lts := e.sim.LaunchTemplates()
	if len(lts) != 1 || len(lts[0].Versions) != 1 || lts[0].Versions[0].ImageID != "ami-0abc1234" ||
		lts[0].Versions[0].InstanceType != "m7g.large" || lts[0].Versions[0].Description != "team-a/web-main-v001" {
		t.Errorf("launch templates %+v", lts)
	}

	// A crash after the launch template was made and before the group was: the repeat reuses it.
	sg2 := serverGroup("web-main-v002", v1alpha1.TrafficEnabled, 1)
	e.sim.Inject(awssim.Fault{Service: awssim.ServiceAutoScaling, Action: "CreateAutoScalingGroup", Kind: awssim.ServerError})
	wantReason(t, "Create during an outage", errOf(e.client.Create(e.ctx, sg2)), cloud.Unavailable)
	e.sim.ClearFaults()
	e.create(sg2)
	if lts := e.sim.LaunchTemplates(); len(lts) != 2 || len(lts[1].Versions) != 1 {
		t.Errorf("launch templates after a repeated Create: %+v", lts)
	}
}

// baseTemplate makes a launch template of someone else's, as a team would, with the SDK directly.
func baseTemplate(t *testing.T, e *env, name string) {
	t.Helper()
	if _, err := e.ec2().CreateLaunchTemplate(e.ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId: aws.String("ami-base"), InstanceType: ec2types.InstanceTypeT3Micro,
			KeyName: aws.String("ops"), SecurityGroupIds: []string{"sg-web"}, UserData: aws.String("IyEvYmluL3No"),
		},
	}); err != nil {
		t.Fatal(err)
	}
}

// newVersion adds a version with another image to someone else's template, as its team would.
func newVersion(t *testing.T, e *env, name, image string) {
	t.Helper()
	if _, err := e.ec2().CreateLaunchTemplateVersion(e.ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateName: aws.String(name),
		SourceVersion:      aws.String("$Latest"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(image)},
	}); err != nil {
		t.Fatal(err)
	}
}

// templates returns the sim's launch templates by name.
func (e *env) templates() map[string]awssim.LaunchTemplateView {
	out := map[string]awssim.LaunchTemplateView{}
	for _, lt := range e.sim.LaunchTemplates() {
		out[lt.Name] = lt
	}
	return out
}

// A launch template named in the spec is used at a version number, resolved once; with an image or an
// instance type, the group gets a template of its own made from that version, and the named template
// never gets a new version.
func TestCreateWithALaunchTemplate(t *testing.T) {
	e := newEnv(t)
	baseTemplate(t, e, "web-base")
	base := func() []awssim.LaunchTemplateVersionView { return e.templates()["web-base"].Versions }

	// As it is: $Default and $Latest become the numbers they stand for.
	asIs := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1)
	asIs.Spec.AWS.ImageID, asIs.Spec.AWS.InstanceType = "", ""
	asIs.Spec.AWS.LaunchTemplate = &v1alpha1.LaunchTemplate{Name: "web-base", Version: "$Default"}
	e.create(asIs)
	if g := e.group(asIs.Name); g.LaunchTemplateName != "web-base" || g.LaunchTemplateVersion != "1" {
		t.Errorf("group template %s %s, want web-base 1", g.LaunchTemplateName, g.LaunchTemplateVersion)
	}
	newVersion(t, e, "web-base", "ami-base-2")
	latest := serverGroup("web-main-v002", v1alpha1.TrafficEnabled, 1)
	latest.Spec.AWS.ImageID, latest.Spec.AWS.InstanceType = "", ""
	latest.Spec.AWS.LaunchTemplate = &v1alpha1.LaunchTemplate{Name: "web-base", Version: "$Latest"}
	e.create(latest)
	if g := e.group(latest.Name); g.LaunchTemplateVersion != "2" {
		t.Errorf("group version %s, want 2", g.LaunchTemplateVersion)
	}
	if o := e.observe(latest); *o.Status.AWS.LaunchTemplate != (v1alpha1.LaunchTemplate{Name: "web-base", Version: "2"}) {
		t.Errorf("status %+v", o.Status.AWS.LaunchTemplate)
	}

	// Made again after a deletion behind the operator's back, with the version recorded in status: a
	// version 3 made since does not reach it.
	newVersion(t, e, "web-base", "ami-base-3")
	latest.Status.AWS = e.observe(latest).Status.AWS
	if _, err := e.asg().DeleteAutoScalingGroup(e.ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String(latest.Name), ForceDelete: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(deleteDelay)
	e.create(latest)
	if g := e.group(latest.Name); g.LaunchTemplateVersion != "2" {
		t.Errorf("group made again at version %s, want the pinned 2", g.LaunchTemplateVersion)
	}

	// With an image, from $Latest (now 3), with a crash between the template and the group.
	img := serverGroup("web-main-v003", v1alpha1.TrafficEnabled, 1)
	img.Spec.AWS.InstanceType = ""
	img.Spec.AWS.LaunchTemplate = &v1alpha1.LaunchTemplate{Name: "web-base", Version: "$Latest"}
	e.sim.Inject(awssim.Fault{Service: awssim.ServiceAutoScaling, Action: "CreateAutoScalingGroup", Kind: awssim.ServerError})
	wantReason(t, "Create during an outage", errOf(e.client.Create(e.ctx, img)), cloud.Unavailable)
	e.sim.ClearFaults()
	newVersion(t, e, "web-base", "ami-base-4") // $Latest moves between the crash and the repeat
	e.create(img)
	e.create(img)
	own := e.templates()[img.Name]
	if len(own.Versions) != 1 {
		t.Fatalf("the group's template has %d versions", len(own.Versions))
	}
	want := awssim.LaunchTemplateVersionView{
		Number: 1, Description: "team-a/web-main-v003, from launch template web-base version 3",
		ImageID: "ami-0abc1234", InstanceType: "t3.micro", KeyName: "ops", SecurityGroupIDs: []string{"sg-web"}, UserData: "IyEvYmluL3No",
	}
	if diff := cmp.Diff(want, own.Versions[0]); diff != "" {
		t.Errorf("the group's template (-want +got):\n%s", diff)
	}
	if own.Tags[awsprovider.TagUID] != string(img.UID) {
		t.Errorf("the group's template tags %v", own.Tags)
	}
	if g := e.group(img.Name); g.LaunchTemplateName != img.Name || g.LaunchTemplateVersion != "1" {
		t.Errorf("group template %s %s", g.LaunchTemplateName, g.LaunchTemplateVersion)
	}

	// With an instance type, from a numbered version.
	typ := serverGroup("web-main-v004", v1alpha1.TrafficEnabled, 1)
	typ.Spec.AWS.ImageID = ""
	typ.Spec.AWS.LaunchTemplate = &v1alpha1.LaunchTemplate{Name: "web-base", Version: "1"}
	e.create(typ)
	if v := e.templates()[typ.Name].Versions; len(v) != 1 || v[0].ImageID != "ami-base" || v[0].InstanceType != "m7g.large" || v[0].KeyName != "ops" {
		t.Errorf("versions %+v", v)
	}

	// The named template never got a version from the operator.
	if n := len(base()); n != 4 {
		t.Errorf("web-base has %d versions, want the 4 its team made", n)
	}
	if n := e.sim.Calls()["ec2:CreateLaunchTemplateVersion"]; n != 3 {
		t.Errorf("CreateLaunchTemplateVersion called %d times, all by the test", n)
	}

	// Deleting the groups deletes their own templates, and leaves the shared one alone.
	all := []*v1alpha1.ServerGroup{asIs, latest, img, typ}
	for _, sg := range all {
		if _, _, err := e.client.Delete(e.ctx, sg); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(deleteDelay)
	for _, sg := range all {
		if gone, _, err := e.client.Delete(e.ctx, sg); err != nil || !gone {
			t.Fatalf("Delete %s: %v %v", sg.Name, gone, err)
		}
	}
	if lts := e.templates(); len(lts) != 1 || len(lts["web-base"].Versions) != 4 {
		t.Errorf("templates left: %+v", lts)
	}
}

func TestCreateRefusesBadSpecs(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 1)
	sg.Spec.AWS.ImageID = ""
	err := errOf(e.client.Create(e.ctx, sg))
	wantReason(t, "no image", err, cloud.InvalidRequest)
	if !strings.Contains(err.Error(), "spec.aws.imageID is required when spec.aws.launchTemplate is not set") {
		t.Errorf("error %q", err)
	}

	// A template of the group's name that is not the group's is neither used nor deleted.
	baseTemplate(t, e, "web-main-v002")
	sg = serverGroup("web-main-v002", v1alpha1.TrafficEnabled, 1)
	wantReason(t, "someone else's template", errOf(e.client.Create(e.ctx, sg)), cloud.InvalidRequest)
	if gone, _, err := e.client.Delete(e.ctx, sg); err != nil || !gone {
		t.Fatalf("Delete: %v %v", gone, err)
	}
	if n := len(e.sim.LaunchTemplates()); n != 1 {
		t.Errorf("%d launch templates", n)
	}

	sg = serverGroup("web-main-v003", v1alpha1.TrafficEnabled, 1)
	sg.Spec.Region = "ap-south-1"
	wantReason(t, "a region not of the account", errOf(e.client.Create(e.ctx, sg)), cloud.InvalidRequest)

	sg = serverGroup("web-main-v004", v1alpha1.TrafficEnabled, 1)
	sg.Spec.AWS.TargetGroupARNs = []string{"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/00"}
	wantReason(t, "an unknown target group", errOf(e.client.Create(e.ctx, sg)), cloud.InvalidRequest)

	sg = serverGroup("web-main-v005", v1alpha1.TrafficEnabled, 1)
	sg.Spec.Capacity = v1alpha1.Capacity{Min: 3, Max: 1, Desired: 2}
	wantReason(t, "min above max", errOf(e.client.Create(e.ctx, sg)), cloud.InvalidRequest)

	wantReason(t, "UpdateCapacity of a missing group", errOf(e.client.UpdateCapacity(e.ctx, serverGroup("nope", v1alpha1.TrafficEnabled, 1), v1alpha1.Capacity{Max: 1})), cloud.NotFound)
	wantReason(t, "SetTraffic of a missing group", errOf(e.client.SetTraffic(e.ctx, serverGroup("nope", v1alpha1.TrafficEnabled, 1), v1alpha1.TrafficEnabled)), cloud.NotFound)
}

func TestSetTraffic(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 2)
	sg.Spec.AWS.TargetGroupARNs = []string{tgA, tgB}
	e.create(sg)
	e.clock.Advance(launchDelay + healthyDelay)
	if o := e.observe(sg); o.Traffic != v1alpha1.TrafficEnabled || o.Instances.Healthy != 2 {
		t.Fatalf("before: %+v", o)
	}

	e.setTraffic(sg, v1alpha1.TrafficDisabled)
	g := e.group(sg.Name)
	if len(g.TargetGroupARNs) != 0 || !slices.Equal(g.SuspendedProcesses, []string{"AddToLoadBalancer", "Launch", "Terminate"}) {
		t.Errorf("disabled: target groups %v, suspended %v", g.TargetGroupARNs, g.SuspendedProcesses)
	}
	if o := e.observe(sg); o.Traffic != v1alpha1.TrafficDisabled || o.Instances.Healthy != 2 {
		t.Errorf("disabled: %+v", o)
	}
	if w := e.writesOf(func() { e.setTraffic(sg, v1alpha1.TrafficDisabled) }); len(w) != 0 {
		t.Errorf("a second disable wrote: %v", w)
	}

	e.setTraffic(sg, v1alpha1.TrafficEnabled)
	g = e.group(sg.Name)
	if !slices.Equal(g.TargetGroupARNs, []string{tgA, tgB}) || len(g.SuspendedProcesses) != 0 {
		t.Errorf("enabled: target groups %v, suspended %v", g.TargetGroupARNs, g.SuspendedProcesses)
	}
	for _, in := range g.Instances {
		if in.TargetHealth[tgA] != "initial" || in.TargetHealth[tgB] != "initial" {
			t.Errorf("instance %s: target health %v", in.ID, in.TargetHealth)
		}
	}
	if o := e.observe(sg); o.Traffic != v1alpha1.TrafficEnabled || o.Instances.Healthy != 0 {
		t.Errorf("enabled: %+v", o)
	}
	if w := e.writesOf(func() { e.setTraffic(sg, v1alpha1.TrafficEnabled) }); len(w) != 0 {
		t.Errorf("a second enable wrote: %v", w)
	}
	e.clock.Advance(healthyDelay)
	if o := e.observe(sg); o.Instances.Healthy != 2 {
		t.Errorf("enabled, healthy: %+v", o)
	}

	// A group attached to only one of its target groups is not enabled; enabling attaches the other.
	sg.Spec.AWS.TargetGroupARNs = []string{tgA}
	e.setTraffic(sg, v1alpha1.TrafficDisabled)
	e.setTraffic(sg, v1alpha1.TrafficEnabled)
	sg.Spec.AWS.TargetGroupARNs = []string{tgA, tgB}
	if o := e.observe(sg); o.Traffic != v1alpha1.TrafficDisabled {
		t.Errorf("half attached: %+v", o)
	}
	if w := e.writesOf(func() { e.setTraffic(sg, v1alpha1.TrafficEnabled) }); !maps.Equal(w, map[string]int{"autoscaling:AttachLoadBalancerTargetGroups": 1}) {
		t.Errorf("enabling a half-attached group wrote %v", w)
	}
	if o := e.observe(sg); o.Traffic != v1alpha1.TrafficEnabled {
		t.Errorf("attached: %+v", o)
	}
}

func TestUpdateCapacityScalesADisabledGroup(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 3)
	e.create(sg)
	e.clock.Advance(launchDelay)
	e.setTraffic(sg, v1alpha1.TrafficDisabled)

	sg.Spec.Capacity = v1alpha1.Capacity{Min: 0, Max: 10, Desired: 1}
	e.updateCapacity(sg)
	g := e.group(sg.Name)
	if g.DesiredCapacity != 1 || !slices.Equal(g.SuspendedProcesses, []string{"AddToLoadBalancer"}) {
		t.Errorf("desired %d, suspended %v", g.DesiredCapacity, g.SuspendedProcesses)
	}
	terminating := 0
	for _, in := range g.Instances {
		if in.LifecycleState == "Terminating" {
			terminating++
		}
	}
	if terminating != 2 {
		t.Errorf("%d instances terminating, want 2", terminating)
	}
	e.clock.Advance(terminateDelay)
	o := e.observe(sg)
	if o.Instances != (v1alpha1.Instances{Desired: 1, Running: 1, Healthy: 1}) || o.Traffic != v1alpha1.TrafficDisabled {
		t.Errorf("after scale-in: %+v", o)
	}

	if w := e.writesOf(func() { e.updateCapacity(sg) }); len(w) != 0 {
		t.Errorf("a repeated UpdateCapacity wrote %v", w)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 2)
	e.create(sg)
	e.clock.Advance(launchDelay)

	for i := 0; i < 2; i++ {
		gone, _, err := e.client.Delete(e.ctx, sg)
		if err != nil || gone {
			t.Fatalf("Delete %d: gone %v, %v", i, gone, err)
		}
	}
	if n := e.sim.Calls()["autoscaling:DeleteAutoScalingGroup"]; n != 1 {
		t.Errorf("DeleteAutoScalingGroup called %d times", n)
	}
	if o := e.observe(sg); !o.Exists || !o.Deleting || o.Capacity.Desired != 0 {
		t.Errorf("deleting: %+v", o)
	}
	e.clock.Advance(deleteDelay)
	for i := 0; i < 2; i++ {
		gone, _, err := e.client.Delete(e.ctx, sg)
		if err != nil || !gone {
			t.Fatalf("Delete after the delay %d: gone %v, %v", i, gone, err)
		}
	}
	if lts := e.sim.LaunchTemplates(); len(lts) != 0 {
		t.Errorf("launch templates left: %+v", lts)
	}
	if o := e.observe(sg); o.Exists {
		t.Errorf("after delete: %+v", o)
	}
}

func TestNeverHealthy(t *testing.T) {
	e := newEnv(t)
	sg := serverGroup("web-main-v001", v1alpha1.TrafficEnabled, 5)
	e.sim.NeverHealthy(sg.Name)
	e.create(sg)
	e.clock.Advance(launchDelay + healthyDelay)
	o := e.observe(sg)
	if o.Instances != (v1alpha1.Instances{Desired: 5, Running: 5, Healthy: 0}) {
		t.Errorf("instances %+v", o.Instances)
	}
	if strings.Count(o.Unhealthy, ": target unhealthy") != 3 || !strings.HasSuffix(o.Unhealthy, "; 2 more") {
		t.Errorf("unhealthy %q", o.Unhealthy)
	}
	t.Logf("Unhealthy: %s", o.Unhealthy)

	// Out of its load balancers, the group's own health counts.
	e.setTraffic(sg, v1alpha1.TrafficDisabled)
	if o := e.observe(sg); o.Instances.Healthy != 5 || o.Unhealthy != "" {
		t.Errorf("disabled: %+v", o)
	}
}
