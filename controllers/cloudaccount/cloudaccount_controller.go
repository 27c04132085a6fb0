// Package cloudaccount holds the CloudAccount reconciler. For now it only accepts accounts: checking
// credentials with a cheap authenticated call comes with the cloud providers.
package cloudaccount

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

// Reconciler reconciles CloudAccounts.
type Reconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=cloudaccounts,verbs=get;list;watch
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=cloudaccounts/status,verbs=get;update;patch

// Reconcile records that the account was seen. Ready stays False until credentials can be checked, so
// nothing mistakes an unchecked account for a usable one.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var acct v1alpha1.CloudAccount
	if err := r.Get(ctx, req.NamespacedName, &acct); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{}, status.Patch(ctx, r.Client, &acct, func(a *v1alpha1.CloudAccount) {
		status.Set(a, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNotImplemented,
			"credentials are not checked yet: the "+string(a.Spec.Provider)+" provider is not implemented")
	})
}

// SetupWithManager registers the reconciler. Status-only writes do not bump the generation, so the
// predicate keeps the reconciler from answering its own writes.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.CloudAccount{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("cloudaccount").
		Complete(r)
}
