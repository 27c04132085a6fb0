package execution

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/stages"
	"github.com/gennaker/gennaker/controllers/status"
)

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
	if ex.Status.Phase.Running() {
		// The engine's phase is Running; AwaitingJudgment only shows that a person is waited for.
		ex.Status.Phase = v1alpha1.ExecutionRunning
		if len(waiting) > 0 {
			ex.Status.Phase = v1alpha1.ExecutionAwaitingJudgment
		}
	}
	switch ex.Status.Phase {
	case v1alpha1.ExecutionRunning, v1alpha1.ExecutionAwaitingJudgment:
		what := "running stages " + ex.Status.CurrentStage
		if len(waiting) > 0 {
			what = "waiting for a judgment on " + ex.Status.AwaitingJudgment
		} else if len(current) == 0 {
			what = "waiting for an execution window"
		}
		status.Set(ex, v1alpha1.ConditionReady, metav1.ConditionFalse, ReasonRunning, what)
		status.SetProgress(ex, status.Working, ReasonRunning, what)
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
	ex.Status.Message = status.Message(ex, v1alpha1.ConditionReady)
	if ex.Status.Phase == v1alpha1.ExecutionAwaitingJudgment {
		ex.Status.Message = status.Message(ex, v1alpha1.ConditionAwaitingJudgment)
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
	status.SetProgress(ex, status.Working, reason, msg)
	status.Set(ex, v1alpha1.ConditionSucceeded, metav1.ConditionUnknown, reason, msg)
}

// setOutcome records the end of a run in the kstatus way: Reconciling False, and Stalled True for a run
// that did not succeed, so Argo CD and Flux see it as failed.
func setOutcome(ex *v1alpha1.Execution, reason, msg string) {
	ready, progress := metav1.ConditionFalse, status.Stuck
	if reason == ReasonSucceeded {
		ready, progress = metav1.ConditionTrue, status.Settled
	}
	status.Set(ex, v1alpha1.ConditionReady, ready, reason, msg)
	status.Set(ex, v1alpha1.ConditionSucceeded, ready, reason, msg)
	status.SetProgress(ex, progress, reason, msg)
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
