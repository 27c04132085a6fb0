package gcp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	gcpsim "github.com/gennaker/gennaker/test/cloudsim/gcp"
)

func (e *env) images() cloud.ImageClient {
	e.t.Helper()
	ic, ok := e.client().(cloud.ImageClient)
	if !ok {
		e.t.Fatal("the gcp Client is not a cloud.ImageClient")
	}
	return ic
}

func (e *env) seed(img gcpsim.Image) string {
	e.t.Helper()
	link, err := e.sim.AddImage(img)
	if err != nil {
		e.t.Fatal(err)
	}
	return link
}

func imageNames(images []cloud.MachineImage) []string {
	var out []string
	for _, im := range images {
		out = append(out, im.Name)
	}
	return out
}

// seedWeb makes the images both looks below read: four of family web with label app=web (one
// deprecated), and some that must never come back.
func seedWeb(e *env, at func(int) time.Time) (newest string) {
	web := map[string]string{"app": "web"}
	e.seed(gcpsim.Image{Name: "web-v1", Family: "web", Labels: web, Created: at(1)})
	e.seed(gcpsim.Image{Name: "web-v3", Family: "web", Labels: web, Created: at(3)})
	newest = e.seed(gcpsim.Image{Name: "web-v4", Family: "web", Labels: web, Created: at(4)})
	e.seed(gcpsim.Image{Name: "web-v2", Family: "web", Labels: web, Created: at(2)})
	e.seed(gcpsim.Image{Name: "web-v9", Family: "web", Labels: web, Created: at(9), Deprecated: "DEPRECATED"})
	e.seed(gcpsim.Image{Name: "web-v8", Family: "web", Labels: web, Created: at(8), Status: "PENDING"})
	e.seed(gcpsim.Image{Name: "api-v9", Family: "api", Labels: web, Created: at(9)})
	e.seed(gcpsim.Image{Name: "web-v7", Labels: map[string]string{"app": "webx"}, Created: at(7)})
	e.seed(gcpsim.Image{Name: "webxv6", Labels: web, Created: at(6)}) // the - of web-* is literal
	return newest
}

func TestMachineImagesListNewestFirstAcrossPages(t *testing.T) {
	e := newEnv(t)
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	newest := seedWeb(e, at)
	ic := e.images()

	e.sim.SetImagePageLimit(2)
	e.sim.ResetCalls()
	got, err := ic.MachineImages(e.ctx, cloud.ImageQuery{Name: "web-*", Tags: map[string]string{"app": "web"}, Region: "ignored-1"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"web-v4", "web-v3", "web-v2", "web-v1"}, imageNames(got)); diff != "" {
		t.Errorf("images (-want +got):\n%s", diff)
	}
	if got[0].ID != newest || !got[0].Created.Equal(at(4)) {
		t.Errorf("newest %+v, want %s made at %s", got[0], newest, at(4))
	}
	// web-v4..v1 and the deprecated web-v9 match the filter, 2 a page.
	if n := e.sim.Calls()["images.list"]; n != 3 {
		t.Errorf("images.list calls %d, want 3 pages", n)
	}

	// A limit stops the reading as soon as it is reached.
	e.sim.ResetCalls()
	got, err = ic.MachineImages(e.ctx, cloud.ImageQuery{Name: "web-*", Limit: 1})
	if err != nil || !cmp.Equal(imageNames(got), []string{"web-v7"}) {
		t.Errorf("limit 1: %v, %v", imageNames(got), err)
	}
	if n := e.sim.Calls()["images.list"]; n != 1 {
		t.Errorf("images.list calls %d for one image, want 1", n)
	}
}

func TestMachineImagesFromFamily(t *testing.T) {
	e := newEnv(t)
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	newest := seedWeb(e, func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) })
	ic := e.images()

	e.sim.ResetCalls()
	got, err := ic.MachineImages(e.ctx, cloud.ImageQuery{Family: "web"})
	if err != nil {
		t.Fatal(err)
	}
	// Not the deprecated web-v9, nor the pending web-v8.
	if len(got) != 1 || got[0].Name != "web-v4" || got[0].ID != newest {
		t.Errorf("family web: %+v", got)
	}
	if calls := e.sim.Calls(); calls["images.getFromFamily"] != 1 || calls["images.list"] != 0 {
		t.Errorf("calls %v, want one getFromFamily", calls)
	}
	// The family's image must match the other filters too.
	got, err = ic.MachineImages(e.ctx, cloud.ImageQuery{Family: "web", Tags: map[string]string{"app": "api"}})
	if err != nil || len(got) != 0 {
		t.Errorf("family web, app=api: %+v, %v", got, err)
	}
	// A family without an image has nothing to deploy.
	got, err = ic.MachineImages(e.ctx, cloud.ImageQuery{Family: "nothing-here"})
	if err != nil || len(got) != 0 {
		t.Errorf("empty family: %+v, %v", got, err)
	}
}

func TestMachineImagesRefusesAGallery(t *testing.T) {
	e := newEnv(t)
	e.sim.ResetCalls()
	_, err := e.images().MachineImages(e.ctx, cloud.ImageQuery{Gallery: &v1alpha1.GalleryImage{ResourceGroup: "rg", Gallery: "g", Image: "web"}})
	if cloud.ReasonOf(err) != cloud.InvalidRequest || !strings.Contains(err.Error(), "spec.triggers[].machineImage.gallery") {
		t.Fatalf("gallery on gcp: %v, want InvalidRequest naming spec.triggers[].machineImage.gallery", err)
	}
	if calls := e.sim.Calls(); calls["images.list"]+calls["images.getFromFamily"] != 0 {
		t.Errorf("calls %v before refusing", calls)
	}
}

func TestMachineImagesClassifiesErrors(t *testing.T) {
	e := newEnv(t)
	ic := e.images()
	e.sim.Inject(gcpsim.Fault{Method: "images.list", Kind: gcpsim.RateLimit, Count: 100})
	_, err := ic.MachineImages(e.ctx, cloud.ImageQuery{Name: "web-*"})
	if cloud.ReasonOf(err) != cloud.Throttled {
		t.Fatalf("throttled list: %v (%s), want Throttled", err, cloud.ReasonOf(err))
	}
}
