package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/trigger"
)

// notReady is a polled trigger whose source cannot be read until someone changes the spec, a Secret or a
// CloudAccount: the Pipeline is then not Ready, with the field named.
type notReady struct {
	reason, message string
}

// seen is, by trigger index, what the pollers last saw of pl's polled triggers; read once per pass.
func (r *Reconciler) seen(pl *v1alpha1.Pipeline, out *triggerOutcome) map[int]trigger.Seen {
	if out.seen == nil {
		out.seen = r.Images.Watch(pl)
	}
	return out.seen
}

// lookFailed is the status message of a failed look at what trigger index watches (what), and records a
// misconfiguration for Ready.
func (out *triggerOutcome) lookFailed(index int, kind, what string, err error) string {
	if m, ok := trigger.AsMisconfigured(err); ok {
		out.notReady = append(out.notReady, notReady{reason: m.Reason,
			message: fmt.Sprintf("spec.triggers[%d].%s: %v", index, m.Field, err)})
		return bounded(fmt.Sprintf("spec.triggers[%d].%s: %v", index, m.Field, err))
	}
	if trigger.Throttled(err) {
		return bounded(fmt.Sprintf("%s throttles (429 Too Many Requests, or the cloud's rate limit); looking again later: %v", what, err))
	}
	return bounded(fmt.Sprintf("reading %s failed: %v", what, err))
}

// runPolledTrigger compares what the last look at a maven or machineImage trigger's source found with
// what the trigger last started a run for (its status), and starts one run when a newer version is there.
// The first look only records what is there. The run's name is derived from the artifact's identity (the
// Jar's version, the image's ID), so a manager that restarts between creating the run and recording it
// gets AlreadyExists, and an artifact is never run twice by one trigger.
func (r *Reconciler) runPolledTrigger(ctx context.Context, pl *v1alpha1.Pipeline, index int, prev *v1alpha1.TriggerStatus, out *triggerOutcome) {
	tr := &pl.Spec.Triggers[index]
	st := v1alpha1.TriggerStatus{Index: int32(index), Name: tr.Name}
	field, what := statusOf(&st, tr)
	var last *v1alpha1.PolledArtifactStatus
	if prev != nil && prev.Name == tr.Name {
		if l, _ := statusOf(prev, tr); *l != nil {
			last = *l
			*field = last.DeepCopy()
		}
	}
	defer func() { out.statuses = append(out.statuses, st) }()
	if r.Images == nil {
		return
	}
	seen, ok := r.seen(pl, out)[index]
	if !ok {
		return // not looked at yet
	}
	cur := &v1alpha1.PolledArtifactStatus{LastCheckTime: &metav1.Time{Time: seen.CheckedAt.Truncate(time.Second)}}
	if last != nil {
		cur.Version, cur.Reference = last.Version, last.Reference
	}
	*field = cur
	switch {
	case seen.Err != nil:
		cur.Message = out.lookFailed(index, typeOf(tr), what, seen.Err)
		return
	case seen.Version == "":
		cur.Message = fmt.Sprintf("none of the %d %s of %s matches", seen.Count, nouns(tr), what)
		return
	case last == nil || last.LastCheckTime == nil:
		cur.Version, cur.Reference = seen.Version, seen.Reference
		cur.Message = fmt.Sprintf("first look: the newest match is %s; runs start for newer ones", seen.Version)
		return
	case seen.Version == last.Version && seen.Reference == last.Reference:
		cur.Message = fmt.Sprintf("the newest match among %d %s is %s, already run", seen.Count, nouns(tr), seen.Version)
		return
	case tr.Maven != nil && older(seen.Version, last.Version):
		// The newer version was deleted: going back to an older one is not a new Jar.
		cur.Message = fmt.Sprintf("the newest match is %s, older than %s, already run", seen.Version, last.Version)
		return
	}
	run := trigger.Run{Type: typeOf(tr), Index: index, Key: seen.Reference}
	switch {
	case tr.Maven != nil:
		run.Key = tr.Maven.GroupID + ":" + tr.Maven.ArtifactID + ":" + seen.Version
		run.Artifacts = []v1alpha1.Artifact{{Type: v1alpha1.ArtifactJar, Reference: seen.Reference,
			Repository: tr.Maven.GroupID + ":" + tr.Maven.ArtifactID, Version: seen.Version, Digest: seen.Digest}}
	default:
		run.Artifacts = []v1alpha1.Artifact{{Type: v1alpha1.ArtifactMachineImage, Reference: seen.Reference, Version: seen.Version}}
	}
	_, err := r.start(ctx, pl, run, fmt.Sprintf("for %s %s (%s)", what, seen.Version, seen.Reference))
	if err != nil {
		out.errs = append(out.errs, err)
		cur.Message = bounded(fmt.Sprintf("could not start a run for %s: %v", seen.Version, err))
		return // the status keeps the version already run: the next pass tries again
	}
	cur.Version, cur.Reference = seen.Version, seen.Reference
	cur.Message = fmt.Sprintf("started a run for the new %s %s", noun(tr), seen.Version)
}

// statusOf is the field of st that trigger tr's status goes in, and what tr watches, for messages.
func statusOf(st *v1alpha1.TriggerStatus, tr *v1alpha1.Trigger) (**v1alpha1.PolledArtifactStatus, string) {
	if m := tr.Maven; m != nil {
		return &st.Maven, m.GroupID + ":" + m.ArtifactID
	}
	mi := tr.MachineImage
	what := "the images of CloudAccount " + mi.Account
	if mi.Region != "" {
		what += " in " + mi.Region
	}
	return &st.MachineImage, what
}

func typeOf(tr *v1alpha1.Trigger) string {
	if tr.Maven != nil {
		return v1alpha1.TriggerMaven
	}
	return v1alpha1.TriggerMachineImage
}

func noun(tr *v1alpha1.Trigger) string {
	if tr.Maven != nil {
		return "version"
	}
	return "image"
}

func nouns(tr *v1alpha1.Trigger) string { return noun(tr) + "s" }

// older says whether version a is older than b, by semver order (both are, the trigger read them so).
func older(a, b string) bool {
	va, errA := semver.NewVersion(a)
	vb, errB := semver.NewVersion(b)
	return errA == nil && errB == nil && va.LessThan(vb)
}

// polledSeen is what Ready adds for the polled triggers: when each last looked and what it saw.
func polledSeen(p *v1alpha1.Pipeline) string {
	var b strings.Builder
	for _, st := range p.Status.Triggers {
		for kind, s := range map[string]*v1alpha1.PolledArtifactStatus{"maven": st.Maven, "machineImage": st.MachineImage} {
			if s != nil && s.LastCheckTime != nil {
				fmt.Fprintf(&b, "; %s trigger %s looked at %s: %s", kind, st.Name, s.LastCheckTime.UTC().Format(time.RFC3339), s.Message)
			}
		}
	}
	return b.String()
}

// notReadyCondition is the reason and message of Ready=False for the misconfigured polled triggers and
// the triggers whose run's name is taken, "" when there are none.
func (out *triggerOutcome) notReadyCondition() (reason, message string) {
	all := slices.Clone(out.notReady)
	for _, err := range out.errs {
		if taken := (*runNameTaken)(nil); errors.As(err, &taken) {
			all = append(all, notReady{reason: v1alpha1.ReasonRunNameTaken, message: taken.Error()})
		}
	}
	if len(all) == 0 {
		return "", ""
	}
	msgs := make([]string, len(all))
	for i, n := range all {
		msgs[i] = n.message
	}
	return all[0].reason, bounded(strings.Join(msgs, "; "))
}
