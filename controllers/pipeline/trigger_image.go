package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/trigger"
	"github.com/gennaker/gennaker/controllers/validation"
)

// runImageTrigger compares what the last look at an image trigger's repository found with what the
// trigger last started a run for (its status), and starts one run when the newest matching tag is newer,
// or the same tag was pushed again with another digest. The first look only records what is there. The
// run's name is derived from the digest, so a manager that restarts between creating the run and
// recording it gets AlreadyExists, and a tag is never run twice by one trigger.
func (r *Reconciler) runImageTrigger(ctx context.Context, pl *v1alpha1.Pipeline, index int, prev *v1alpha1.TriggerStatus, out *triggerOutcome) {
	tr := &pl.Spec.Triggers[index]
	st := v1alpha1.TriggerStatus{Index: int32(index), Name: tr.Name}
	var last *v1alpha1.ImageTriggerStatus
	if prev != nil && prev.Name == tr.Name && prev.Image != nil {
		last = prev.Image
		st.Image = last.DeepCopy()
	}
	defer func() { out.statuses = append(out.statuses, st) }()
	if r.Images == nil {
		return
	}
	seen, ok := r.seen(pl, out)[index]
	if !ok {
		return // not looked at yet
	}
	img := &v1alpha1.ImageTriggerStatus{LastCheckTime: &metav1.Time{Time: seen.CheckedAt.Truncate(time.Second)}}
	if last != nil {
		img.Tag, img.Digest = last.Tag, last.Digest
	}
	st.Image = img
	match, _ := validation.ImageConstraint(tr.Image) // valid: runTriggers runs only for valid pipelines
	switch {
	case seen.Err != nil:
		img.Message = out.lookFailed(index, "image", tr.Image.Repository, seen.Err)
		return
	case seen.Version == "":
		img.Message = fmt.Sprintf("none of the %d tags of %s matches", seen.Count, tr.Image.Repository)
		return
	case last == nil || last.LastCheckTime == nil:
		img.Tag, img.Digest = seen.Version, seen.Digest
		img.Message = fmt.Sprintf("first look: the newest matching tag is %s; runs start for newer ones", seen.Version)
		return
	case seen.Version == last.Tag && seen.Digest == last.Digest:
		img.Message = fmt.Sprintf("the newest matching tag is %s, already run", seen.Version)
		return
	case seen.Version != last.Tag && last.Tag != "" && match.Newest([]string{last.Tag, seen.Version}) != seen.Version:
		// The newer tag was deleted: going back to an older one is not a new image.
		img.Message = fmt.Sprintf("the newest matching tag is %s, older than %s, already run", seen.Version, last.Tag)
		return
	}
	ref := tr.Image.Repository + ":" + seen.Version + "@" + seen.Digest
	if repo, err := name.NewRepository(tr.Image.Repository); err == nil {
		ref = repo.Name() + ":" + seen.Version + "@" + seen.Digest
	}
	_, err := r.start(ctx, pl, trigger.Run{
		Type: v1alpha1.TriggerImage, Index: index, Key: seen.Digest,
		Artifacts: []v1alpha1.Artifact{{Type: v1alpha1.ArtifactDockerImage, Reference: ref,
			Repository: tr.Image.Repository, Version: seen.Version, Digest: seen.Digest}},
	}, fmt.Sprintf("for %s:%s (%s)", tr.Image.Repository, seen.Version, seen.Digest))
	if err != nil {
		out.errs = append(out.errs, err)
		img.Message = bounded(fmt.Sprintf("could not start a run for %s: %v", seen.Version, err))
		return // the status keeps the tag already run: the next pass tries again
	}
	img.Tag, img.Digest = seen.Version, seen.Digest
	img.Message = fmt.Sprintf("started a run for the new tag %s", seen.Version)
}

// imagesSeen is what Ready adds for the polled triggers (image, maven, machineImage): when each last
// looked and what it saw.
func imagesSeen(p *v1alpha1.Pipeline) string {
	var b strings.Builder
	for _, st := range p.Status.Triggers {
		if im := st.Image; im != nil && im.LastCheckTime != nil {
			fmt.Fprintf(&b, "; image trigger %s looked at %s: %s", st.Name, im.LastCheckTime.UTC().Format(time.RFC3339), im.Message)
		}
	}
	return b.String() + polledSeen(p)
}

// bounded cuts a message to the status field's 1024 bytes.
func bounded(s string) string {
	if len(s) > 1024 {
		return s[:1021] + "..."
	}
	return s
}

// imageSource is where the image pollers' looks wake the Pipelines that watch the repository; the
// pollers run under the manager, on the leader.
func (r *Reconciler) imageSource(mgr ctrl.Manager) (source.Source, error) {
	events := make(chan event.GenericEvent, 64)
	r.Images.Events = events
	if err := mgr.Add(r.Images); err != nil {
		return nil, err
	}
	return source.Channel(events, &handler.EnqueueRequestForObject{}), nil
}
