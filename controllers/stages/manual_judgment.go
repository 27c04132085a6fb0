package stages

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// ManualJudgment waits for a person's decision in the Execution's spec.judgments. A decision made before
// the stage started is applied as soon as it starts.
type ManualJudgment struct{}

// Start waits for, or applies, the decision.
func (m ManualJudgment) Start(ctx context.Context, s *engine.StageRun) error { return m.Check(ctx, s) }

// Check applies the decision once there is one. The decision becomes a Judged condition on the stage, and
// its input, decision, comment and who decided become outputs. Who and when come from the admission
// webhook's stamps (judgedBy, judgedAt), never from the reconcile: a late reconcile still records the time
// the person decided.
func (ManualJudgment) Check(_ context.Context, s *engine.StageRun) error {
	mj := s.Spec.ManualJudgment
	j, ok := s.Execution.Spec.Judgments[s.Spec.Name]
	if !ok {
		s.WaitForJudgment(Instructions(s.Spec))
		return nil
	}
	msg := judgmentMessage(j, s.Now)
	s.SetCondition(metav1.Condition{
		Type:               v1alpha1.ConditionJudged,
		Status:             metav1.ConditionTrue,
		Reason:             string(j.Decision),
		Message:            msg,
		ObservedGeneration: s.Execution.Generation,
		LastTransitionTime: metav1.NewTime(s.Now),
	})
	for k, v := range map[string]string{"decision": string(j.Decision), "input": j.Input, "comment": j.Comment, "judgedBy": j.JudgedBy} {
		if err := s.SetOutput(k, v); err != nil {
			return err
		}
	}
	switch {
	case j.Decision == v1alpha1.DecisionStop:
		s.Fail("stopped by judgment: " + msg)
	case j.Input != "" && len(mj.Inputs) > 0 && !slices.Contains(mj.Inputs, j.Input):
		// Admission refuses such an input; one that got in while the webhook was off cannot be changed
		// either (a decision is final), so waiting for a better one would wait forever.
		s.Fail(fmt.Sprintf("judgment input %q is not one of the stage's inputs: %s", j.Input, strings.Join(mj.Inputs, ", ")))
	default:
		s.Succeed("continued by judgment: " + msg)
	}
	return nil
}

// DecidedAt is when the decision reached the API server, as admission stamped it. A judgment without the
// stamp (written while the webhook was not installed) counts from when the controller first saw it.
func (ManualJudgment) DecidedAt(s *engine.StageRun) (time.Time, bool) {
	j, ok := s.Execution.Spec.Judgments[s.Spec.Name]
	if !ok {
		return time.Time{}, false
	}
	return decidedAt(j, s.Now), true
}

func decidedAt(j v1alpha1.Judgment, seen time.Time) time.Time {
	if j.JudgedAt != nil {
		return j.JudgedAt.Time
	}
	return seen
}

// judgmentMessage says what was decided, by whom and when, as `kubectl describe` shows it: "Continue by
// alice at 2026-01-02T15:04:05Z, input "ship", comment "ok"".
func judgmentMessage(j v1alpha1.Judgment, seen time.Time) string {
	msg := string(j.Decision)
	if j.JudgedBy != "" {
		// Not the groups: there may be dozens, and judgedGroups keeps them.
		msg += " by " + j.JudgedBy
	}
	msg += " at " + decidedAt(j, seen).UTC().Format(time.RFC3339)
	if j.Input != "" {
		msg += fmt.Sprintf(", input %q", j.Input)
	}
	if j.Comment != "" {
		msg += fmt.Sprintf(", comment %q", j.Comment)
	}
	return msg
}

// Cancel has nothing to stop.
func (ManualJudgment) Cancel(context.Context, *engine.StageRun) error { return nil }

// Instructions is what the people who decide are told, with the inputs they may give.
func Instructions(st *v1alpha1.Stage) string {
	mj := st.ManualJudgment
	msg := fmt.Sprintf("stage %s waits for a judgment", st.Name)
	if mj.Instructions != "" {
		msg += ": " + mj.Instructions
	}
	if len(mj.Inputs) > 0 {
		msg += fmt.Sprintf(" (inputs: %s)", strings.Join(mj.Inputs, ", "))
	}
	return msg
}
