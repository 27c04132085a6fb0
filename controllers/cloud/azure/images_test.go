package azure_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	azuresim "github.com/gennaker/gennaker/test/cloudsim/azure"
)

const listVersions = "GalleryImageVersions.ListByGalleryImage"

// web is the image definition the tests watch.
var web = &v1alpha1.GalleryImage{ResourceGroup: resourceGroup, Gallery: "shop", Image: "web"}

func (e *env) images() cloud.ImageClient {
	e.t.Helper()
	ic, ok := e.client.(cloud.ImageClient)
	if !ok {
		e.t.Fatal("the azure Client is not a cloud.ImageClient")
	}
	return ic
}

func (e *env) seed(v azuresim.ImageVersion) string {
	e.t.Helper()
	if v.Gallery == "" {
		v.ResourceGroup, v.Gallery, v.Image = web.ResourceGroup, web.Gallery, web.Image
	}
	id, err := e.sim.AddImage(v)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func versionNames(images []cloud.MachineImage) []string {
	var out []string
	for _, im := range images {
		out = append(out, im.Name)
	}
	return out
}

// seedWeb makes versions of shop/web tagged app=web in an order unlike their publish dates (so that the
// newest is on the last page of two), and some that must never come back.
func seedWeb(e *env, at func(int) time.Time) (newest string) {
	app := map[string]string{"app": "web"}
	e.seed(azuresim.ImageVersion{Version: "1.2.0", Tags: app, Published: at(2)})
	e.seed(azuresim.ImageVersion{Version: "1.9.0", Tags: app, Published: at(9), ExcludeFromLatest: true})
	e.seed(azuresim.ImageVersion{Version: "1.1.0", Tags: app, Published: at(1)})
	e.seed(azuresim.ImageVersion{Version: "1.8.0", Tags: app, Published: at(8), ProvisioningState: "Failed"})
	e.seed(azuresim.ImageVersion{Version: "1.3.0", Tags: app, Published: at(3), EndOfLife: time.Now().Add(24 * time.Hour)})
	e.seed(azuresim.ImageVersion{Version: "1.5.0", Tags: app, Published: at(5), EndOfLife: time.Now().Add(-time.Hour)})
	e.seed(azuresim.ImageVersion{Version: "1.7.0", Tags: app, Published: at(7), ProvisioningState: "Creating"})
	e.seed(azuresim.ImageVersion{Version: "1.6.0", Tags: map[string]string{"app": "api"}, Published: at(6)})
	newest = e.seed(azuresim.ImageVersion{Version: "1.4.0", Tags: app, Published: at(4)})
	// Another definition of the gallery, newer than all.
	e.seed(azuresim.ImageVersion{ResourceGroup: resourceGroup, Gallery: "shop", Image: "api", Version: "2.0.0", Tags: app, Published: at(10)})
	return newest
}

func TestMachineImagesNewestFirstAcrossPages(t *testing.T) {
	e := newEnv(t)
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	newest := seedWeb(e, at)
	ic := e.images()

	e.sim.ResetCalls()
	got, err := ic.MachineImages(e.ctx, cloud.ImageQuery{Gallery: web, Tags: map[string]string{"app": "web"}})
	if err != nil {
		t.Fatal(err)
	}
	// Not the excluded 1.9.0, the failed 1.8.0, the creating 1.7.0, 1.5.0 past its end of life, nor 1.6.0 of
	// app=api; 1.3.0's end of life is still to come.
	if diff := cmp.Diff([]string{"1.4.0", "1.3.0", "1.2.0", "1.1.0"}, versionNames(got)); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	if got[0].ID != newest || !got[0].Created.Equal(at(4)) {
		t.Errorf("newest %+v, want %s published at %s", got[0], newest, at(4))
	}
	// Nine versions, two a page: the newest is on the last.
	if n := e.sim.Calls()[listVersions]; n != 5 {
		t.Errorf("%s calls %d, want 5 pages", listVersions, n)
	}

	// A limit keeps the newest, but every page is read: ARM lists in no order.
	e.sim.ResetCalls()
	got, err = ic.MachineImages(e.ctx, cloud.ImageQuery{Gallery: web, Limit: 2})
	if err != nil || !cmp.Equal(versionNames(got), []string{"1.6.0", "1.4.0"}) {
		t.Errorf("limit 2: %v, %v", versionNames(got), err)
	}
	if n := e.sim.Calls()[listVersions]; n != 5 {
		t.Errorf("%s calls %d with a limit, want 5 pages", listVersions, n)
	}

	// A name pattern, and tag names compared without case (values with).
	got, err = ic.MachineImages(e.ctx, cloud.ImageQuery{Gallery: web, Name: "1.[23].*", Tags: map[string]string{"App": "web"}})
	if err != nil || len(got) != 0 {
		t.Errorf("1.[23].*, brackets literal: %v, %v", versionNames(got), err)
	}
	got, err = ic.MachineImages(e.ctx, cloud.ImageQuery{Gallery: web, Name: "1.*.0", Tags: map[string]string{"App": "web"}})
	if err != nil || !cmp.Equal(versionNames(got), []string{"1.4.0", "1.3.0", "1.2.0", "1.1.0"}) {
		t.Errorf("1.*.0, App=web: %v, %v", versionNames(got), err)
	}
	got, err = ic.MachineImages(e.ctx, cloud.ImageQuery{Gallery: web, Tags: map[string]string{"app": "WEB"}})
	if err != nil || len(got) != 0 {
		t.Errorf("app=WEB: %v, %v", versionNames(got), err)
	}
}

func TestMachineImagesInARegion(t *testing.T) {
	e := newEnv(t)
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	e.seed(azuresim.ImageVersion{Version: "1.0.0", TargetRegions: []string{"West Europe", "East US"}, Published: base})
	e.seed(azuresim.ImageVersion{Version: "1.1.0", TargetRegions: []string{"West Europe"}, Published: base.Add(time.Hour)})

	for region, want := range map[string][]string{
		"":            {"1.1.0", "1.0.0"},
		"westeurope":  {"1.1.0", "1.0.0"},
		"eastus":      {"1.0.0"},
		"East US":     {"1.0.0"},
		"northeurope": nil,
	} {
		got, err := e.images().MachineImages(e.ctx, cloud.ImageQuery{Gallery: web, Region: region})
		if err != nil || !cmp.Equal(versionNames(got), want) {
			t.Errorf("region %q: %v, %v; want %v", region, versionNames(got), err, want)
		}
	}
}

func TestMachineImagesRefusesWhatAzureCannotApply(t *testing.T) {
	e := newEnv(t)
	e.seed(azuresim.ImageVersion{Version: "1.0.0"})
	e.sim.ResetCalls()
	for field, q := range map[string]cloud.ImageQuery{
		"spec.triggers[].machineImage.gallery": {Name: "1.*"},
		"spec.triggers[].machineImage.family":  {Gallery: web, Family: "web"},
	} {
		_, err := e.images().MachineImages(e.ctx, q)
		if cloud.ReasonOf(err) != cloud.InvalidRequest || !strings.Contains(err.Error(), field) {
			t.Errorf("%+v: %v, want InvalidRequest naming %s", q, err, field)
		}
	}
	if n := e.sim.Calls()[listVersions]; n != 0 {
		t.Errorf("%s calls %d before refusing", listVersions, n)
	}
}

func TestMachineImagesClassifiesErrors(t *testing.T) {
	e := newEnv(t)
	e.seed(azuresim.ImageVersion{Version: "1.0.0"})
	ic := e.images()

	e.sim.Inject(azuresim.Fault{Op: listVersions, Status: http.StatusForbidden, Code: "AuthorizationFailed",
		Message: "The client does not have authorization to perform action 'Microsoft.Compute/galleries/images/versions/read'."})
	_, err := ic.MachineImages(e.ctx, cloud.ImageQuery{Gallery: web})
	wantReason(t, "403", err, cloud.AccessDenied)
	if !strings.Contains(err.Error(), "AuthorizationFailed") {
		t.Errorf("403: %v, want the ARM code", err)
	}

	_, err = ic.MachineImages(e.ctx, cloud.ImageQuery{Gallery: &v1alpha1.GalleryImage{ResourceGroup: resourceGroup, Gallery: "shop", Image: "nope"}})
	wantReason(t, "missing definition", err, cloud.NotFound)
	if !strings.Contains(err.Error(), "galleries/shop/images/nope") {
		t.Errorf("missing definition: %v, want it named", err)
	}
	_, err = ic.MachineImages(e.ctx, cloud.ImageQuery{Gallery: &v1alpha1.GalleryImage{ResourceGroup: resourceGroup, Gallery: "nope", Image: "web"}})
	wantReason(t, "missing gallery", err, cloud.NotFound)

	// Throttled on every try, after the SDK's retries.
	e.sim.Inject(azuresim.Fault{Op: listVersions, Status: http.StatusTooManyRequests, Count: -1})
	_, err = ic.MachineImages(e.ctx, cloud.ImageQuery{Gallery: web})
	wantReason(t, "429", err, cloud.Throttled)
}

func TestMachineImagesBoundsThePages(t *testing.T) {
	e := newEnv(t)
	// 50 pages of two are read; the 101st version makes a 51st.
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for i := range 100 {
		e.seed(azuresim.ImageVersion{Version: fmt.Sprintf("1.0.%d", i), Published: base.Add(time.Duration(i) * time.Minute)})
	}
	got, err := e.images().MachineImages(e.ctx, cloud.ImageQuery{Gallery: web, Limit: 1})
	if err != nil || !cmp.Equal(versionNames(got), []string{"1.0.99"}) {
		t.Fatalf("100 versions: %v, %v", versionNames(got), err)
	}
	e.seed(azuresim.ImageVersion{Version: "1.0.100", Published: base.Add(-time.Hour)})
	e.sim.ResetCalls()
	_, err = e.images().MachineImages(e.ctx, cloud.ImageQuery{Gallery: web, Limit: 1})
	if cloud.ReasonOf(err) != cloud.InvalidRequest || !strings.Contains(err.Error(), "more than 50 pages") {
		t.Errorf("101 versions: %v, want InvalidRequest", err)
	}
	if n := e.sim.Calls()[listVersions]; n != 50 {
		t.Errorf("%s calls %d, want 50", listVersions, n)
	}
}
