// Package execution holds the Execution reconciler: it admits a run (queueing, parameters, freezing the
// Pipeline's spec), lets the engine advance its stages, and reports the outcome as conditions, Events and
// metrics.
//
// It is level-triggered and keeps nothing in memory (but which runs' status the API server refuses
// outright, to save stepping them in vain): each reconcile reads the Execution, does what is due, and
// writes the status once. A write is guarded by the resourceVersion it read, so a reconcile that worked
// from a stale cache cannot overwrite newer progress.
package execution

import (
	"context"
	"errors"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/controllers/index"
	"github.com/gennaker/gennaker/controllers/stages"
)

// Execution condition reasons.
const (
	ReasonQueued            = "Queued"
	ReasonPipelineNotFound  = "PipelineNotFound"
	ReasonRunning           = "Running"
	ReasonSucceeded         = "Succeeded"
	ReasonFailed            = "Failed"
	ReasonCanceled          = "Canceled"
	ReasonWaiting           = "WaitingForJudgment"
	ReasonNoJudgmentPending = "NoJudgmentPending"
	ReasonUnknownStage      = "UnknownStage"
	// ConditionInvalidJudgment is True while spec.judgments holds a decision for a stage that is not a
	// manual judgment of the run; it is never applied, and the message names it.
	ConditionInvalidJudgment = "InvalidJudgment"
)

// DefaultWorkers is how many Executions are reconciled at once unless the manager's flag says otherwise.
// Runs are independent, and most of a reconcile is waiting on the API server; no reconcile waits on a
// remote (webhook calls run outside it), so a few workers keep up with many runs.
const DefaultWorkers = 4

// Reconciler reconciles Executions.
type Reconciler struct {
	client.Client
	// APIReader reads past the cache, to confirm a run is current before a stage does what cannot be
	// undone, and to settle a write conflict.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Engine    *engine.Engine
	Clock     clock.PassiveClock
	// Workers is how many runs are reconciled at once; 0 means DefaultWorkers.
	Workers int
	// CancelBound is how long a deleted run's cancel may keep failing before the Execution is let go;
	// 0 means DefaultCancelBound.
	CancelBound time.Duration

	// wake carries the runs that something outside a reconcile asks to be reconciled.
	wake chan event.GenericEvent
	// unwritable holds the runs whose status the API server refuses even in its smaller form (limits.go).
	unwritable unwritable
}

// New returns the Execution reconciler with every stage type of this version; workers is how many runs
// are reconciled at once (0: DefaultWorkers).
func New(mgr ctrl.Manager, workers int, opts ...Option) *Reconciler {
	r := &Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("execution-controller"),
		Clock:     clock.RealClock{},
		Workers:   workers,
		wake:      make(chan event.GenericEvent, 1024),
	}
	deps := stages.Deps{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Wake: r.Wake}
	for _, o := range opts {
		o(&deps)
	}
	r.Engine = &engine.Engine{Stages: stages.All(deps)}
	return r
}

// Option changes what the stage types New gives the engine are built with.
type Option func(*stages.Deps)

// WithWebhookHTTP makes webhook stages call through c, such as a client with the manager's --webhook-proxy.
func WithWebhookHTTP(c *http.Client) Option { return func(d *stages.Deps) { d.HTTP = c } }

// Wake asks for a reconcile of a run from outside a reconcile. It waits while the queue of wake-ups is
// full, until ctx is done.
func (r *Reconciler) Wake(ctx context.Context, key types.NamespacedName) {
	obj := &v1alpha1.Execution{}
	obj.Namespace, obj.Name = key.Namespace, key.Name
	select {
	case r.wake <- event.GenericEvent{Object: obj}:
	case <-ctx.Done():
	}
}

// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=executions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=executions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=pipelines,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile advances one run.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ex v1alpha1.Execution
	if err := r.Get(ctx, req.NamespacedName, &ex); err != nil {
		if apierrors.IsNotFound(err) {
			r.unwritable.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ex.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, &ex)
	}
	if r.unwritable.still(&ex) {
		return ctrl.Result{}, nil
	}
	if finished(ex.Status.Phase) {
		// Nothing changes a finished run, but a late edit (a cancel, a judgment) must still be seen as
		// observed, or kstatus would show the run as in progress forever.
		read := ex.DeepCopy()
		observe(&ex)
		if err := r.write(ctx, read, &ex); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, r.release(ctx, &ex)
	}
	if marked(&ex) {
		return r.refail(ctx, &ex)
	}
	if err := r.claim(ctx, &ex); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, err
	}
	read := ex.DeepCopy()
	recordWho(&ex)
	now := r.Clock.Now()
	ctx, written := stages.AfterWrite(ctx)
	var res engine.Result
	if ex.Status.Phase == "" || ex.Status.Phase == v1alpha1.ExecutionQueued {
		if err := r.admit(ctx, &ex, now); err != nil {
			return ctrl.Result{}, err
		}
	}
	if ex.Status.Phase.Running() {
		res = r.Engine.Step(ctx, &ex, now, r.ensureFresh(read))
		if errors.Is(res.Err, engine.ErrStale) {
			// The cache has not caught up with our own last write; its watch event brings us back.
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
	}
	summarize(&ex, res.Message)
	res, err := r.record(ctx, read, &ex, now, res, written)
	if errors.Is(err, errUnwritable) {
		return ctrl.Result{}, nil
	}
	if err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, err
	}
	r.report(ctx, read, &ex, res)
	if finished(ex.Status.Phase) {
		if err := r.release(ctx, &ex); err != nil {
			return ctrl.Result{}, err
		}
	}
	if res.Err != nil {
		stageErrors.WithLabelValues(ex.Namespace).Inc()
		return ctrl.Result{}, res.Err
	}
	return ctrl.Result{RequeueAfter: res.RequeueAfter}, nil
}

// SetupWithManager registers the reconciler. An Execution's own status writes do not bring it back
// (GenerationChangedPredicate): each reconcile goes as far as it can and asks for a requeue for what is
// due later. Other runs do bring it back: a sibling that finishes frees a Queued run, a child that
// changes phase moves its parent's pipeline stage, a Pipeline that appears admits the runs waiting for it,
// a server group that changes moves the stage acting on it.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Execution{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.Execution{}, handler.EnqueueRequestsFromMapFunc(r.related), builder.WithPredicates(phaseChanged)).
		Watches(&v1alpha1.Pipeline{}, handler.EnqueueRequestsFromMapFunc(r.queuedRuns), builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return true },
			UpdateFunc: func(event.UpdateEvent) bool { return false },
			DeleteFunc: func(event.DeleteEvent) bool { return false },
		})).
		Watches(&v1alpha1.ServerGroup{}, handler.EnqueueRequestsFromMapFunc(operator)).
		WatchesRawSource(source.Channel(r.wake, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers(r.Workers)}).
		Named("execution").
		Complete(r)
}

func workers(n int) int {
	if n <= 0 {
		return DefaultWorkers
	}
	return n
}

// operator maps a server group to the run whose stage last changed it (the deploy and server-group
// stages annotate the groups they act on), so a stage waiting on the group's health or traffic moves as
// soon as the group's status does.
func operator(_ context.Context, o client.Object) []reconcile.Request {
	name := o.GetAnnotations()[v1alpha1.AnnotationExecution]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
}

// phaseChanged passes the events of an Execution that other runs may wait on.
var phaseChanged = predicate.Funcs{
	CreateFunc: func(event.CreateEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.(*v1alpha1.Execution).Status.Phase != e.ObjectNew.(*v1alpha1.Execution).Status.Phase
	},
	DeleteFunc:  func(event.DeleteEvent) bool { return true },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

// related maps a run whose phase changed to the runs that may wait on it: its parent, and the Queued
// runs of its pipeline.
func (r *Reconciler) related(ctx context.Context, o client.Object) []reconcile.Request {
	ex := o.(*v1alpha1.Execution)
	var out []reconcile.Request
	if parent := ex.Annotations[v1alpha1.AnnotationParentExecution]; parent != "" {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ex.Namespace, Name: parent}})
	}
	// Any phase change matters to the queue: a finished run frees it, and a started one changes what the
	// others say they wait for.
	return append(out, r.queued(ctx, ex.Namespace, ex.Spec.Pipeline)...)
}

func (r *Reconciler) queuedRuns(ctx context.Context, o client.Object) []reconcile.Request {
	return r.queued(ctx, o.GetNamespace(), o.GetName())
}

func (r *Reconciler) queued(ctx context.Context, ns, pipeline string) []reconcile.Request {
	list, err := r.unfinished(ctx, ns, pipeline)
	if err != nil {
		log.FromContext(ctx).Error(err, "listing the queued runs of a pipeline", "pipeline", pipeline)
		return nil
	}
	var out []reconcile.Request
	for _, e := range list.Items {
		if e.Status.Phase == v1alpha1.ExecutionQueued {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&e)})
		}
	}
	return out
}

// unfinished lists a pipeline's runs that are not finished, from the cache and without copying them: the
// callers only read them.
func (r *Reconciler) unfinished(ctx context.Context, ns, pipeline string) (*v1alpha1.ExecutionList, error) {
	var list v1alpha1.ExecutionList
	err := r.List(ctx, &list, client.InNamespace(ns), client.MatchingFields{index.UnfinishedExecutionPipeline: pipeline},
		client.UnsafeDisableDeepCopy)
	return &list, err
}
