package cli

import (
	"context"
	"sort"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/cmd/kubectl-gennaker/tree"
)

type listOptions struct {
	allNamespaces bool
	output        string
}

func newListCommand(o *Options) *cobra.Command {
	lo := &listOptions{}
	cmd := &cobra.Command{
		Use:   "list [PIPELINE]",
		Short: "List runs, newest first: phase, current stage, what waits, when, who triggered",
		Example: `  kubectl gennaker list
  kubectl gennaker list demo
  kubectl gennaker list -A`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(lo.output); err != nil {
				return err
			}
			s, err := o.session()
			if err != nil {
				return err
			}
			runs, err := s.runs(cmd.Context(), lo.allNamespaces)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				kept := runs.Items[:0]
				for _, r := range runs.Items {
					if r.Spec.Pipeline == args[0] {
						kept = append(kept, r)
					}
				}
				runs.Items = kept
			}
			if lo.output != "" {
				return s.print(lo.output, runs)
			}
			return s.listTable(runs.Items, lo.allNamespaces).Render(s.Out, s.color())
		},
	}
	addAllNamespacesFlag(cmd, &lo.allNamespaces)
	addOutputFlag(cmd, &lo.output)
	return cmd
}

func addAllNamespacesFlag(cmd *cobra.Command, all *bool) {
	cmd.Flags().BoolVarP(all, "all-namespaces", "A", false, "every namespace, not only the current one")
}

// runs are the runs of the namespace, or of every namespace, newest first.
func (s *session) runs(ctx context.Context, all bool) (*v1alpha1.ExecutionList, error) {
	var opts []client.ListOption
	if !all {
		opts = append(opts, client.InNamespace(s.namespace))
	}
	runs := &v1alpha1.ExecutionList{}
	if err := s.client.List(ctx, runs, opts...); err != nil {
		return nil, err
	}
	sort.SliceStable(runs.Items, func(i, j int) bool {
		a, b := runs.Items[i], runs.Items[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return b.CreationTimestamp.Before(&a.CreationTimestamp)
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name > b.Name
	})
	return runs, nil
}

func (s *session) listTable(runs []v1alpha1.Execution, all bool) tree.Table {
	now := s.Clock.Now()
	t := tree.Table{Header: []string{"NAME", "PIPELINE", "STATUS", "STAGE", "WAITING", "STARTED", "DURATION", "TRIGGER"}}
	if all {
		t.Header = append([]string{"NAMESPACE"}, t.Header...)
	}
	for i := range runs {
		r := &runs[i]
		started := ""
		if r.Status.StartTime != nil {
			started = age(now, *r.Status.StartTime) + " ago"
		}
		cells := []tree.Cell{
			{Text: r.Spec.Pipeline},
			runCell(r.Status.Phase),
			{Text: orDash(r.Status.CurrentStage)},
			{Text: orDash(r.Status.AwaitingJudgment)},
			{Text: orDash(started)},
			{Text: orDash(span(now, r.Status.StartTime, r.Status.CompletionTime))},
			{Text: triggeredBy(r)},
		}
		label := r.Name
		if all {
			label = r.Namespace
			cells = append([]tree.Cell{{Text: r.Name}}, cells...)
		}
		t.Roots = append(t.Roots, &tree.Node{Label: label, Cells: cells})
	}
	return t
}
