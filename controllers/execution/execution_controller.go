// Package execution holds the Execution reconciler: the pipeline engine. Until the engine exists it
// accepts executions and says that they do not run.
package execution

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/placeholder"
)

// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=executions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=executions/status,verbs=get;update;patch

// New returns the Execution reconciler. Ready stays False because nothing runs executions yet.
func New(c client.Client) *placeholder.Reconciler[*v1alpha1.Execution] {
	return &placeholder.Reconciler[*v1alpha1.Execution]{
		Client:  c,
		Name:    "execution",
		New:     func() *v1alpha1.Execution { return &v1alpha1.Execution{} },
		Message: "executions do not run yet: the pipeline engine is not implemented",
	}
}
