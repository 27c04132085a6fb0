package aws_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	awssim "github.com/gennaker/gennaker/test/cloudsim/aws"
)

// images is the ImageClient of the env's account.
func (e *env) images() cloud.ImageClient {
	e.t.Helper()
	ic, ok := e.client.(cloud.ImageClient)
	if !ok {
		e.t.Fatalf("%T is not a cloud.ImageClient", e.client)
	}
	return ic
}

// seed adds an image to the sim and returns its ID.
func (e *env) seed(img awssim.Image) string {
	e.t.Helper()
	id, err := e.sim.AddImage(img)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func names(images []cloud.MachineImage) []string {
	var out []string
	for _, im := range images {
		out = append(out, im.Name)
	}
	return out
}

func TestMachineImagesNewestFirstAcrossPages(t *testing.T) {
	e := newEnv(t)
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	web := map[string]string{"app": "web"}
	// Made out of date order: EC2 lists images in no order, so the newest is found only by reading all.
	e.seed(awssim.Image{Name: "web-1.0.0", Created: at(1), Tags: web})
	newestID := e.seed(awssim.Image{Name: "web-1.2.0", Created: at(5), Tags: web})
	e.seed(awssim.Image{Name: "web-1.1.0", Created: at(3), Tags: map[string]string{"app": "web", "team": "shop"}})
	// None of these match.
	e.seed(awssim.Image{Name: "api-9.0.0", Created: at(9), Tags: web})                                    // name
	e.seed(awssim.Image{Name: "web-9.1.0", Created: at(9), Tags: map[string]string{"app": "api"}})        // tag value
	e.seed(awssim.Image{Name: "web-9.2.0", Created: at(9)})                                               // no tag
	e.seed(awssim.Image{Name: "web-9.3.0", Created: at(9), Tags: web, Region: "eu-west-1"})               // region
	e.seed(awssim.Image{Name: "web-9.4.0", Created: at(9), Tags: web, OwnerID: "999999999999"})           // owner
	e.seed(awssim.Image{Name: "web-9.5.0", Created: at(9), Tags: web, State: "pending"})                  // state
	e.seed(awssim.Image{Name: "web-9.6.0", Created: at(9), Tags: map[string]string{"app": "web-canary"}}) // tag is no pattern
	// One registered through the API, as a bake would: newest of all.
	out, err := e.ec2().RegisterImage(e.ctx, &ec2.RegisterImageInput{
		Name: aws.String("web-1.3.0"),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeImage,
			Tags: []ec2types.Tag{{Key: aws.String("app"), Value: aws.String("web")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	baked := aws.ToString(out.ImageId)

	e.sim.SetImagePageLimit(2)
	e.sim.ResetCalls()
	got, err := e.images().MachineImages(e.ctx, cloud.ImageQuery{Region: region, Name: "web-*", Tags: web})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"web-1.3.0", "web-1.2.0", "web-1.1.0", "web-1.0.0"}, names(got)); diff != "" {
		t.Errorf("images (-want +got):\n%s", diff)
	}
	if got[0].ID != baked || got[1].ID != newestID || !got[1].Created.Equal(at(5)) {
		t.Errorf("newest %+v, %+v; want %s, then %s made at %s", got[0], got[1], baked, newestID, at(5))
	}
	// 4 images match, 2 a page: every page is read, the newest being on the last.
	if n := e.sim.Calls()["ec2:DescribeImages"]; n != 2 {
		t.Errorf("DescribeImages calls %d, want 2 (every page)", n)
	}

	// Limit bounds what comes back; the tag's value is literal, a pattern only in the name.
	got, err = e.images().MachineImages(e.ctx, cloud.ImageQuery{Region: region, Name: "web-1.*", Tags: map[string]string{"app": "web*"}})
	if err != nil || len(got) != 0 {
		t.Errorf("tag app=web*: %v, %v; want no image", names(got), err)
	}
	got, err = e.images().MachineImages(e.ctx, cloud.ImageQuery{Region: region, Name: "web-1.?.0", Tags: web, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"web-1.3.0", "web-1.2.0"}, names(got)); diff != "" {
		t.Errorf("limit 2 (-want +got):\n%s", diff)
	}
	// The other region has its own.
	got, err = e.images().MachineImages(e.ctx, cloud.ImageQuery{Region: "eu-west-1"})
	if err != nil || !cmp.Equal(names(got), []string{"web-9.3.0"}) {
		t.Errorf("eu-west-1: %v, %v", names(got), err)
	}
}

func TestMachineImagesDefaultLimitAndPageBound(t *testing.T) {
	e := newEnv(t)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 25 {
		e.seed(awssim.Image{Name: "web-" + time.Duration(i).String(), Created: base.Add(time.Duration(i) * time.Minute)})
	}
	got, err := e.images().MachineImages(e.ctx, cloud.ImageQuery{Region: region})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 || got[0].Name != "web-24ns" || got[19].Name != "web-5ns" {
		t.Errorf("default limit: %d images, %v", len(got), names(got))
	}

	// More pages than a look reads: refused, rather than a newest that may not be.
	e.sim.SetImagePageLimit(2)
	_, err = e.images().MachineImages(e.ctx, cloud.ImageQuery{Region: region})
	wantReason(t, "25 images 2 a page", err, cloud.InvalidRequest)
	if !strings.Contains(err.Error(), "spec.triggers[].machineImage.name") {
		t.Errorf("error %q does not say what to narrow", err)
	}
}

func TestMachineImagesRefusesWhatAWSCannotApply(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		q     cloud.ImageQuery
		field string
	}{
		{cloud.ImageQuery{Name: "web-*"}, "spec.triggers[].machineImage.region"},
		{cloud.ImageQuery{Region: "ap-south-1"}, "spec.triggers[].machineImage.region ap-south-1"},
		{cloud.ImageQuery{Region: region, Family: "web"}, "spec.triggers[].machineImage.family"},
		{cloud.ImageQuery{Region: region, Gallery: &v1alpha1.GalleryImage{ResourceGroup: "rg", Gallery: "g", Image: "web"}}, "spec.triggers[].machineImage.gallery"},
	} {
		e.sim.ResetCalls()
		_, err := e.images().MachineImages(e.ctx, tc.q)
		wantReason(t, tc.field, err, cloud.InvalidRequest)
		if !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: error %q does not name %s", tc.q, err, tc.field)
		}
		if n := len(e.sim.Calls()); n != 0 {
			t.Errorf("%+v: %d calls made before refusing", tc.q, n)
		}
	}
}

func TestMachineImagesClassifiesRefusals(t *testing.T) {
	e := newEnv(t)
	e.sim.Inject(awssim.Fault{Service: awssim.ServiceEC2, Action: "DescribeImages", Kind: awssim.AccessDenied, Count: 1})
	_, err := e.images().MachineImages(e.ctx, cloud.ImageQuery{Region: region})
	wantReason(t, "DescribeImages without the permission", err, cloud.AccessDenied)
}
