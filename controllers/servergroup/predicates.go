package servergroup

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// deleting passes the update that marks a group for deletion (a finalizer holds it).
var deleting = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return !e.ObjectNew.GetDeletionTimestamp().IsZero() && e.ObjectOld.GetDeletionTimestamp().IsZero()
	},
}

// adoptRequested passes an update of the adopt annotation, which changes no generation: a group waiting as
// NotOwned is adopted at once.
var adoptRequested = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetAnnotations()[v1alpha1.AnnotationAdopt] != e.ObjectNew.GetAnnotations()[v1alpha1.AnnotationAdopt]
	},
}

// accountChanged passes the account updates its groups act on: its spec (credentials, allowed
// namespaces, endpoint), its readiness (Ready's status or reason) and the start of its deletion; not the
// writes of its usage or of Ready's message, which would bring every group of a busy account back each
// time one of them is made or deleted.
var accountChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		before, okBefore := e.ObjectOld.(*v1alpha1.CloudAccount)
		after, okAfter := e.ObjectNew.(*v1alpha1.CloudAccount)
		if !okBefore || !okAfter {
			return true
		}
		return before.Generation != after.Generation ||
			before.DeletionTimestamp.IsZero() != after.DeletionTimestamp.IsZero() ||
			readiness(before) != readiness(after)
	},
}

// readiness is the account's Ready status and reason.
func readiness(a *v1alpha1.CloudAccount) [2]string {
	c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady)
	if c == nil {
		return [2]string{}
	}
	return [2]string{string(c.Status), c.Reason}
}
