// Package servergroup holds the ServerGroup reconciler, the only caller of a cloud Provider. Until the
// providers exist it accepts server groups and says that nothing is deployed.
package servergroup

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/status"
)

// Reconciler reconciles ServerGroups.
type Reconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups/finalizers,verbs=update

// Reconcile records that the server group was seen; Ready stays False because no cloud resource is made yet.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return ctrl.Result{}, status.MarkNotImplemented(ctx, r.Client, req.NamespacedName, &v1alpha1.ServerGroup{},
		"no cloud resource is created yet: the cloud providers are not implemented")
}

// SetupWithManager registers the reconciler.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ServerGroup{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("servergroup").
		Complete(r)
}
