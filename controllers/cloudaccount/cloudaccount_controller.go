// Package cloudaccount holds the CloudAccount reconciler. For now it only accepts accounts: checking
// credentials with a cheap authenticated call comes with the cloud providers.
package cloudaccount

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/status"
)

// Reconciler reconciles CloudAccounts.
type Reconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=cloudaccounts,verbs=get;list;watch
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=cloudaccounts/status,verbs=get;update;patch

// Reconcile records that the account was seen. Ready stays False until credentials can be checked, so
// nothing mistakes an unchecked account for a usable one.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return ctrl.Result{}, status.MarkNotImplemented(ctx, r.Client, req.NamespacedName, &v1alpha1.CloudAccount{},
		"credentials are not checked yet: the cloud providers are not implemented")
}

// SetupWithManager registers the reconciler. Status-only writes do not bump the generation, so the
// predicate keeps the reconciler from answering its own writes.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.CloudAccount{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("cloudaccount").
		Complete(r)
}
