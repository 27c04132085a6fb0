package execution

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/controllers/stages"
)

// Limits that keep a run's status within what the API server takes: a condition's message may be 32768
// characters, and etcd refuses an object over 1.5 MiB. A stage's outputs have their own budget
// (engine.MaxStageOutputBytes).
const (
	// MaxMessageBytes bounds every message of a run's status: its conditions', its stages' and theirs.
	MaxMessageBytes = 1024
	// MaxStatusBytes bounds the whole status, as JSON; a run whose status would grow past it fails.
	MaxStatusBytes = 1 << 20
)

// bound shortens the messages of the status to MaxMessageBytes, and returns why the status is still too
// big to write, or "".
func bound(ex *v1alpha1.Execution) string {
	ex.Status.Message = shorten(ex.Status.Message)
	for i := range ex.Status.Conditions {
		ex.Status.Conditions[i].Message = shorten(ex.Status.Conditions[i].Message)
	}
	for i := range ex.Status.Stages {
		st := &ex.Status.Stages[i]
		st.Message = shorten(st.Message)
		for j := range st.Conditions {
			st.Conditions[j].Message = shorten(st.Conditions[j].Message)
		}
	}
	raw, err := json.Marshal(ex.Status)
	if err != nil {
		return fmt.Sprintf("the run's status cannot be encoded: %v", err)
	}
	if len(raw) > MaxStatusBytes {
		return fmt.Sprintf("the run's status would be %d bytes, more than the %d it may have", len(raw), MaxStatusBytes)
	}
	return ""
}

// shorten cuts a message to MaxMessageBytes, on a character boundary, marking the cut.
func shorten(s string) string {
	if len(s) <= MaxMessageBytes {
		return s
	}
	const mark = "..."
	cut := MaxMessageBytes - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// refused says whether the API server refused a status write for what it holds (too large for it or for
// etcd, or invalid in its status fields), which writing it again would not change. Any other refusal (a
// 422 about the object's metadata, say) is left to be retried: failing the run for it would end a run
// whose status is fine.
func refused(err error) bool {
	if apierrors.IsRequestEntityTooLargeError(err) || strings.Contains(err.Error(), "request is too large") {
		return true
	}
	var st apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &st) || st.Status().Details == nil {
		return false
	}
	for _, c := range st.Status().Details.Causes {
		if c.Field == "status" || strings.HasPrefix(c.Field, "status.") || strings.HasPrefix(c.Field, "status[") {
			return true
		}
	}
	return false
}

// failSmall ends a run whose status cannot be written: the status last written, with the run Failed and
// why. What the reconcile did is not recorded, so the stages it started are said to be stopped; none of
// them is run again, as a failed run is never stepped.
func failSmall(read, ex *v1alpha1.Execution, why string, now time.Time) {
	ex.Status = *read.Status.DeepCopy()
	ex.Status.Phase = v1alpha1.ExecutionFailed
	ex.Status.CompletionTime = ptr.To(metav1.NewTime(now))
	for i := range ex.Status.Stages {
		st := &ex.Status.Stages[i]
		if running(st.Phase) {
			st.Phase = v1alpha1.StageCanceled
			st.Message = "canceled: the run failed, its status too large to record"
			st.NextCheckTime = nil
			st.EndTime = ptr.To(metav1.NewTime(now))
		}
	}
	summarize(ex, shorten(why))
}

func running(p v1alpha1.StagePhase) bool {
	return p == v1alpha1.StageRunning || p == v1alpha1.StageWaitingForJudgment
}

// stopRecorded tells each stage running in the status last written to stop, as the engine does with the
// other stages of a run that fails: a red/black deploy half switched is put back. The stages see the run
// as last written, and what their Cancel records is dropped with the rest of the step, to keep the
// smaller write small. Best effort: the run fails either way, so a cancel that fails is logged, not
// retried.
func (r *Reconciler) stopRecorded(ctx context.Context, read *v1alpha1.Execution, now time.Time) {
	spec := read.Status.PipelineSpec
	if spec == nil {
		return
	}
	ex := read.DeepCopy()
	vars := engine.Vars(ex)
	for i := range ex.Status.Stages {
		st := &ex.Status.Stages[i]
		j := slices.IndexFunc(spec.Stages, func(s v1alpha1.Stage) bool { return s.Name == st.Name })
		if !running(st.Phase) || j < 0 {
			continue
		}
		impl := r.Engine.Stages[spec.Stages[j].Type()]
		if impl == nil {
			continue
		}
		run := &engine.StageRun{Spec: &ex.Status.PipelineSpec.Stages[j], Status: st, Execution: ex, Now: now, Vars: vars}
		if err := impl.Cancel(ctx, run); err != nil {
			log.FromContext(ctx).Error(err, "stopping a stage of a run whose status the API server refuses", "stage", st.Name)
		}
	}
}

// errUnwritable says that even the smaller status write was refused: the run cannot record anything, so
// it is not stepped again (that would redo its stages' work each time) until the object changes.
var errUnwritable = errors.New("the API server refuses even the smaller status")

// unwritable remembers, by name, the UID and resourceVersion of each run whose smaller status write was
// refused too. It is the one thing the reconciler keeps in memory, and only to save work: a restarted
// manager steps such a run once more and finds it refused again. An entry goes when its run is deleted.
type unwritable struct{ m sync.Map }

type refusedAt struct {
	uid types.UID
	rv  string
}

// still says whether the run is as it was when its status was last refused outright.
func (u *unwritable) still(ex *v1alpha1.Execution) bool {
	key := client.ObjectKeyFromObject(ex)
	at, ok := u.m.Load(key)
	if ok && at.(refusedAt) == (refusedAt{ex.UID, ex.ResourceVersion}) {
		return true
	}
	if ok {
		u.m.Delete(key)
	}
	return false
}

func (u *unwritable) remember(ex *v1alpha1.Execution) {
	u.m.Store(client.ObjectKeyFromObject(ex), refusedAt{ex.UID, ex.ResourceVersion})
}

func (u *unwritable) forget(key types.NamespacedName) { u.m.Delete(key) }

// ReasonStatusRefused is the reason of the Warning Event of a run whose status cannot be written at all.
const ReasonStatusRefused = "StatusRefused"

// record writes the step's status within the limits (writeBounded) and returns what to report of the
// step: res, or only its message when a smaller status was written instead, since what the step did is then
// not recorded. Once the status went through as the stages computed it, it runs what they left for after
// the write.
func (r *Reconciler) record(ctx context.Context, read, ex *v1alpha1.Execution, now time.Time, res engine.Result, written *stages.Written) (engine.Result, error) {
	small, err := r.writeBounded(ctx, read, ex, now)
	if small {
		res = engine.Result{Message: res.Message}
	}
	if err == nil && !small {
		written.Done()
	}
	return res, err
}

// writeBounded writes the status within the limits; a status too big, or refused by the API server for
// what it holds, fails the run with a smaller write instead of being retried forever, after telling the
// stages running in the status last written to stop. small says the smaller write was made: what the step
// did is not recorded, so it is not to be reported either. When the smaller write is refused too, it
// says so in a Warning Event and returns errUnwritable.
func (r *Reconciler) writeBounded(ctx context.Context, read, ex *v1alpha1.Execution, now time.Time) (small bool, err error) {
	why := bound(ex)
	if why == "" {
		err := r.write(ctx, read, ex)
		if err == nil || !refused(err) {
			return false, err
		}
		why = "the API server refused the run's status: " + err.Error()
	}
	r.stopRecorded(ctx, read, now)
	failSmall(read, ex, why, now)
	err = r.write(ctx, read, ex)
	if err != nil && refused(err) {
		log.FromContext(ctx).Error(err, "the run's status cannot be written, even failed; it is not stepped again until it changes")
		r.mark(ctx, read, err)
		r.unwritable.remember(read)
		r.Recorder.Eventf(ex, nil, corev1.EventTypeWarning, ReasonStatusRefused, "Fail", "%s",
			truncate("the run failed but its status cannot be written: "+err.Error(), 1000))
		return true, errUnwritable
	}
	return true, err
}

// mark records on a run whose status cannot be written, in an annotation (a small metadata patch the API
// server takes), that it failed: the status still shows it running, and what reads it (the holder of a
// deploy Lease, a restarted manager) must not take it for alive. read is updated to the patched object.
// Best effort: without the mark the run is stepped again after a restart, and refused again.
func (r *Reconciler) mark(ctx context.Context, read *v1alpha1.Execution, refusal error) {
	before := read.DeepCopy()
	why := string(apierrors.ReasonForError(refusal))
	if why == "" {
		why = "Refused"
	}
	metav1.SetMetaDataAnnotation(&read.ObjectMeta, v1alpha1.AnnotationStatusRefused, why)
	if err := r.Patch(ctx, read, client.MergeFrom(before)); err != nil {
		*read = *before
		log.FromContext(ctx).Error(err, "marking a run whose status cannot be written", "annotation", v1alpha1.AnnotationStatusRefused)
	}
}

// marked says whether the run carries the mark of a status that could not be written.
func marked(ex *v1alpha1.Execution) bool {
	_, ok := ex.Annotations[v1alpha1.AnnotationStatusRefused]
	return ok
}

// refail records, in the smaller write, the failure of a marked run: its stages were told to stop when
// it was marked, so it is never stepped again, whatever changed since. Refused again, it waits for the
// next change.
func (r *Reconciler) refail(ctx context.Context, ex *v1alpha1.Execution) (ctrl.Result, error) {
	read := ex.DeepCopy()
	why := "the run failed earlier and its status could not be written then (" + ex.Annotations[v1alpha1.AnnotationStatusRefused] + ")"
	failSmall(read, ex, why, r.Clock.Now())
	err := r.write(ctx, read, ex)
	if err != nil && refused(err) {
		r.unwritable.remember(read)
		return ctrl.Result{}, nil
	}
	if apierrors.IsConflict(err) {
		return ctrl.Result{Requeue: true}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	r.report(ctx, read, ex, engine.Result{})
	return ctrl.Result{}, r.release(ctx, ex)
}
