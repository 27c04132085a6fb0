// Package pipeline holds the Pipeline reconciler. It checks what the schema cannot (cycles in dependsOn,
// CEL expressions that do not compile, cron specs) and reports the outcome as the Ready condition.
package pipeline

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/status"
)

// Reconciler reconciles Pipelines.
type Reconciler struct {
	client.Client
	// Recorder emits an Event when a pipeline turns invalid, so `kubectl describe` shows why.
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=pipelines,verbs=get;list;watch
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=pipelines/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile validates the pipeline and records the verdict.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pl v1alpha1.Pipeline
	if err := r.Get(ctx, req.NamespacedName, &pl); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	invalid := pl.Spec.Validate().ToAggregate() // nil when valid
	wasInvalid := isInvalid(&pl)
	err := status.Patch(ctx, r.Client, &pl, func(p *v1alpha1.Pipeline) {
		p.Status.StageCount = int32(len(p.Spec.Stages))
		if invalid != nil {
			status.Set(p, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonInvalid, invalid.Error())
			return
		}
		status.Set(p, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonValid, "the pipeline is valid")
	})
	if err == nil && invalid != nil && !wasInvalid {
		r.Recorder.Eventf(&pl, nil, corev1.EventTypeWarning, v1alpha1.ReasonInvalid, "Validate", "%s", invalid.Error())
	}
	return ctrl.Result{}, err
}

// isInvalid says whether this generation was already reported invalid, so that the Event is sent once.
func isInvalid(p *v1alpha1.Pipeline) bool {
	c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionReady)
	return c != nil && c.Reason == v1alpha1.ReasonInvalid && c.ObservedGeneration == p.Generation
}

// SetupWithManager registers the reconciler.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("pipeline-controller")
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Pipeline{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("pipeline").
		Complete(r)
}
