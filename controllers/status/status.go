// Package status writes the conventional part of every Gennaker kind's status: conditions and
// observedGeneration, sent as one merge patch of the status subresource per reconcile.
package status

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// Object is a Gennaker kind: a Kubernetes object with the conventional status.
type Object interface {
	client.Object
	v1alpha1.Conditioned
}

// Set records a condition for the object's current generation, and marks the status as describing it.
// LastTransitionTime only moves when the condition's status changes (meta.SetStatusCondition).
func Set(obj Object, condType string, s metav1.ConditionStatus, reason, message string) {
	st := obj.GetStatus()
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type:               condType,
		Status:             s,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: obj.GetGeneration(),
	})
	st.ObservedGeneration = obj.GetGeneration()
}

// Patch runs mutate on obj and writes the status if mutate changed it, as a merge patch against what was
// read. A merge patch without a resourceVersion never conflicts; the status it writes is computed from
// what was read, and the next reconcile (triggered by this very write) corrects anything stale.
func Patch[T Object](ctx context.Context, c client.Client, obj T, mutate func(T)) error {
	return patch(ctx, c, obj, mutate)
}

// PatchLocked is Patch with the resourceVersion read as a precondition, for a status that records what
// cannot be computed again (what was deleted): a write from a stale read then conflicts instead of
// overwriting a newer record.
func PatchLocked[T Object](ctx context.Context, c client.Client, obj T, mutate func(T)) error {
	return patch(ctx, c, obj, mutate, client.MergeFromWithOptimisticLock{})
}

func patch[T Object](ctx context.Context, c client.Client, obj T, mutate func(T), opts ...client.MergeFromOption) error {
	before := obj.DeepCopyObject().(T)
	mutate(obj)
	// The whole object, not GetStatus(): that is only the conventional part, and a kind's own status
	// fields (a Pipeline's lastRun and triggers) must be written too when they alone changed.
	if equality.Semantic.DeepEqual(before, obj) {
		return nil
	}
	return c.Status().Patch(ctx, obj, client.MergeFromWithOptions(before, opts...))
}

// Message returns the message of a condition of obj, or "" when it has none of that type.
func Message(obj v1alpha1.Conditioned, condType string) string {
	if c := meta.FindStatusCondition(obj.GetStatus().Conditions, condType); c != nil {
		return c.Message
	}
	return ""
}

// Reason returns the reason of a condition of obj, or "" when it has none of that type.
func Reason(obj v1alpha1.Conditioned, condType string) string {
	if c := meta.FindStatusCondition(obj.GetStatus().Conditions, condType); c != nil {
		return c.Reason
	}
	return ""
}

// Progress is where a controller stands with an object, as kstatus reads it: kstatus (and with it
// `kubectl wait`, Argo CD's and Flux's default health) looks at observedGeneration, Reconciling and
// Stalled, never at Ready, so every kind sets these two beside Ready.
type Progress int

// Progresses.
const (
	// Settled: nothing is left to do (kstatus Current).
	Settled Progress = iota
	// Working: the controller is still working towards the spec (Reconciling, kstatus InProgress).
	Working
	// Stuck: the controller cannot go on until a person changes something (Stalled, kstatus Failed).
	Stuck
)

// SetProgress sets Reconciling and Stalled as p says; the one that is True carries reason and message.
func SetProgress(obj Object, p Progress, reason, message string) {
	reconciling, stalled := metav1.ConditionFalse, metav1.ConditionFalse
	reconcilingMsg, stalledMsg := "nothing left to do", "not stalled"
	switch p {
	case Working:
		reconciling, reconcilingMsg = metav1.ConditionTrue, message
	case Stuck:
		stalled, stalledMsg = metav1.ConditionTrue, message
		reconcilingMsg = "waiting for a change"
	}
	Set(obj, v1alpha1.ConditionReconciling, reconciling, reason, reconcilingMsg)
	Set(obj, v1alpha1.ConditionStalled, stalled, reason, stalledMsg)
}
