package aws_test

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

// handMade makes an Auto Scaling group with the SDK directly, as a team (or EKS) would, from someone
// else's launch template, with the tags given.
func handMade(t *testing.T, e *env, name string, tags map[string]string) {
	t.Helper()
	baseTemplate(t, e, name+"-lt")
	var ts []asgtypes.Tag
	for k, v := range tags {
		ts = append(ts, asgtypes.Tag{Key: aws.String(k), Value: aws.String(v), PropagateAtLaunch: aws.Bool(true)})
	}
	if _, err := e.asg().CreateAutoScalingGroup(e.ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name),
		LaunchTemplate:       &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String(name + "-lt")},
		MinSize:              aws.Int32(1), MaxSize: aws.Int32(3), DesiredCapacity: aws.Int32(2),
		AvailabilityZones: []string{"us-east-1a"},
		Tags:              ts,
	}); err != nil {
		t.Fatal(err)
	}
}

// A group of the ServerGroup's name that it did not make is observed, and every write refuses it before
// calling AWS: the only calls made are Describe calls.
func TestForeignGroupsAreNeverWritten(t *testing.T) {
	for name, tags := range map[string]map[string]string{
		"hand-made":       nil,
		"other namespace": {cloud.TagManagedBy: "gennaker", cloud.TagServerGroup: "team-b/web-main-v001", cloud.TagUID: "uid-of-team-b"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			handMade(t, e, "web-main-v001", tags)
			sg := serverGroup("web-main-v001", v1alpha1.TrafficDisabled, 1)
			before := e.group(sg.Name)

			o := e.observe(sg)
			if !o.Exists || o.Owner != cloud.ParseOwner(tags) {
				t.Fatalf("observation %+v", o)
			}
			w := e.writesOf(func() {
				wantReason(t, "Create", errOf(e.client.Create(e.ctx, sg)), cloud.NotOwned)
				wantReason(t, "UpdateCapacity", errOf(e.client.UpdateCapacity(e.ctx, sg, v1alpha1.Capacity{})), cloud.NotOwned)
				wantReason(t, "SetTraffic", errOf(e.client.SetTraffic(e.ctx, sg, v1alpha1.TrafficDisabled)), cloud.NotOwned)
				_, _, err := e.client.Delete(e.ctx, sg)
				wantReason(t, "Delete", err, cloud.NotOwned)
				wantReason(t, "Adopt without the annotation", errOf(e.client.Adopt(e.ctx, sg)), cloud.NotOwned)
			})
			if len(w) != 0 {
				t.Errorf("writes to a group that is not ours: %v", w)
			}
			after := e.group(sg.Name)
			if after.DesiredCapacity != before.DesiredCapacity || after.Deleting || !maps.Equal(after.Tags, before.Tags) || len(after.SuspendedProcesses) != 0 {
				t.Errorf("the group changed: %+v", after)
			}

			err := errOf(e.client.SetTraffic(e.ctx, sg, v1alpha1.TrafficDisabled))
			var oe *cloud.OwnerError
			if !errors.As(err, &oe) || oe.Owner != cloud.ParseOwner(tags) {
				t.Fatalf("error %v", err)
			}
			t.Logf("%v", err)
		})
	}
}

// Adoption takes over a hand-made group, or an earlier ServerGroup's of the same namespace and name (and
// its launch template), by rewriting their owner tags; never another ServerGroup's.
func TestAdopt(t *testing.T) {
	e := newEnv(t)
	adopting := func(name string) *v1alpha1.ServerGroup {
		sg := serverGroup(name, v1alpha1.TrafficEnabled, 2)
		sg.Annotations = map[string]string{v1alpha1.AnnotationAdopt: name}
		return sg
	}

	// Hand-made, with a tag of its own, which stays.
	handMade(t, e, "web-main-v001", map[string]string{"team": "shop"})
	sg := adopting("web-main-v001")
	if w := e.writesOf(func() {
		if err := errOf(e.client.Adopt(e.ctx, sg)); err != nil {
			t.Fatal(err)
		}
	}); !maps.Equal(w, map[string]int{"autoscaling:CreateOrUpdateTags": 1}) {
		t.Errorf("writes %v", w)
	}
	want := cloud.Tags(sg)
	want["team"] = "shop"
	if g := e.group(sg.Name); !maps.Equal(g.Tags, want) {
		t.Errorf("tags %v, want %v", g.Tags, want)
	}
	if o := e.observe(sg); o.Owner != cloud.OwnerOf(sg) {
		t.Errorf("owner %+v", o.Owner)
	}
	e.updateCapacity(sg)
	if w := e.writesOf(func() {
		if err := errOf(e.client.Adopt(e.ctx, sg)); err != nil {
			t.Fatal(err)
		}
	}); len(w) != 0 {
		t.Errorf("adopting an adopted group wrote %v", w)
	}

	// An earlier ServerGroup's: its group and the template made for it.
	old := serverGroup("web-main-v002", v1alpha1.TrafficEnabled, 1)
	e.create(old)
	again := adopting("web-main-v002")
	again.UID = types.UID("uid-web-main-v002-again")
	if err := errOf(e.client.Adopt(e.ctx, again)); err != nil {
		t.Fatal(err)
	}
	if g := e.group(again.Name); !maps.Equal(g.Tags, cloud.Tags(again)) {
		t.Errorf("group tags %v", g.Tags)
	}
	if lt := e.templates()[again.Name]; !maps.Equal(lt.Tags, cloud.Tags(again)) {
		t.Errorf("template tags %v", lt.Tags)
	}
	if _, _, err := e.client.Delete(e.ctx, again); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(deleteDelay)
	if gone, _, err := e.client.Delete(e.ctx, again); err != nil || !gone {
		t.Fatalf("Delete: %v %v", gone, err)
	}
	if _, ok := e.templates()[again.Name]; ok {
		t.Error("the adopted template was left behind")
	}

	// Another ServerGroup's, annotated or not; or an annotation that is not the name.
	other := serverGroup("web-main-v003", v1alpha1.TrafficEnabled, 1)
	other.Namespace = "team-b"
	e.create(other)
	thief := adopting("web-main-v003")
	thief.UID = types.UID("uid-of-team-a")
	err := errOf(e.client.Adopt(e.ctx, thief))
	wantReason(t, "Adopt of another namespace's group", err, cloud.NotOwned)
	if !strings.Contains(err.Error(), "cannot be adopted") || !strings.Contains(err.Error(), "team-b/web-main-v003") {
		t.Errorf("error %v", err)
	}
	handMade(t, e, "web-main-v004", nil)
	typo := adopting("web-main-v004")
	typo.Annotations[v1alpha1.AnnotationAdopt] = "web-main-v044"
	err = errOf(e.client.Adopt(e.ctx, typo))
	wantReason(t, "Adopt with the wrong name", err, cloud.NotOwned)
	if !strings.Contains(err.Error(), `annotation delivery.gennaker.io/adopt is "web-main-v044"`) {
		t.Errorf("error %v", err)
	}
	if g := e.group("web-main-v004"); len(g.Tags) != 0 {
		t.Errorf("tags %v", g.Tags)
	}
}
