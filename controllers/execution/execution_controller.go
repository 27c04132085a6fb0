// Package execution holds the Execution reconciler: it admits a run (queueing, parameters, freezing the
// Pipeline's spec), lets the engine advance its stages, and reports the outcome as conditions, Events and
// metrics.
//
// It is level-triggered and keeps nothing in memory: each reconcile reads the Execution, does what is due,
// and writes the status once. A write is guarded by the resourceVersion it read, so a reconcile that worked
// from a stale cache cannot overwrite newer progress.
package execution

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/controllers/index"
	"github.com/gennaker/gennaker/controllers/stages"
	"github.com/gennaker/gennaker/controllers/status"
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

// Workers is how many Executions are reconciled at once. Runs are independent, and most of a reconcile
// is waiting on the API server.
const Workers = 4

// Reconciler reconciles Executions.
type Reconciler struct {
	client.Client
	// APIReader reads past the cache, to confirm a run is current before a stage does what cannot be
	// undone, and to settle a write conflict.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Engine    *engine.Engine
	Clock     clock.PassiveClock
}

// New returns the Execution reconciler with every stage type of this version.
func New(mgr ctrl.Manager) *Reconciler {
	return &Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("execution-controller"),
		Engine:    &engine.Engine{Stages: stages.All(stages.Deps{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader()})},
		Clock:     clock.RealClock{},
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
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ex.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	read := ex.DeepCopy()
	if finished(ex.Status.Phase) {
		// Nothing changes a finished run, but a late edit (a cancel, a judgment) must still be seen as
		// observed, or kstatus would show the run as in progress forever.
		observe(&ex)
		return ctrl.Result{}, r.write(ctx, read, &ex)
	}
	now := r.Clock.Now()
	var res engine.Result
	if ex.Status.Phase == "" || ex.Status.Phase == v1alpha1.ExecutionQueued {
		if err := r.admit(ctx, &ex, now); err != nil {
			return ctrl.Result{}, err
		}
	}
	if ex.Status.Phase == v1alpha1.ExecutionRunning {
		res = r.Engine.Step(ctx, &ex, now, r.ensureFresh(read))
		if errors.Is(res.Err, engine.ErrStale) {
			// The cache has not caught up with our own last write; its watch event brings us back.
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
	}
	summarize(&ex, res.Message)
	if err := r.write(ctx, read, &ex); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, err
	}
	r.report(ctx, read, &ex, res)
	if res.Err != nil {
		stageErrors.WithLabelValues(ex.Namespace).Inc()
		return ctrl.Result{}, res.Err
	}
	return ctrl.Result{RequeueAfter: res.RequeueAfter}, nil
}

// admit starts a Queued run when it may start: the Pipeline exists, no earlier run of it is unfinished
// (limitConcurrent), and the parameters resolve. It freezes the Pipeline's spec into the status.
func (r *Reconciler) admit(ctx context.Context, ex *v1alpha1.Execution, now time.Time) error {
	if ex.Spec.Cancel {
		ex.Status.Phase = v1alpha1.ExecutionCanceled
		ex.Status.CompletionTime = ptrTime(now)
		setOutcome(ex, ReasonCanceled, "canceled before it started")
		return nil
	}
	ex.Status.Phase = v1alpha1.ExecutionQueued
	var pl v1alpha1.Pipeline
	if err := r.Get(ctx, types.NamespacedName{Namespace: ex.Namespace, Name: ex.Spec.Pipeline}, &pl); err != nil {
		if apierrors.IsNotFound(err) {
			setQueued(ex, ReasonPipelineNotFound, fmt.Sprintf("pipeline %s does not exist in namespace %s", ex.Spec.Pipeline, ex.Namespace))
			return nil
		}
		return err
	}
	if ptr.Deref(pl.Spec.LimitConcurrent, true) {
		ahead, err := r.ahead(ctx, ex)
		if err != nil {
			return err
		}
		if ahead != "" {
			setQueued(ex, ReasonQueued, ahead)
			return nil
		}
	}
	fail := func(msg string) {
		ex.Status.Phase = v1alpha1.ExecutionFailed
		ex.Status.CompletionTime = ptrTime(now)
		setOutcome(ex, ReasonFailed, msg)
	}
	if errs := pl.Spec.Validate(); len(errs) > 0 {
		fail(fmt.Sprintf("pipeline %s is invalid: %s", pl.Name, errs.ToAggregate().Error()))
		return nil
	}
	params, err := resolveParameters(pl.Spec.Parameters, ex.Spec.Parameters)
	if err != nil {
		fail(err.Error())
		return nil
	}
	ex.Status.Phase = v1alpha1.ExecutionRunning
	ex.Status.StartTime = ptrTime(now)
	ex.Status.PipelineGeneration = pl.Generation
	ex.Status.PipelineSpec = pl.Spec.DeepCopy()
	ex.Status.Parameters = params
	engine.InitStages(ex)
	return nil
}

// ahead says which run of the same pipeline this one waits for: a Running one, or an earlier one still
// Queued. Runs are ordered by creation time, then name.
func (r *Reconciler) ahead(ctx context.Context, ex *v1alpha1.Execution) (string, error) {
	list, err := r.unfinished(ctx, ex.Namespace, ex.Spec.Pipeline)
	if err != nil {
		return "", err
	}
	var queued []*v1alpha1.Execution
	for i := range list.Items {
		o := &list.Items[i]
		if o.UID == ex.UID {
			continue
		}
		switch o.Status.Phase {
		case v1alpha1.ExecutionRunning:
			return fmt.Sprintf("waits for execution %s of pipeline %s to finish (limitConcurrent)", o.Name, ex.Spec.Pipeline), nil
		case "", v1alpha1.ExecutionQueued:
			if !o.Spec.Cancel && o.DeletionTimestamp.IsZero() && before(o, ex) {
				queued = append(queued, o)
			}
		}
	}
	if len(queued) == 0 {
		return "", nil
	}
	sort.Slice(queued, func(i, j int) bool { return before(queued[i], queued[j]) })
	return fmt.Sprintf("queued behind execution %s of pipeline %s (limitConcurrent, %d ahead)", queued[0].Name, ex.Spec.Pipeline, len(queued)), nil
}

func before(a, b *v1alpha1.Execution) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// resolveParameters applies the pipeline's defaults to the run's parameters and checks them.
func resolveParameters(decl []v1alpha1.Parameter, given map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(decl))
	var problems []string
	for _, p := range decl {
		v, ok := given[p.Name]
		if !ok || v == "" {
			v = p.Default
		}
		switch {
		case p.Required && v == "":
			problems = append(problems, fmt.Sprintf("spec.parameters.%s is required", p.Name))
		case v != "" && len(p.Options) > 0 && !slices.Contains(p.Options, v):
			problems = append(problems, fmt.Sprintf("spec.parameters.%s: %q is not one of %s", p.Name, v, strings.Join(p.Options, ", ")))
		}
		out[p.Name] = v
	}
	for name := range given {
		if !slices.ContainsFunc(decl, func(p v1alpha1.Parameter) bool { return p.Name == name }) {
			problems = append(problems, fmt.Sprintf("spec.parameters.%s is not a parameter of the pipeline", name))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return out, nil
}

// ensureFresh returns the check stages make before an action that cannot be undone: the API server's
// status must still be the one this reconcile read. A change of spec alone (a judgment, a cancel) does
// not make it stale: the status, which records what was done, is what matters. One read per reconcile.
func (r *Reconciler) ensureFresh(read *v1alpha1.Execution) func(context.Context) error {
	checked := false
	return func(ctx context.Context) error {
		if checked {
			return nil
		}
		var live v1alpha1.Execution
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(read), &live); err != nil {
			return err
		}
		if !equality.Semantic.DeepEqual(live.Status, read.Status) {
			return engine.ErrStale
		}
		checked = true
		return nil
	}
}

// write sends the status if it changed, guarded by the resourceVersion that was read. A conflict caused by
// a change of spec or metadata alone (a judgment patched in meanwhile) leaves the status we computed
// valid, so it is written again on top of the live object; any other conflict is left to the next
// reconcile.
func (r *Reconciler) write(ctx context.Context, read, ex *v1alpha1.Execution) error {
	if equality.Semantic.DeepEqual(read.Status, ex.Status) {
		return nil
	}
	err := r.Status().Patch(ctx, ex, client.MergeFromWithOptions(read, client.MergeFromWithOptimisticLock{}))
	if !apierrors.IsConflict(err) {
		return err
	}
	var live v1alpha1.Execution
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(ex), &live); err != nil {
		return err
	}
	if !equality.Semantic.DeepEqual(live.Status, read.Status) {
		return err
	}
	next := live.DeepCopy()
	next.Status = ex.Status
	if err := r.Status().Patch(ctx, next, client.MergeFromWithOptions(&live, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	ex.ResourceVersion = next.ResourceVersion
	return nil
}

// summarize derives the printer columns and the conditions from the phase and the stages.
func summarize(ex *v1alpha1.Execution, msg string) {
	var current, waiting, instructions []string
	for i, st := range ex.Status.Stages {
		switch st.Phase {
		case v1alpha1.StageRunning:
			current = append(current, st.Name)
		case v1alpha1.StageWaitingForJudgment:
			current = append(current, st.Name)
			waiting = append(waiting, st.Name)
			if spec := frozenStage(ex, i); spec != nil && spec.ManualJudgment != nil {
				instructions = append(instructions, stages.Instructions(spec))
			}
		}
	}
	ex.Status.CurrentStage = strings.Join(current, ",")
	ex.Status.AwaitingJudgment = strings.Join(waiting, ",")
	if len(waiting) > 0 {
		status.Set(ex, v1alpha1.ConditionAwaitingJudgment, metav1.ConditionTrue, ReasonWaiting, strings.Join(instructions, "; "))
	} else {
		status.Set(ex, v1alpha1.ConditionAwaitingJudgment, metav1.ConditionFalse, ReasonNoJudgmentPending, "no stage waits for a judgment")
	}
	if bad := invalidJudgments(ex); len(bad) > 0 {
		status.Set(ex, ConditionInvalidJudgment, metav1.ConditionTrue, ReasonUnknownStage, strings.Join(bad, "; "))
	} else {
		status.Set(ex, ConditionInvalidJudgment, metav1.ConditionFalse, ReasonUnknownStage, "every judgment names a manual judgment stage")
	}
	switch ex.Status.Phase {
	case v1alpha1.ExecutionRunning:
		what := "running stages " + ex.Status.CurrentStage
		if len(waiting) > 0 {
			what = "waiting for a judgment on " + ex.Status.AwaitingJudgment
		} else if len(current) == 0 {
			what = "waiting for an execution window"
		}
		status.Set(ex, v1alpha1.ConditionReady, metav1.ConditionFalse, ReasonRunning, what)
		status.Set(ex, v1alpha1.ConditionReconciling, metav1.ConditionTrue, ReasonRunning, what)
		status.Set(ex, v1alpha1.ConditionStalled, metav1.ConditionFalse, ReasonRunning, "the run is making progress")
		status.Set(ex, v1alpha1.ConditionSucceeded, metav1.ConditionUnknown, ReasonRunning, what)
	case v1alpha1.ExecutionSucceeded:
		setOutcome(ex, ReasonSucceeded, "every stage finished")
	case v1alpha1.ExecutionFailed:
		if msg != "" {
			setOutcome(ex, ReasonFailed, msg)
		}
	case v1alpha1.ExecutionCanceled:
		if msg != "" {
			setOutcome(ex, ReasonCanceled, msg)
		}
	}
}

// observe marks the status and its conditions as describing the current generation.
func observe(ex *v1alpha1.Execution) {
	ex.Status.ObservedGeneration = ex.Generation
	for i := range ex.Status.Conditions {
		ex.Status.Conditions[i].ObservedGeneration = ex.Generation
	}
}

func setQueued(ex *v1alpha1.Execution, reason, msg string) {
	status.Set(ex, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)
	status.Set(ex, v1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, msg)
	status.Set(ex, v1alpha1.ConditionStalled, metav1.ConditionFalse, reason, "the run waits for its turn")
	status.Set(ex, v1alpha1.ConditionSucceeded, metav1.ConditionUnknown, reason, msg)
}

// setOutcome records the end of a run in the kstatus way: Reconciling False, and Stalled True for a run
// that did not succeed, so Argo CD and Flux see it as failed.
func setOutcome(ex *v1alpha1.Execution, reason, msg string) {
	ok := reason == ReasonSucceeded
	ready, stalled := metav1.ConditionFalse, metav1.ConditionTrue
	if ok {
		ready, stalled = metav1.ConditionTrue, metav1.ConditionFalse
	}
	status.Set(ex, v1alpha1.ConditionReady, ready, reason, msg)
	status.Set(ex, v1alpha1.ConditionSucceeded, ready, reason, msg)
	status.Set(ex, v1alpha1.ConditionReconciling, metav1.ConditionFalse, reason, "the run is over")
	status.Set(ex, v1alpha1.ConditionStalled, stalled, reason, msg)
	ex.Status.CurrentStage = ""
}

// invalidJudgments lists the judgments that name no manual judgment stage of the run.
func invalidJudgments(ex *v1alpha1.Execution) []string {
	if ex.Status.PipelineSpec == nil {
		return nil
	}
	var out []string
	for name := range ex.Spec.Judgments {
		ok := slices.ContainsFunc(ex.Status.PipelineSpec.Stages, func(s v1alpha1.Stage) bool {
			return s.Name == name && s.ManualJudgment != nil
		})
		if !ok {
			out = append(out, fmt.Sprintf("spec.judgments.%s: pipeline %s has no manualJudgment stage named %s", name, ex.Spec.Pipeline, name))
		}
	}
	sort.Strings(out)
	return out
}

func frozenStage(ex *v1alpha1.Execution, i int) *v1alpha1.Stage {
	if ex.Status.PipelineSpec == nil || i >= len(ex.Status.PipelineSpec.Stages) {
		return nil
	}
	return &ex.Status.PipelineSpec.Stages[i]
}

func finished(p v1alpha1.ExecutionPhase) bool {
	return p == v1alpha1.ExecutionSucceeded || p == v1alpha1.ExecutionFailed || p == v1alpha1.ExecutionCanceled
}

func ptrTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}

// report sends the Events and metrics of a write that went through.
func (r *Reconciler) report(ctx context.Context, read, ex *v1alpha1.Execution, res engine.Result) {
	logger := log.FromContext(ctx)
	if p := ex.Status.Phase; p != read.Status.Phase {
		logger.Info("run changed phase", "pipeline", ex.Spec.Pipeline, "from", read.Status.Phase, "to", p)
	}
	if read.Status.StartTime == nil && ex.Status.StartTime != nil {
		// Said even of a run that started and finished in this one reconcile.
		executions.WithLabelValues(string(v1alpha1.ExecutionRunning)).Inc()
		r.Recorder.Eventf(ex, nil, corev1.EventTypeNormal, "Started", "Start", "pipeline %s generation %d started with %d stages", ex.Spec.Pipeline, ex.Status.PipelineGeneration, len(ex.Status.Stages))
	}
	if p := ex.Status.Phase; p != read.Status.Phase && p != v1alpha1.ExecutionRunning {
		executions.WithLabelValues(string(p)).Inc()
		c := readyCondition(ex)
		switch p {
		case v1alpha1.ExecutionQueued:
			r.Recorder.Eventf(ex, nil, corev1.EventTypeNormal, "Queued", "Queue", "%s", c)
		case v1alpha1.ExecutionSucceeded:
			r.Recorder.Eventf(ex, nil, corev1.EventTypeNormal, "Succeeded", "Finish", "every stage finished")
		case v1alpha1.ExecutionFailed:
			r.Recorder.Eventf(ex, nil, corev1.EventTypeWarning, "Failed", "Finish", "%s", c)
		case v1alpha1.ExecutionCanceled:
			r.Recorder.Eventf(ex, nil, corev1.EventTypeNormal, "Canceled", "Cancel", "%s", c)
		}
	}
	for _, t := range res.Transitions {
		typ, reason := corev1.EventTypeNormal, "Stage"+string(t.To)
		switch t.To {
		case v1alpha1.StageRunning:
			reason = "StageStarted"
		case v1alpha1.StageFailed, v1alpha1.StageFailedContinue:
			typ = corev1.EventTypeWarning
			reason = "StageFailed"
		}
		note := fmt.Sprintf("stage %s (%s) %s", t.Stage, t.Type, t.To)
		if t.Message != "" {
			note += ": " + t.Message
		}
		// The stage is the Event's related object, field path and all: the recorder merges Events that
		// differ only in their note, which would fold every stage's Event into the first one's.
		r.Recorder.Eventf(ex, stageRef(ex, t.Stage), typ, reason, "Stage", "%s", truncate(note, 1000))
		observeStage(t)
		logger.V(1).Info("stage changed phase", "stage", t.Stage, "type", t.Type, "from", t.From, "to", t.To, "message", t.Message)
	}
	if c := meta.FindStatusCondition(ex.Status.Conditions, ConditionInvalidJudgment); c != nil && c.Status == metav1.ConditionTrue {
		if was := meta.FindStatusCondition(read.Status.Conditions, ConditionInvalidJudgment); was == nil || was.Message != c.Message {
			r.Recorder.Eventf(ex, nil, corev1.EventTypeWarning, "InvalidJudgment", "Judge", "%s", c.Message)
		}
	}
}

func stageRef(ex *v1alpha1.Execution, stage string) *corev1.ObjectReference {
	return &corev1.ObjectReference{
		APIVersion: v1alpha1.GroupVersion.String(),
		Kind:       "Execution",
		Namespace:  ex.Namespace,
		Name:       ex.Name,
		UID:        ex.UID,
		FieldPath:  fmt.Sprintf("status.stages{%s}", stage),
	}
}

func readyCondition(ex *v1alpha1.Execution) string {
	for _, c := range ex.Status.Conditions {
		if c.Type == v1alpha1.ConditionReady {
			return c.Message
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// SetupWithManager registers the reconciler. An Execution's own status writes do not bring it back
// (GenerationChangedPredicate): each reconcile goes as far as it can and asks for a requeue for what is
// due later. Other runs do bring it back: a sibling that finishes frees a Queued run, a child that
// changes phase moves its parent's pipeline stage, a Pipeline that appears admits the runs waiting for it.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Execution{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.Execution{}, handler.EnqueueRequestsFromMapFunc(r.related), builder.WithPredicates(phaseChanged)).
		Watches(&v1alpha1.Pipeline{}, handler.EnqueueRequestsFromMapFunc(r.queuedRuns), builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return true },
			UpdateFunc: func(event.UpdateEvent) bool { return false },
			DeleteFunc: func(event.DeleteEvent) bool { return false },
		})).
		WithOptions(controller.Options{MaxConcurrentReconciles: Workers}).
		Named("execution").
		Complete(r)
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
