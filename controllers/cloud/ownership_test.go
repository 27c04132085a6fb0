package cloud_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

func TestClaim(t *testing.T) {
	group := func(annotation string) *v1alpha1.ServerGroup {
		sg := &v1alpha1.ServerGroup{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-v001", UID: "uid-now"}}
		if annotation != "" {
			sg.Annotations = map[string]string{v1alpha1.AnnotationAdopt: annotation}
		}
		return sg
	}
	earlier := cloud.Owner{ManagedBy: "gennaker", ServerGroup: "shop/web-v001", UID: "uid-before"}
	other := cloud.Owner{ManagedBy: "gennaker", ServerGroup: "pay/web-v001", UID: "uid-other"}
	cases := map[string]struct {
		reason     string
		annotation string
		owner      cloud.Owner
		wantAdopt  bool
		wantErr    string // a part of the NotOwned error's message; "" for no error
	}{
		"ours":                        {"the UID decides", "", cloud.Owner{UID: "uid-now"}, false, ""},
		"ours, annotated":             {"nothing to adopt", "web-v001", cloud.Owner{UID: "uid-now", ServerGroup: "x/y"}, false, ""},
		"hand-made":                   {"no tags", "", cloud.Owner{}, false, "it has no Gennaker owner tags: made outside Gennaker; nothing was changed; to take it over, annotate this ServerGroup delivery.gennaker.io/adopt=web-v001"},
		"hand-made, adopted":          {"no tags, asked", "web-v001", cloud.Owner{}, true, ""},
		"hand-made, wrong annotation": {"only the own name asks", "web-v002", cloud.Owner{}, false, `annotation delivery.gennaker.io/adopt is "web-v002": to adopt it, its value must be this ServerGroup's name, web-v001`},
		"earlier incarnation":         {"same namespace/name", "", earlier, false, "its tags name ServerGroup shop/web-v001 (uid uid-before); nothing was changed; to take it over"},
		"earlier, adopted":            {"same namespace/name, asked", "web-v001", earlier, true, ""},
		"another ServerGroup":         {"never", "web-v001", other, false, "its tags name ServerGroup pay/web-v001 (uid uid-other); nothing was changed; it cannot be adopted"},
		"tags that name nobody":       {"never", "web-v001", cloud.Owner{ManagedBy: "gennaker"}, false, "Gennaker tags that name no ServerGroup"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			adopt, err := cloud.Claim(group(c.annotation), "Auto Scaling group web-v001", c.owner)
			if adopt != c.wantAdopt {
				t.Errorf("adopt %v, want %v (%s)", adopt, c.wantAdopt, c.reason)
			}
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("error %v (%s)", err, c.reason)
			case c.wantErr != "" && (cloud.ReasonOf(err) != cloud.NotOwned || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("error %v, want NotOwned with %q (%s)", err, c.wantErr, c.reason)
			}
			// Check never allows what is not ours, whatever the annotation says.
			if check := cloud.Check(group(c.annotation), "Auto Scaling group web-v001", c.owner); (check == nil) != (c.owner.UID == "uid-now") {
				t.Errorf("Check: %v", check)
			}
		})
	}
}

// What a ServerGroup writes is what ParseOwner reads back as its own.
func TestTagsRoundTrip(t *testing.T) {
	sg := &v1alpha1.ServerGroup{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-main-v001", UID: "uid-1"},
		Spec: v1alpha1.ServerGroupSpec{Application: "web", Stack: "main"}}
	tags := cloud.Tags(sg)
	if tags[cloud.TagCluster] != "web-main" || tags[cloud.TagManagedBy] != "gennaker" {
		t.Errorf("tags %v", tags)
	}
	if o := cloud.ParseOwner(tags); o != cloud.OwnerOf(sg) || cloud.Check(sg, "it", o) != nil {
		t.Errorf("owner %+v", o)
	}
}
