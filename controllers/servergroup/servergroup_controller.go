// Package servergroup holds the ServerGroup reconciler, the only caller of a cloud Provider. Until the
// providers exist it accepts server groups and says that nothing is deployed.
package servergroup

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

// Reconciler reconciles ServerGroups.
type Reconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups/finalizers,verbs=update

// Reconcile records that the server group was seen; Ready stays False because no cloud resource is made yet.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var sg v1alpha1.ServerGroup
	if err := r.Get(ctx, req.NamespacedName, &sg); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{}, status.Patch(ctx, r.Client, &sg, func(s *v1alpha1.ServerGroup) {
		status.Set(s, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNotImplemented,
			"no cloud resource is created yet: cloud providers are not implemented")
	})
}

// SetupWithManager registers the reconciler.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ServerGroup{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("servergroup").
		Complete(r)
}
