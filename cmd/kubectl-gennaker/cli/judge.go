package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

type judgeKind struct {
	use, short, done string
	decision         v1alpha1.Decision
}

var (
	judgeApprove = judgeKind{"approve", "Approve a waiting manual judgment (decision Continue)", "approved", v1alpha1.DecisionContinue}
	judgeReject  = judgeKind{"reject", "Reject a waiting manual judgment (decision Stop)", "rejected", v1alpha1.DecisionStop}
)

func newJudgeCommand(o *Options, k judgeKind) *cobra.Command {
	var input, comment string
	cmd := &cobra.Command{
		Use:   k.use + " EXECUTION [STAGE]",
		Short: k.short,
		Long: k.short + `.

STAGE may be left out when exactly one judgment of the run waits. The decision is written into the run's
spec.judgments with a merge patch; the API server's admission stamps who decided, and refuses the
decision of someone the stage's approvers do not list.`,
		Example: fmt.Sprintf(`  kubectl gennaker %s demo-x7k2p
  kubectl gennaker %s demo-x7k2p go-no-go --input ship --comment "canary scores look right"`, k.use, k.use),
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.session()
			if err != nil {
				return err
			}
			stage := ""
			if len(args) == 2 {
				stage = args[1]
			}
			return s.judge(cmd.Context(), args[0], stage, v1alpha1.Judgment{Decision: k.decision, Input: input, Comment: comment}, k.done)
		},
	}
	cmd.Flags().StringVar(&input, "input", "", "one of the stage's inputs, read by later stages as stages['STAGE'].outputs.input")
	cmd.Flags().StringVar(&comment, "comment", "", "a comment kept with the decision")
	return cmd
}

func (s *session) judge(ctx context.Context, name, stage string, j v1alpha1.Judgment, done string) error {
	ex, err := s.execution(ctx, name)
	if err != nil {
		return err
	}
	stage, err = waitingJudgment(ex, stage)
	if err != nil {
		return err
	}
	body, err := json.Marshal(map[string]any{"spec": map[string]any{"judgments": map[string]v1alpha1.Judgment{stage: j}}})
	if err != nil {
		return err
	}
	if err := s.client.Patch(ctx, ex, client.RawPatch(types.MergePatchType, body)); err != nil {
		return err
	}
	what := string(j.Decision)
	if j.Input != "" {
		what += ", input " + j.Input
	}
	by := ex.Spec.Judgments[stage].JudgedBy
	if by != "" {
		what += ", by " + by
	}
	_, err = fmt.Fprintf(s.Out, "%s %s on %s (%s)\n", stage, done, ex.Name, what)
	return err
}

// waitingJudgment checks that stage is a judgment of the run that waits for a decision, or, stage being
// empty, finds the one that does.
func waitingJudgment(ex *v1alpha1.Execution, stage string) (string, error) {
	stages := stagesOf(ex, nil)
	if stage == "" {
		var waiting []string
		for _, st := range ex.Status.Stages {
			if st.Phase == v1alpha1.StageWaitingForJudgment {
				waiting = append(waiting, st.Name)
			}
		}
		switch len(waiting) {
		case 0:
			return "", fmt.Errorf("no judgment of %s waits (the run is %s)", ex.Name, orDash(string(ex.Status.Phase)))
		case 1:
			return waiting[0], nil
		}
		return "", fmt.Errorf("%s judgments of %s wait (%s): name the stage", fmt.Sprint(len(waiting)), ex.Name, strings.Join(waiting, ", "))
	}
	spec, ok := stageSpec(stages, stage)
	if !ok {
		return "", fmt.Errorf("%s has no stage %s", ex.Name, stage)
	}
	if spec.ManualJudgment == nil {
		return "", fmt.Errorf("stage %s of %s is a %s stage, not a manual judgment", stage, ex.Name, spec.Type())
	}
	status := stageStatus(ex, stage)
	if c := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionJudged); c != nil {
		return "", fmt.Errorf("stage %s of %s was already judged: %s", stage, ex.Name, flatten(c.Message))
	}
	if j, ok := ex.Spec.Judgments[stage]; ok {
		return "", fmt.Errorf("stage %s of %s was already judged: %s by %s", stage, ex.Name, j.Decision, orDash(j.JudgedBy))
	}
	if status.Phase != v1alpha1.StageWaitingForJudgment {
		return "", fmt.Errorf("stage %s of %s is not waiting for a judgment: it is %s", stage, ex.Name, status.Phase)
	}
	return stage, nil
}
