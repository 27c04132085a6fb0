// Package execution holds the Execution reconciler: the pipeline engine. Until the engine exists it
// accepts executions and says that they do not run.
package execution

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/status"
)

// Reconciler reconciles Executions.
type Reconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=executions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=executions/status,verbs=get;update;patch

// Reconcile records that the execution was seen; Ready stays False because nothing runs it yet.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return ctrl.Result{}, status.MarkNotImplemented(ctx, r.Client, req.NamespacedName, &v1alpha1.Execution{},
		"executions do not run yet: the pipeline engine is not implemented")
}

// SetupWithManager registers the reconciler.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Execution{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("execution").
		Complete(r)
}
