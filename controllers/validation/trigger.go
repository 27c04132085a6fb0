package validation

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine/expr"
)

// MinImageInterval is the shortest interval an image trigger may poll its repository at: registries
// rate-limit (Docker Hub's anonymous pulls most of all), and a tag seconds earlier rarely matters.
const MinImageInterval = 5 * time.Second

// DefaultImageInterval is the interval of an image trigger that sets none.
const DefaultImageInterval = time.Minute

// triggerSource checks the part of a trigger that says what fires it; cron is checked by the caller.
func (v *pipelineValidator) triggerSource(path *field.Path, t *v1alpha1.Trigger) field.ErrorList {
	var errs field.ErrorList
	set := 0
	for _, has := range []bool{t.Cron != nil, t.Webhook != nil, t.Pipeline != nil, t.Image != nil, t.Maven != nil, t.MachineImage != nil} {
		if has {
			set++
		}
	}
	switch {
	case set == 0:
		return field.ErrorList{field.Required(path.Child("cron"), "exactly one of cron, webhook, pipeline, image, maven or machineImage must be set")}
	case set > 1:
		errs = append(errs, field.Invalid(path, fmt.Sprintf("%d trigger types", set), "exactly one of cron, webhook, pipeline, image, maven or machineImage must be set"))
	}
	if t.Cron == nil && t.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), "name is required for webhook, pipeline, image, maven and machineImage triggers"))
	}
	if wh := t.Webhook; wh != nil && wh.Artifact != nil {
		ap := path.Child("webhook", "artifact")
		for child, s := range map[string]string{"reference": wh.Artifact.Reference, "repository": wh.Artifact.Repository,
			"version": wh.Artifact.Version, "digest": wh.Artifact.Digest} {
			errs = append(errs, v.triggerTemplate(ap.Child(child), s)...)
		}
	}
	if p := t.Pipeline; p != nil && v.name != "" && p.Pipeline == v.name {
		errs = append(errs, field.Invalid(path.Child("pipeline", "pipeline"), p.Pipeline, "a pipeline trigger cannot watch its own pipeline"))
	}
	if im := t.Image; im != nil {
		ip := path.Child("image")
		if _, err := imageConstraint(ip, im); err != nil {
			errs = append(errs, err)
		}
		if _, err := name.NewRepository(im.Repository); err != nil {
			errs = append(errs, field.Invalid(ip.Child("repository"), im.Repository, err.Error()))
		}
		if d, err := im.Interval.Duration(); im.Interval != "" && (err != nil || d < MinImageInterval) {
			errs = append(errs, field.Invalid(ip.Child("interval"), string(im.Interval), fmt.Sprintf("must be a duration of at least %s", MinImageInterval)))
		}
	}
	if m := t.Maven; m != nil && m.Versions != "" {
		if _, err := semver.NewConstraint(m.Versions); err != nil {
			errs = append(errs, field.Invalid(path.Child("maven", "versions"), m.Versions, err.Error()))
		}
	}
	for child, d := range map[string]*v1alpha1.Duration{"maven": intervalOf(t.Maven), "machineImage": intervalOfMachineImage(t.MachineImage)} {
		if d == nil || *d == "" {
			continue
		}
		if v, err := d.Duration(); err != nil || v < MinImageInterval {
			errs = append(errs, field.Invalid(path.Child(child, "interval"), string(*d), fmt.Sprintf("must be a duration of at least %s", MinImageInterval)))
		}
	}
	return errs
}

func intervalOf(m *v1alpha1.MavenTrigger) *v1alpha1.Duration {
	if m == nil {
		return nil
	}
	return &m.Interval
}

func intervalOfMachineImage(m *v1alpha1.MachineImageTrigger) *v1alpha1.Duration {
	if m == nil {
		return nil
	}
	return &m.Interval
}

// triggerTemplate checks a value a trigger renders when it starts a run: it may read trigger, and nothing
// else, since parameters and stages do not exist yet.
func (v *pipelineValidator) triggerTemplate(path *field.Path, s string) field.ErrorList {
	if !strings.Contains(s, "${") {
		return nil
	}
	t, err := expr.ParseTemplate(s)
	if err != nil {
		return field.ErrorList{field.Invalid(path, badValue(s), err.Error())}
	}
	if len(t.ParameterRefs()) > 0 || len(t.StageRefs()) > 0 {
		return field.ErrorList{field.Invalid(path, badValue(s), "a trigger's values may only read trigger (parameters and stages do not exist before the run)")}
	}
	return nil
}

// Constraint is an image trigger's test of a tag, and its order: the greatest matching tag is the newest.
type Constraint struct {
	semver *semver.Constraints
	regex  *regexp.Regexp
}

// ImageConstraint compiles an image trigger's semver range or regex; the error names the field.
func ImageConstraint(im *v1alpha1.ImageTrigger) (*Constraint, *field.Error) {
	return imageConstraint(field.NewPath("image"), im)
}

func imageConstraint(path *field.Path, im *v1alpha1.ImageTrigger) (*Constraint, *field.Error) {
	switch {
	case (im.Semver == "") == (im.Regex == ""):
		return nil, field.Invalid(path.Child("semver"), im.Semver, "exactly one of semver or regex must be set")
	case im.Semver != "":
		c, err := semver.NewConstraint(im.Semver)
		if err != nil {
			return nil, field.Invalid(path.Child("semver"), im.Semver, err.Error())
		}
		return &Constraint{semver: c}, nil
	default:
		re, err := regexp.Compile(im.Regex)
		if err != nil {
			return nil, field.Invalid(path.Child("regex"), im.Regex, err.Error())
		}
		return &Constraint{regex: re}, nil
	}
}

// Matches says whether the tag passes.
func (c *Constraint) Matches(tag string) bool {
	if c.regex != nil {
		return c.regex.MatchString(tag)
	}
	ver, err := semver.NewVersion(tag)
	return err == nil && c.semver.Check(ver)
}

// Newest is the greatest of the matching tags, or "" if none matches: versions order by version (and
// rank above tags that are not versions), the others by name.
func (c *Constraint) Newest(tags []string) string {
	var best string
	var bestVer *semver.Version
	for _, tag := range tags {
		if !c.Matches(tag) {
			continue
		}
		ver, _ := semver.NewVersion(tag)
		switch {
		case best == "":
		case ver != nil && bestVer != nil:
			if !ver.GreaterThan(bestVer) && !(ver.Equal(bestVer) && tag > best) {
				continue
			}
		case ver == nil && bestVer != nil:
			continue
		case ver == nil && tag < best:
			continue
		}
		best, bestVer = tag, ver
	}
	return best
}
