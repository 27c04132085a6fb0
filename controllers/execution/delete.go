package execution

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/controllers/stages"
)

// DefaultCancelBound is how long a deleted run's cancel may keep failing before the run lets go of its
// Execution anyway: deletion (of the run, of its namespace) is never held forever.
const DefaultCancelBound = 10 * time.Minute

// reconcileDelete cancels a deleted run that is not finished, as spec.cancel would (running stages are told
// to stop, a red/black deploy rolls back as rollbackOnFailure says), records it, and then lets the object
// go. A cancel that keeps failing for longer than the cancel bound lets go with a Warning Event, as does a
// run whose status the API server refuses even in its smaller form.
func (r *Reconciler) reconcileDelete(ctx context.Context, ex *v1alpha1.Execution) (ctrl.Result, error) {
	defer r.unwritable.forget(client.ObjectKeyFromObject(ex))
	if !controllerutil.ContainsFinalizer(ex, v1alpha1.ExecutionFinalizer) {
		return ctrl.Result{}, nil
	}
	if marked(ex) && !finished(ex.Status.Phase) {
		// Its stages were told to stop when it was marked; there is nothing left to cancel or record.
		return ctrl.Result{}, r.abandonUnwritable(ctx, ex)
	}
	read := ex.DeepCopy()
	now := r.Clock.Now()
	ctx, written := stages.AfterWrite(ctx)
	var res engine.Result
	switch ex.Status.Phase {
	case v1alpha1.ExecutionRunning, v1alpha1.ExecutionAwaitingJudgment:
		res = r.Engine.Step(ctx, ex, now, r.ensureFresh(read))
	case "", v1alpha1.ExecutionQueued:
		ex.Status.Phase = v1alpha1.ExecutionCanceled
		ex.Status.CompletionTime = ptr.To(metav1.NewTime(now))
		res.Message = "canceled: the execution was deleted before it started"
	}
	if res.Err != nil {
		bound := r.CancelBound
		if bound <= 0 {
			bound = DefaultCancelBound
		}
		if now.Sub(ex.DeletionTimestamp.Time) < bound {
			return ctrl.Result{}, res.Err
		}
		r.Recorder.Eventf(ex, nil, corev1.EventTypeWarning, "CancelAbandoned", "Delete",
			"the run could not be canceled within %s of its deletion, and lets go: %v", bound, res.Err)
		return ctrl.Result{}, r.release(ctx, read)
	}
	summarize(ex, res.Message)
	res, err := r.record(ctx, read, ex, now, res, written)
	if errors.Is(err, errUnwritable) {
		// Retrying would step the run and stop its stages again each time, and never let go: what can
		// be recorded of the run is in the StatusRefused Event.
		return ctrl.Result{}, r.abandonUnwritable(ctx, read)
	}
	if err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, err
	}
	r.report(ctx, read, ex, res)
	return ctrl.Result{}, r.release(ctx, ex)
}

// abandonUnwritable lets go of a deleted run whose status cannot be written, saying so.
func (r *Reconciler) abandonUnwritable(ctx context.Context, ex *v1alpha1.Execution) error {
	r.Recorder.Eventf(ex, nil, corev1.EventTypeWarning, "CancelAbandoned", "Delete",
		"the run's status cannot be written, so its cancel is not recorded, and it lets go")
	return r.release(ctx, ex)
}

// release removes ExecutionFinalizer from a finished (or deleted) run.
func (r *Reconciler) release(ctx context.Context, ex *v1alpha1.Execution) error {
	if !controllerutil.ContainsFinalizer(ex, v1alpha1.ExecutionFinalizer) {
		return nil
	}
	before := ex.DeepCopy()
	controllerutil.RemoveFinalizer(ex, v1alpha1.ExecutionFinalizer)
	err := r.Patch(ctx, ex, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing finalizer %s: %w", v1alpha1.ExecutionFinalizer, err)
	}
	return nil
}
