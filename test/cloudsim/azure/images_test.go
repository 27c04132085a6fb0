package azure_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	azuresim "github.com/gennaker/gennaker/test/cloudsim/azure"
)

const versionsPath = "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Compute/galleries/shop/images/web/versions"

// Versions are listed two a page in the order they were made, nextLink carrying the api-version and a
// skip token, each with its publish date from the sim clock, tags and state.
func TestImageVersionPages(t *testing.T) {
	h := newHarness(t)
	for _, v := range []string{"1.0.0", "1.2.0", "1.1.0"} {
		if _, err := h.sim.AddImage(azuresim.ImageVersion{Gallery: "shop", Image: "web", Version: v, Tags: map[string]string{"app": "web"}}); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Minute)
	}
	if _, err := h.sim.AddImage(azuresim.ImageVersion{Gallery: "shop", Image: "web", Version: "1.0.0"}); err == nil {
		t.Error("a second 1.0.0 was made")
	}

	status, body, _ := h.do(http.MethodGet, versionsPath+"?api-version="+azuresim.GalleryAPIVersion, "")
	if status != 200 {
		t.Fatalf("list: %d %v", status, body)
	}
	first := body["value"].([]any)
	next, _ := body["nextLink"].(string)
	if len(first) != 2 || !strings.Contains(next, "api-version="+azuresim.GalleryAPIVersion) {
		t.Fatalf("first page: %d versions, nextLink %q", len(first), next)
	}
	v := first[1].(map[string]any)
	props := v["properties"].(map[string]any)
	pub := props["publishingProfile"].(map[string]any)
	if v["name"] != "1.2.0" || props["provisioningState"] != "Succeeded" || pub["publishedDate"] != "2026-01-01T00:01:00.0000000+00:00" ||
		v["tags"].(map[string]any)["app"] != "web" || !strings.HasSuffix(v["id"].(string), "/galleries/shop/images/web/versions/1.2.0") {
		t.Errorf("1.2.0: %v", v)
	}
	u, _ := url.Parse(next)
	status, body, _ = h.do(http.MethodGet, u.RequestURI(), "")
	if rest := body["value"].([]any); status != 200 || len(rest) != 1 || rest[0].(map[string]any)["name"] != "1.1.0" || body["nextLink"] != nil {
		t.Errorf("last page: %d %v", status, body)
	}
	if n := h.sim.Calls()["GalleryImageVersions.ListByGalleryImage"]; n != 2 {
		t.Errorf("%d list calls counted", n)
	}
}

func TestImageVersionRouting(t *testing.T) {
	h := newHarness(t)
	if err := h.sim.AddImageDefinition("rg", "shop", "empty"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.AddImage(azuresim.ImageVersion{ResourceGroup: "nope", Gallery: "shop", Image: "web", Version: "1.0.0"}); err == nil {
		t.Error("a version was made in a resource group the sim has not")
	}
	if _, err := h.sim.AddImage(azuresim.ImageVersion{Gallery: "shop", Image: "web", Version: "latest"}); err == nil {
		t.Error("a version named latest was made")
	}
	galleries := "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Compute/galleries/"
	for path, want := range map[string]struct {
		status int
		code   string
	}{
		galleries + "shop/images/empty/versions?api-version=" + azuresim.GalleryAPIVersion:                                       {200, ""},
		galleries + "shop/images/web/versions?api-version=" + azuresim.GalleryAPIVersion:                                         {404, "ResourceNotFound"},
		galleries + "other/images/web/versions?api-version=" + azuresim.GalleryAPIVersion:                                        {404, "ParentResourceNotFound"},
		galleries + "shop/images/empty/versions?api-version=" + azuresim.APIVersion:                                              {400, "InvalidApiVersionParameter"},
		galleries + "shop/images/empty/versions?api-version=" + azuresim.GalleryAPIVersion + "&$skiptoken=x":                     {400, "InvalidParameter"},
		strings.Replace(galleries, "/rg/", "/nope/", 1) + "shop/images/empty/versions?api-version=" + azuresim.GalleryAPIVersion: {404, "ResourceGroupNotFound"},
	} {
		status, body, _ := h.do(http.MethodGet, path, "")
		if status != want.status || code(body) != want.code {
			t.Errorf("%s: %d %v, want %d %s", path, status, body, want.status, want.code)
		}
	}
	h.token = ""
	if status, _, _ := h.do(http.MethodGet, galleries+"shop/images/empty/versions?api-version="+azuresim.GalleryAPIVersion, ""); status != 401 {
		t.Errorf("no token: %d", status)
	}
}

// POST /_sim/images seeds a version from outside the process (scripts, demos).
func TestImageVersionAdmin(t *testing.T) {
	h := newHarness(t)
	admin := httptest.NewServer(h.sim.AdminHandler())
	t.Cleanup(admin.Close)
	// In order: the second is the first again.
	for _, c := range []struct {
		body string
		want int
	}{
		{`{"gallery":"shop","image":"web","version":"1.4.2","tags":{"app":"web"},"targetRegions":["westeurope"]}`, 201},
		{`{"gallery":"shop","image":"web","version":"1.4.2"}`, 400},
		{`{"gallery":"shop","image":"web","version":"1.4.3","colour":"blue"}`, 400},
	} {
		resp, err := http.Post(admin.URL+"/_sim/images", "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		_, m, _ := decode(t, resp)
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d %v, want %d", c.body, resp.StatusCode, m, c.want)
		}
	}
	images := h.sim.Images()
	if len(images) != 1 || images[0].Version != "1.4.2" || images[0].ResourceGroup != "rg" || !images[0].Published.Equal(h.clock.Now()) {
		t.Errorf("images %+v", images)
	}
}
