package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine/dag"
	"github.com/gennaker/gennaker/controllers/engine/expr"
)

// Engine advances runs.
type Engine struct {
	// Stages are the stage types it can run.
	Stages Stages
}

// Transition is a stage changing phase in a step, for Events and metrics.
type Transition struct {
	Stage   string
	Type    string
	From    v1alpha1.StagePhase
	To      v1alpha1.StagePhase
	Message string
	// Duration is how long the stage ran, for a stage that finished.
	Duration time.Duration
}

// Result is what a step did and what it asks for.
type Result struct {
	// Transitions are the stage phase changes, in order.
	Transitions []Transition
	// RequeueAfter is when time-based work (a wait's end, a poll, a window, a timeout) is next due; zero
	// means nothing is due until something changes.
	RequeueAfter time.Duration
	// Message says why a run that ended failed or was canceled.
	Message string
	// Err is a transient error of a stage, or ErrStale: the step kept everything it did before it, and
	// must be retried.
	Err error
}

// Step advances a Running Execution as far as it can go now: it checks started stages, applies timeouts,
// failures and cancel, and starts every stage whose dependencies are met, over and over until nothing
// more changes, so that stages which finish at once (a zero wait, a precondition) cost no extra write.
// It changes ex.Status only; the caller writes it once. ensureFresh is passed to stages as
// StageRun.EnsureFresh.
func (e *Engine) Step(ctx context.Context, ex *v1alpha1.Execution, now time.Time, ensureFresh func(context.Context) error) Result {
	s := &step{Engine: e, ex: ex, now: now, fresh: ensureFresh}
	s.run(ctx)
	return s.res
}

type step struct {
	*Engine
	ex    *v1alpha1.Execution
	now   time.Time
	fresh func(context.Context) error
	graph *dag.Graph
	specs map[string]*v1alpha1.Stage
	res   Result
	// failing is set once a stage with onFailure Fail failed: nothing new starts.
	failing bool
	// settling is set once a stage asked for its record to be written before others start (Settle).
	settling bool
}

func (s *step) run(ctx context.Context) {
	spec := s.ex.Status.PipelineSpec
	if spec == nil { // only a status written by someone else gets here
		s.finishRun(v1alpha1.ExecutionFailed, "status.pipelineSpec is missing: the run's status was not written by the operator")
		return
	}
	addMissingStages(s.ex)
	s.specs = make(map[string]*v1alpha1.Stage, len(spec.Stages))
	nodes := make([]dag.Node, 0, len(spec.Stages))
	for i := range spec.Stages {
		st := &spec.Stages[i]
		s.specs[st.Name] = st
		nodes = append(nodes, dag.Node{Name: st.Name, DependsOn: st.DependsOn})
	}
	g, err := dag.Build(nodes)
	if err != nil { // validated before the run started; only a hand-edited status gets here
		s.finishRun(v1alpha1.ExecutionFailed, fmt.Sprintf("the frozen pipeline is invalid: %v", err))
		return
	}
	s.graph = g

	if s.ex.Spec.Cancel || !s.ex.DeletionTimestamp.IsZero() {
		s.cancel(ctx)
		return
	}
	// Stages started by this step were just checked by their Start.
	active := s.stagesIn(v1alpha1.StageRunning, v1alpha1.StageWaitingForJudgment)
	for _, name := range active {
		if s.res.Err != nil {
			return
		}
		s.check(ctx, name)
	}
	for s.res.Err == nil && !s.failing && !s.settling && s.startRunnable(ctx) {
	}
	if s.res.Err != nil {
		return
	}
	if s.failing {
		s.stopOthers(ctx, "")
		s.finishRun(v1alpha1.ExecutionFailed, s.failureMessage())
		return
	}
	if s.settling && len(s.runnable()) > 0 {
		s.scheduleNext()
		s.res.RequeueAfter = time.Millisecond
		return
	}
	if len(s.stagesIn(v1alpha1.StageRunning, v1alpha1.StageWaitingForJudgment)) > 0 || len(s.held()) > 0 {
		s.scheduleNext()
		return
	}
	if msg := s.failureMessage(); msg != "" {
		s.finishRun(v1alpha1.ExecutionFailed, msg)
		return
	}
	s.finishRun(v1alpha1.ExecutionSucceeded, "")
}

// check looks at one started stage: its timeout first, then the stage's own Check.
func (s *step) check(ctx context.Context, name string) {
	st := s.status(name)
	spec := s.specs[name]
	if d := Timeout(spec); d > 0 && st.StartTime != nil && !s.now.Before(st.StartTime.Add(d)) && !s.decidedBefore(name, st.StartTime.Add(d)) {
		run := s.stageRun(name)
		if err := s.impl(spec).Cancel(ctx, run); err != nil {
			s.res.Err = fmt.Errorf("stage %s timed out, and stopping it failed: %w", name, err)
			return
		}
		before := *st.DeepCopy()
		limit := string(spec.Timeout)
		if limit == "" {
			limit = "2h, the default timeout of a deploy stage"
		}
		run.Fail("timed out after " + limit)
		s.transition(&before, st)
		s.afterFailure(st)
		return
	}
	s.call(ctx, name, Stage.Check)
}

// DefaultDeployTimeout is the timeout of a deploy stage that sets none: a group that never becomes healthy
// must still end in a failure, so that a red/black with rollbackOnFailure rolls back.
const DefaultDeployTimeout = 2 * time.Hour

// Timeout is how long a stage may run: its timeout, or DefaultDeployTimeout for a deploy stage without
// one; zero means no limit.
func Timeout(spec *v1alpha1.Stage) time.Duration {
	if spec.Timeout == "" && spec.Deploy != nil {
		return DefaultDeployTimeout
	}
	d, _ := spec.Timeout.Duration()
	return d
}

// decidedBefore says whether a person decided the stage before deadline: then Check applies the decision
// instead of the timeout failing the stage.
func (s *step) decidedBefore(name string, deadline time.Time) bool {
	d, ok := s.impl(s.specs[name]).(Decided)
	if !ok {
		return false
	}
	at, ok := d.DecidedAt(s.stageRun(name))
	return ok && at.Before(deadline)
}

// call runs a Stage method on a stage, keeping the status change only when the method succeeds.
func (s *step) call(ctx context.Context, name string, method func(Stage, context.Context, *StageRun) error) {
	st := s.status(name)
	before := *st.DeepCopy()
	if err := method(s.impl(s.specs[name]), ctx, s.stageRun(name)); err != nil {
		*st = before
		if errors.Is(err, ErrStale) {
			s.res.Err = err
		} else {
			s.res.Err = fmt.Errorf("stage %s: %w", name, err)
		}
		return
	}
	if n := outputBytes(st); n > MaxStageOutputBytes {
		// Kept, the run's status could not be written, and the stage would be run again on every retry.
		st.Outputs = nil
		run := s.stageRun(name)
		if st.Phase == v1alpha1.StageRunning || st.Phase == v1alpha1.StageWaitingForJudgment {
			_ = s.impl(s.specs[name]).Cancel(ctx, run) // best effort: the stage is failed either way
		}
		run.Fail(fmt.Sprintf("its outputs are %d bytes, more than the %d a stage may keep in the run's status", n, MaxStageOutputBytes))
	}
	s.transition(&before, st)
	if st.Phase == v1alpha1.StageFailed {
		s.afterFailure(st)
	}
}

// MaxStageOutputBytes bounds the outputs of one stage, as JSON: a stage whose outputs grow past it fails,
// and they are dropped. With the bounded messages and the run's budget (see the Execution controller) it
// keeps a run's status well under what the API server and etcd accept.
const MaxStageOutputBytes = 512 << 10

// outputBytes is the size of a stage's outputs as JSON.
func outputBytes(st *v1alpha1.StageStatus) int {
	n := 0
	for k, v := range st.Outputs {
		n += len(k) + len(v.Raw) + 4
	}
	return n
}

// afterFailure applies the failed stage's onFailure.
func (s *step) afterFailure(st *v1alpha1.StageStatus) {
	switch s.specs[st.Name].OnFailure {
	case v1alpha1.OnFailureContinue:
		before := *st.DeepCopy()
		st.Phase = v1alpha1.StageFailedContinue
		s.transition(&before, st)
	case v1alpha1.OnFailureFailAfterBranches:
		// The stage stays Failed: its dependents never start, the other branches run to their end, and
		// the run fails when nothing more can start.
	default:
		s.failing = true
	}
}

// startRunnable starts the stages whose dependencies are met. It reports whether any stage changed phase,
// as that may let more start.
func (s *step) startRunnable(ctx context.Context) bool {
	changed := false
	for _, name := range s.runnable() {
		if s.res.Err != nil || s.failing || s.settling {
			break
		}
		if s.start(ctx, name) {
			changed = true
		}
	}
	return changed
}

// runnable names the stages not started whose dependencies are met.
func (s *step) runnable() []string {
	finished, started := map[string]bool{}, map[string]bool{}
	for _, st := range s.ex.Status.Stages {
		switch st.Phase {
		case v1alpha1.StageSucceeded, v1alpha1.StageSkipped, v1alpha1.StageFailedContinue:
			finished[st.Name] = true
		case v1alpha1.StageNotStarted:
		default:
			started[st.Name] = true
		}
	}
	return s.graph.Runnable(finished, started)
}

// start starts one stage whose dependencies are met, unless its window is closed. A stage whose when is
// false is skipped at once, window or not: holding it until the window opens would only delay the stages
// after it. It reports whether the stage left NotStarted.
func (s *step) start(ctx context.Context, name string) bool {
	st := s.status(name)
	spec := s.specs[name]
	before := *st.DeepCopy()
	if spec.When != "" {
		run := s.stageRun(name)
		ok, err := run.EvalBool(spec.When, nil)
		if err != nil {
			s.failStage(st, fmt.Sprintf("when: %v", err))
			return true
		}
		if !ok {
			st.StartTime = ptrTime(s.now)
			run.finish(v1alpha1.StageSkipped, fmt.Sprintf("skipped: when %q is false", spec.When))
			s.transition(&before, st)
			return true
		}
	}
	if spec.Window != nil {
		open, opens, err := WindowOpen(spec.Window, s.now)
		if err != nil {
			s.failStage(st, err.Error())
			return true
		}
		if !open {
			st.Message = fmt.Sprintf("waiting for its execution window, which opens at %s", opens.UTC().Format(time.RFC3339))
			st.NextCheckTime = ptrTime(opens)
			return false
		}
		st.NextCheckTime = nil
	}
	st.Message = ""
	st.StartTime = ptrTime(s.now)
	if s.impl(spec) == nil {
		s.failStage(st, fmt.Sprintf("stage type %s is not supported by this version of the operator", spec.Type()))
		return true
	}
	st.Phase = v1alpha1.StageRunning
	s.transition(&before, st)
	n := len(s.res.Transitions)
	s.call(ctx, name, Stage.Start)
	if s.res.Err != nil {
		*st = before // try the whole start again next time
		s.res.Transitions = s.res.Transitions[:n-1]
		return false
	}
	return true
}

// failStage fails a stage that could not start, and applies its onFailure.
func (s *step) failStage(st *v1alpha1.StageStatus, msg string) {
	before := *st.DeepCopy()
	if st.StartTime == nil {
		st.StartTime = ptrTime(s.now)
	}
	st.Phase = v1alpha1.StageFailed
	st.Message = msg
	st.NextCheckTime = nil
	st.EndTime = ptrTime(s.now)
	s.transition(&before, st)
	s.afterFailure(st)
}

// cancel stops every started stage and ends the run as Canceled: spec.cancel is true, or the Execution is
// being deleted (its finalizer holds it until the run is over).
func (s *step) cancel(ctx context.Context) {
	why := "canceled: spec.cancel is true"
	if !s.ex.DeletionTimestamp.IsZero() {
		why = "canceled: the execution is being deleted"
	}
	s.stopOthers(ctx, why)
	if s.res.Err == nil {
		s.finishRun(v1alpha1.ExecutionCanceled, why)
	}
}

// stopOthers tells every started stage to stop and marks it Canceled. Stages held by a window go back to
// plain NotStarted.
func (s *step) stopOthers(ctx context.Context, why string) {
	for _, name := range s.stagesIn(v1alpha1.StageRunning, v1alpha1.StageWaitingForJudgment) {
		if why == "" {
			why = "canceled: " + s.failureMessage()
		}
		st := s.status(name)
		run := s.stageRun(name)
		if err := s.impl(s.specs[name]).Cancel(ctx, run); err != nil {
			s.res.Err = fmt.Errorf("stopping stage %s: %w", name, err)
			return
		}
		before := *st.DeepCopy()
		run.finish(v1alpha1.StageCanceled, why)
		s.transition(&before, st)
	}
	for _, name := range s.held() {
		s.status(name).NextCheckTime = nil
	}
}

// held returns the stages a closed window holds.
func (s *step) held() []string {
	var out []string
	for _, st := range s.ex.Status.Stages {
		if st.Phase == v1alpha1.StageNotStarted && st.NextCheckTime != nil {
			out = append(out, st.Name)
		}
	}
	return out
}

// failureMessage names the failed stages that fail the run, with their messages.
func (s *step) failureMessage() string {
	var msgs []string
	for _, st := range s.ex.Status.Stages {
		if st.Phase == v1alpha1.StageFailed {
			msgs = append(msgs, fmt.Sprintf("stage %s failed: %s", st.Name, st.Message))
		}
	}
	return strings.Join(msgs, "; ")
}

func (s *step) finishRun(p v1alpha1.ExecutionPhase, msg string) {
	s.ex.Status.Phase = p
	s.ex.Status.CompletionTime = ptrTime(s.now)
	s.res.Message = msg
}

// scheduleNext asks for a reconcile when the earliest time-based work is due.
func (s *step) scheduleNext() {
	var next time.Time
	consider := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, st := range s.ex.Status.Stages {
		if st.NextCheckTime != nil {
			consider(st.NextCheckTime.Time)
		}
		if st.Phase == v1alpha1.StageRunning || st.Phase == v1alpha1.StageWaitingForJudgment {
			if d := Timeout(s.specs[st.Name]); d > 0 && st.StartTime != nil {
				consider(st.StartTime.Add(d))
			}
		}
	}
	if next.IsZero() {
		return
	}
	s.res.RequeueAfter = max(next.Sub(s.now), time.Millisecond)
}

func (s *step) transition(before, after *v1alpha1.StageStatus) {
	if before.Phase == after.Phase {
		return
	}
	t := Transition{Stage: after.Name, Type: after.Type, From: before.Phase, To: after.Phase, Message: after.Message}
	if after.EndTime != nil && after.StartTime != nil {
		t.Duration = after.EndTime.Sub(after.StartTime.Time)
	}
	s.res.Transitions = append(s.res.Transitions, t)
}

func (s *step) stagesIn(phases ...v1alpha1.StagePhase) []string {
	var out []string
	for _, st := range s.ex.Status.Stages {
		for _, p := range phases {
			if st.Phase == p {
				out = append(out, st.Name)
			}
		}
	}
	return out
}

func (s *step) status(name string) *v1alpha1.StageStatus {
	for i := range s.ex.Status.Stages {
		if s.ex.Status.Stages[i].Name == name {
			return &s.ex.Status.Stages[i]
		}
	}
	panic("engine: no status for stage " + name) // addMissingStages made one per stage
}

func (s *step) impl(spec *v1alpha1.Stage) Stage { return s.Stages[spec.Type()] }

func (s *step) stageRun(name string) *StageRun {
	return &StageRun{
		Spec:        s.specs[name],
		Status:      s.status(name),
		Execution:   s.ex,
		Now:         s.now,
		Vars:        Vars(s.ex),
		ensureFresh: s.fresh,
		settle:      &s.settling,
	}
}

// InitStages gives a run that starts one NotStarted status per stage of its frozen spec, in order.
func InitStages(ex *v1alpha1.Execution) {
	stages := ex.Status.PipelineSpec.Stages
	ex.Status.Stages = make([]v1alpha1.StageStatus, len(stages))
	for i := range stages {
		ex.Status.Stages[i] = v1alpha1.StageStatus{Name: stages[i].Name, Type: stages[i].Type(), Phase: v1alpha1.StageNotStarted}
	}
}

// addMissingStages gives every stage of the frozen spec a status, so that a status edited by hand cannot
// leave the engine without one.
func addMissingStages(ex *v1alpha1.Execution) {
	for _, st := range ex.Status.PipelineSpec.Stages {
		if !slices.ContainsFunc(ex.Status.Stages, func(s v1alpha1.StageStatus) bool { return s.Name == st.Name }) {
			ex.Status.Stages = append(ex.Status.Stages, v1alpha1.StageStatus{Name: st.Name, Type: st.Type(), Phase: v1alpha1.StageNotStarted})
		}
	}
}

// Vars are the values expressions of a run see.
func Vars(ex *v1alpha1.Execution) expr.Vars {
	stages := make(map[string]any, len(ex.Status.Stages))
	for _, st := range ex.Status.Stages {
		outputs := make(map[string]any, len(st.Outputs))
		for k, raw := range st.Outputs {
			var v any
			if err := json.Unmarshal(raw.Raw, &v); err == nil {
				outputs[k] = v
			}
		}
		stages[st.Name] = map[string]any{
			"name":    st.Name,
			"type":    st.Type,
			"phase":   string(st.Phase),
			"message": st.Message,
			"outputs": outputs,
		}
	}
	execution := map[string]any{
		"name":      ex.Name,
		"namespace": ex.Namespace,
		"pipeline":  ex.Spec.Pipeline,
		"uid":       string(ex.UID),
	}
	if ex.Status.StartTime != nil {
		execution["startTime"] = ex.Status.StartTime.UTC().Format(time.RFC3339)
	}
	return expr.Vars{Parameters: ex.Status.Parameters, Stages: stages, Trigger: TriggerVars(ex), Execution: execution}
}
