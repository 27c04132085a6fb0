// Package placeholder reconciles the kinds whose controllers are not built yet. Such a kind is served and
// validated by the API server, so users can already apply it; its reconciler records, for the current
// generation, Ready=False with reason NotImplemented and a message saying what does not happen yet, so that
// nothing (kubectl wait, Argo CD, Flux) mistakes an accepted object for a working one.
package placeholder

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/status"
)

// Reconciler marks objects of one kind as not implemented.
type Reconciler[T status.Object] struct {
	Client client.Client
	// Name of the controller, in logs and metrics.
	Name string
	// New returns an empty object of the kind.
	New func() T
	// Message says what does not happen yet.
	Message string
}

// Reconcile records the Ready condition.
func (r *Reconciler[T]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := r.New()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{}, status.Patch(ctx, r.Client, obj, func(o T) {
		status.Set(o, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNotImplemented, r.Message)
	})
}

// SetupWithManager registers the reconciler. Status-only writes do not bump the generation, so the
// predicate keeps the reconciler from answering its own writes.
func (r *Reconciler[T]) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(r.New(), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named(r.Name).
		Complete(r)
}
