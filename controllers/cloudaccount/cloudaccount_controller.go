// Package cloudaccount holds the CloudAccount reconciler. For now it only accepts accounts: checking
// credentials with a cheap authenticated call comes with the cloud providers.
package cloudaccount

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/placeholder"
)

// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=cloudaccounts,verbs=get;list;watch
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=cloudaccounts/status,verbs=get;update;patch

// New returns the CloudAccount reconciler. Ready stays False until credentials can be checked, so nothing
// mistakes an unchecked account for a usable one.
func New(c client.Client) *placeholder.Reconciler[*v1alpha1.CloudAccount] {
	return &placeholder.Reconciler[*v1alpha1.CloudAccount]{
		Client:  c,
		Name:    "cloudaccount",
		New:     func() *v1alpha1.CloudAccount { return &v1alpha1.CloudAccount{} },
		Message: "credentials are not checked yet: the cloud providers are not implemented",
	}
}
