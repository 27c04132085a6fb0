// Package pipeline holds the Pipeline reconciler. It checks what the schema cannot (cycles in dependsOn,
// CEL expressions that do not compile, cron specs) and reports the outcome as the Ready condition; starts
// the runs of a valid pipeline's cron triggers; keeps the pipeline's run history to spec.historyLimit; and
// points status.lastRun at its latest run.
package pipeline

import (
	"context"
	"errors"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/status"
	"github.com/gennaker/gennaker/controllers/trigger"
	"github.com/gennaker/gennaker/controllers/validation"
)

// Reasons of the Events the reconciler emits, besides v1alpha1.ReasonInvalid.
const (
	// ReasonTriggered (Normal): a cron trigger started an Execution; the note names it and its due time.
	ReasonTriggered = "Triggered"
	// ReasonMissedSchedule (Warning): a cron trigger skipped due times missed by more than StartingDeadline.
	ReasonMissedSchedule = "MissedSchedule"
	// ReasonTriggerFailed (Warning): a cron trigger could not create its Execution; it retries.
	ReasonTriggerFailed = "TriggerFailed"
	// ReasonPruned (Normal): finished Executions beyond spec.historyLimit were deleted.
	ReasonPruned = "Pruned"
)

// Reconciler reconciles Pipelines.
type Reconciler struct {
	client.Client
	// Recorder emits an Event when a pipeline turns invalid, a trigger starts a run, or history is pruned,
	// so `kubectl describe` shows them. SetupWithManager defaults it.
	Recorder events.EventRecorder
	// Clock tells the time cron triggers are due against; tests set a fake one. SetupWithManager defaults
	// it to the real clock.
	Clock clock.PassiveClock
	// Images, if set, polls the repositories of image triggers; without it they never fire.
	Images *trigger.Images
}

// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=pipelines,verbs=get;list;watch
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=pipelines/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=executions,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile validates the pipeline, prunes its history, starts its due cron runs, and writes what it saw
// in one status patch. It requeues for the earliest next due time.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pl v1alpha1.Pipeline
	if err := r.Get(ctx, req.NamespacedName, &pl); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.now()
	invalid := validation.Pipeline(&pl).ToAggregate() // nil when valid
	wasInvalid := isInvalid(&pl)

	runs, err := r.listRuns(ctx, &pl)
	if err != nil {
		return ctrl.Result{}, err
	}
	runs, pruneErr := r.pruneHistory(ctx, &pl, runs)

	// An invalid pipeline does not fire, and its triggers start afresh once it is valid again: a run
	// missed because of a broken spec is not made up for later.
	var triggers triggerOutcome
	if invalid == nil {
		triggers = r.runTriggers(ctx, &pl, now)
	} else {
		triggers.statuses = webhookStatuses(&pl)
	}
	for _, ex := range triggers.started {
		if !slices.ContainsFunc(runs, func(e v1alpha1.Execution) bool { return e.Name == ex.Name }) {
			runs = append(runs, *ex) // the cache may not have it yet
		}
	}

	// Locked: the status carries the record of pruned webhook calls, which a write from a stale read of
	// the Pipeline would drop (this controller does not see its own status writes to correct them).
	err = status.PatchLocked(ctx, r.Client, &pl, func(p *v1alpha1.Pipeline) {
		p.Status.StageCount = int32(len(p.Spec.Stages))
		p.Status.LastRun = lastRun(runs)
		p.Status.Triggers = triggers.statuses
		if invalid != nil {
			status.Set(p, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonInvalid, invalid.Error())
			status.SetProgress(p, status.Stuck, v1alpha1.ReasonInvalid, invalid.Error())
			return
		}
		if reason, msg := triggers.notReadyCondition(); reason != "" { // a polled trigger cannot read its source, or a run's name is taken
			status.Set(p, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)
			status.SetProgress(p, status.Stuck, reason, msg)
			return
		}
		status.Set(p, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonValid, "the pipeline is valid"+imagesSeen(p))
		// A valid pipeline is Current whatever its runs do: they are objects of their own.
		status.SetProgress(p, status.Settled, v1alpha1.ReasonValid, "")
	})
	if err == nil && invalid != nil && !wasInvalid {
		r.Recorder.Eventf(&pl, nil, corev1.EventTypeWarning, v1alpha1.ReasonInvalid, "Validate", "%s", invalid.Error())
	}
	if apierrors.IsConflict(err) || apierrors.IsConflict(pruneErr) {
		// The cache has not caught up with a write (ours or someone's): the next pass reads it again. The
		// runs started in this pass are found by name then.
		return ctrl.Result{Requeue: true}, nil
	}
	if err := errors.Join(append([]error{err, pruneErr}, triggers.errs...)...); err != nil {
		return ctrl.Result{}, err
	}
	if triggers.requeueAfter > 0 {
		log.FromContext(ctx).V(1).Info("waiting for the next cron due time", "after", triggers.requeueAfter)
	}
	return ctrl.Result{RequeueAfter: triggers.requeueAfter}, nil
}

// now is the reconciler's clock's time, or the real time if it has none.
func (r *Reconciler) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

// isInvalid says whether this generation was already reported invalid, so that the Event is sent once.
func isInvalid(p *v1alpha1.Pipeline) bool {
	c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionReady)
	return c != nil && c.Reason == v1alpha1.ReasonInvalid && c.ObservedGeneration == p.Generation
}

// SetupWithManager registers the reconciler. Besides its Pipelines' spec changes it watches their
// Executions, since lastRun and the history limit depend on them. The controller's own status writes do not
// trigger it (GenerationChangedPredicate); time does, through RequeueAfter.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("pipeline-controller")
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	b := ctrl.NewControllerManagedBy(mgr)
	if r.Images != nil {
		src, err := r.imageSource(mgr)
		if err != nil {
			return err
		}
		b = b.WatchesRawSource(src)
	}
	return b.
		For(&v1alpha1.Pipeline{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.Execution{}, handler.EnqueueRequestsFromMapFunc(pipelineOf),
			builder.WithPredicates(runChanged)).
		Watches(&v1alpha1.Execution{}, handler.EnqueueRequestsFromMapFunc(r.pipelinesTriggeredBy),
			builder.WithPredicates(runChanged)).
		Named("pipeline").
		Complete(r)
}

// pipelineOf maps an Execution to its Pipeline, in the same namespace.
func pipelineOf(_ context.Context, o client.Object) []reconcile.Request {
	ex, ok := o.(*v1alpha1.Execution)
	if !ok || ex.Spec.Pipeline == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ex.Namespace, Name: ex.Spec.Pipeline}}}
}

// runChanged lets through what lastRun and the history limit depend on: an Execution created or deleted,
// or its phase changed. The engine writes an Execution's status far more often than that.
var runChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*v1alpha1.Execution)
		cur, okNew := e.ObjectNew.(*v1alpha1.Execution)
		return !okOld || !okNew || old.Status.Phase != cur.Status.Phase
	},
}
