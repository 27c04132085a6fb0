package execution

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// ensureFresh returns the check stages make before an action that cannot be undone: the API server's
// status must still be the one this reconcile read. A change of spec alone (a judgment, a cancel) does
// not make it stale: the status, which records what was done, is what matters. One read per reconcile.
func (r *Reconciler) ensureFresh(read *v1alpha1.Execution) func(context.Context) error {
	checked := false
	return func(ctx context.Context) error {
		if checked {
			return nil
		}
		var live v1alpha1.Execution
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(read), &live); err != nil {
			return err
		}
		if !equality.Semantic.DeepEqual(live.Status, read.Status) {
			return engine.ErrStale
		}
		checked = true
		return nil
	}
}

// write sends the status if it changed, guarded by the resourceVersion that was read. A conflict caused by
// a change of spec or metadata alone (a judgment patched in meanwhile) leaves the status we computed
// valid, so it is written again on top of the live object; any other conflict is left to the next
// reconcile.
func (r *Reconciler) write(ctx context.Context, read, ex *v1alpha1.Execution) error {
	if equality.Semantic.DeepEqual(read.Status, ex.Status) {
		return nil
	}
	err := r.Status().Patch(ctx, ex, client.MergeFromWithOptions(read, client.MergeFromWithOptimisticLock{}))
	if !apierrors.IsConflict(err) {
		return err
	}
	var live v1alpha1.Execution
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(ex), &live); err != nil {
		return err
	}
	if !equality.Semantic.DeepEqual(live.Status, read.Status) {
		return err
	}
	next := live.DeepCopy()
	next.Status = ex.Status
	if err := r.Status().Patch(ctx, next, client.MergeFromWithOptions(&live, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	ex.ResourceVersion = next.ResourceVersion
	return nil
}
