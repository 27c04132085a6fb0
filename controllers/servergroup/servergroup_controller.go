// Package servergroup holds the ServerGroup reconciler, the only caller of a cloud Provider. Until the
// providers exist it accepts server groups and says that nothing is deployed.
package servergroup

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/placeholder"
)

// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups/finalizers,verbs=update

// New returns the ServerGroup reconciler. Ready stays False because no cloud resource is made yet.
func New(c client.Client) *placeholder.Reconciler[*v1alpha1.ServerGroup] {
	return &placeholder.Reconciler[*v1alpha1.ServerGroup]{
		Client:  c,
		Name:    "servergroup",
		New:     func() *v1alpha1.ServerGroup { return &v1alpha1.ServerGroup{} },
		Message: "no cloud resource is created yet: the cloud providers are not implemented",
	}
}
