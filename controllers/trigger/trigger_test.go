package trigger

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gennaker/gennaker/api/v1alpha1"
	gnkvalidation "github.com/gennaker/gennaker/controllers/validation"
)

func TestNewestTag(t *testing.T) {
	tags := []string{"latest", "1.0.0", "1.10.0", "1.9.3", "2.0.0-rc.1", "2.0.0", "v2.1.0", "nightly-20261201", "nightly-20261203", "nightly-20261130"}
	cases := map[string]struct {
		reason string
		image  v1alpha1.ImageTrigger
		want   string
	}{
		"Caret":      {"a caret range keeps the major version; 1.10 is newer than 1.9", v1alpha1.ImageTrigger{Semver: "^1.0"}, "1.10.0"},
		"Open":       {"prereleases are left out of a range without one; a v prefix is a version", v1alpha1.ImageTrigger{Semver: ">=2.0.0"}, "v2.1.0"},
		"NoMatch":    {"no tag matches", v1alpha1.ImageTrigger{Semver: "^3"}, ""},
		"RegexNames": {"tags that are not versions order by name", v1alpha1.ImageTrigger{Regex: `^nightly-\d+$`}, "nightly-20261203"},
		"RegexVersions": {"versions among regex matches order by version, above the other tags",
			v1alpha1.ImageTrigger{Regex: `^(1\.|latest)`}, "1.10.0"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := gnkvalidation.ImageConstraint(&c.image)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Newest(tags); got != c.want {
				t.Errorf("%s: Newest = %q, want %q", c.reason, got, c.want)
			}
		})
	}
}

func TestDockerAuth(t *testing.T) {
	secret := func(typ corev1.SecretType, cfg string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pull"}, Type: typ,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(cfg)}}
	}
	cases := map[string]struct {
		secret     *corev1.Secret
		repository string
		wantUser   string
		wantErr    string
	}{
		"Host":       {secret(corev1.SecretTypeDockerConfigJson, `{"auths":{"registry.example.com":{"username":"u","password":"p"}}}`), "registry.example.com/shop/web", "u", ""},
		"URLKey":     {secret(corev1.SecretTypeDockerConfigJson, `{"auths":{"https://registry.example.com/v1/":{"auth":"dTpw"}}}`), "registry.example.com/shop/web", "u", ""},
		"DockerHub":  {secret(corev1.SecretTypeDockerConfigJson, `{"auths":{"https://index.docker.io/v1/":{"username":"hub","password":"p"}}}`), "library/nginx", "hub", ""},
		"OtherHost":  {secret(corev1.SecretTypeDockerConfigJson, `{"auths":{"other.example.com":{"username":"u"}}}`), "registry.example.com/shop/web", "", "Secret pull has no credentials for registry.example.com"},
		"WrongType":  {secret(corev1.SecretTypeOpaque, `{}`), "registry.example.com/shop/web", "", "Secret pull is not of type kubernetes.io/dockerconfigjson"},
		"NotAConfig": {secret(corev1.SecretTypeDockerConfigJson, `{"auths":`), "registry.example.com/shop/web", "", "Secret pull: .dockerconfigjson is not a Docker config"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			a, err := dockerAuth(c.secret, c.repository)
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := a.Authorization()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Username != c.wantUser {
				t.Errorf("user = %q, want %q", cfg.Username, c.wantUser)
			}
		})
	}
}

// TestRunNames checks that runs of different keys and triggers get different valid names, and the same
// inputs the same name, whatever the pipeline name's length.
func TestRunNames(t *testing.T) {
	for _, pipeline := range []string{"web", strings.Repeat("a", 60), strings.Repeat("b", 253)} {
		pl := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: pipeline},
			Spec: v1alpha1.PipelineSpec{Triggers: []v1alpha1.Trigger{{Name: "a", Image: &v1alpha1.ImageTrigger{}}, {Name: "b", Image: &v1alpha1.ImageTrigger{}}}}}
		names := map[string]string{}
		for _, r := range []Run{{Type: v1alpha1.TriggerImage, Index: 0, Key: "sha256:1"}, {Type: v1alpha1.TriggerImage, Index: 0, Key: "sha256:2"},
			{Type: v1alpha1.TriggerImage, Index: 1, Key: "sha256:1"}} {
			ex, err := NewExecution(pl, r)
			if err != nil {
				t.Fatal(err)
			}
			if errs := validation.IsDNS1123Label(ex.Name); len(errs) > 0 {
				t.Errorf("%q: %v", ex.Name, errs)
			}
			again, _ := NewExecution(pl, r)
			if again.Name != ex.Name {
				t.Errorf("not deterministic: %q, %q", ex.Name, again.Name)
			}
			if prev, dup := names[ex.Name]; dup {
				t.Errorf("%q for both %s and %v", ex.Name, prev, r)
			}
			names[ex.Name] = r.Key
		}
	}
}

// TestCronValuesAreLiteral: a cron trigger's parameter values are passed as they are written, as they
// were before other triggers came, while a webhook trigger's are templates over trigger.
func TestCronValuesAreLiteral(t *testing.T) {
	pl := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec: v1alpha1.PipelineSpec{Triggers: []v1alpha1.Trigger{
			{Cron: &v1alpha1.CronTrigger{Schedule: "@daily"}, Parameters: map[string]string{"script": "echo ${HOME}", "escaped": "$${x}"}},
			{Name: "ci", Webhook: &v1alpha1.WebhookTrigger{}, Parameters: map[string]string{"version": "${ trigger.payload.version }"}},
		}}}
	ex, err := NewExecution(pl, Run{Type: v1alpha1.TriggerCron, Index: 0, Suffix: "cron0-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ex.Spec.Parameters; got["script"] != "echo ${HOME}" || got["escaped"] != "$${x}" {
		t.Errorf("cron parameters %v, want them as written", got)
	}
	ex, err = NewExecution(pl, Run{Type: v1alpha1.TriggerWebhook, Index: 1, Key: "d1", Payload: map[string]any{"version": "1.2.3"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ex.Spec.Parameters["version"]; got != "1.2.3" {
		t.Errorf("webhook parameter %q, want 1.2.3", got)
	}
}

// TestTriggerValidation checks the trigger checks the schema cannot make, with the field at fault.
func TestTriggerValidation(t *testing.T) {
	spec := v1alpha1.PipelineSpec{
		Application: "shop",
		Parameters:  []v1alpha1.Parameter{{Name: "image"}},
		Stages:      []v1alpha1.Stage{{Name: "w", StageType: v1alpha1.StageType{Wait: &v1alpha1.WaitStage{Duration: "1s"}}}},
		Triggers: []v1alpha1.Trigger{
			{Name: "img", Image: &v1alpha1.ImageTrigger{Repository: "Bad Repo", Semver: "^^1", Interval: "1s"}},
			{Name: "img", Image: &v1alpha1.ImageTrigger{Repository: "r.example.com/x", Regex: "("}},
			{Webhook: &v1alpha1.WebhookTrigger{}, Cron: &v1alpha1.CronTrigger{Schedule: "@hourly"}},
			{Name: "self", Pipeline: &v1alpha1.PipelineTrigger{Pipeline: "web"}, Parameters: map[string]string{"image": "${ parameters.image }"}},
		},
	}
	var got []string
	for _, e := range gnkvalidation.PipelineSpec("web", &spec) {
		got = append(got, e.Field)
	}
	want := []string{
		"spec.triggers[0].image.semver", "spec.triggers[0].image.repository", "spec.triggers[0].image.interval",
		"spec.triggers[1].name", "spec.triggers[1].image.regex",
		"spec.triggers[2]",
		"spec.triggers[3].pipeline.pipeline", "spec.triggers[3].parameters[image]",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
}
