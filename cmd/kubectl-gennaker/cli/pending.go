package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/cmd/kubectl-gennaker/tree"
)

func newPendingCommand(o *Options) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "pending",
		Short: "List the manual judgments that wait for a decision, and who may decide them",
		Example: `  kubectl gennaker pending
  kubectl gennaker pending -A`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.session()
			if err != nil {
				return err
			}
			runs, err := s.runs(cmd.Context(), all)
			if err != nil {
				if all {
					return fmt.Errorf("%s (without -A, pending looks in the current namespace only)", oneLine(err))
				}
				return err
			}
			now := s.Clock.Now()
			t := tree.Table{Header: []string{"EXECUTION", "STAGE", "WAITING", "APPROVERS", "INPUTS", "INSTRUCTIONS"}}
			if all {
				t.Header = append([]string{"NAMESPACE"}, t.Header...)
			}
			for i := range runs.Items {
				r := &runs.Items[i]
				for _, st := range r.Status.Stages {
					if st.Phase != v1alpha1.StageWaitingForJudgment {
						continue
					}
					spec, _ := stageSpec(stagesOf(r, nil), st.Name)
					mj := spec.ManualJudgment
					if mj == nil {
						mj = &v1alpha1.ManualJudgmentStage{}
					}
					cells := []tree.Cell{
						{Text: st.Name},
						{Text: orDash(span(now, st.StartTime, nil))},
						{Text: approvers(mj.Approvers)},
						{Text: orDash(strings.Join(mj.Inputs, ", "))},
						{Text: flatten(mj.Instructions)},
					}
					label := r.Name
					if all {
						label = r.Namespace
						cells = append([]tree.Cell{{Text: r.Name}}, cells...)
					}
					t.Roots = append(t.Roots, &tree.Node{Label: label, Cells: cells})
				}
			}
			if len(t.Roots) == 0 {
				where := "in namespace " + s.namespace
				if all {
					where = "in any namespace"
				}
				_, err := fmt.Fprintf(s.Out, "No judgment waits %s.\n", where)
				return err
			}
			return t.Render(s.Out, s.color())
		},
	}
	addAllNamespacesFlag(cmd, &all)
	return cmd
}
