package cli

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/cmd/kubectl-gennaker/tree"
)

func newServerGroupsCommand(o *Options) *cobra.Command {
	var all bool
	var output string
	cmd := &cobra.Command{
		Use:     "servergroups [CLUSTER]",
		Aliases: []string{"sg"},
		Short:   "List server groups by cluster and region, newest first: capacity, health, traffic, the run that made them",
		Example: `  kubectl gennaker servergroups
  kubectl gennaker servergroups shop-main`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			s, err := o.session()
			if err != nil {
				return err
			}
			var opts []client.ListOption
			if !all {
				opts = append(opts, client.InNamespace(s.namespace))
			}
			if len(args) == 1 {
				opts = append(opts, client.MatchingLabels{v1alpha1.LabelCluster: args[0]})
			}
			groups := &v1alpha1.ServerGroupList{}
			if err := s.client.List(cmd.Context(), groups, opts...); err != nil {
				return err
			}
			sortGroups(groups.Items)
			if output != "" {
				return s.print(output, groups)
			}
			if len(groups.Items) == 0 {
				_, err := fmt.Fprintln(s.Out, "No server groups found.")
				return err
			}
			return s.groupTable(groups.Items, all).Render(s.Out, s.color())
		},
	}
	addAllNamespacesFlag(cmd, &all)
	addOutputFlag(cmd, &output)
	return cmd
}

// sortGroups orders groups by namespace, cluster, account and region, and within those newest first:
// by creation, since version numbers wrap from 999 to 000.
func sortGroups(items []v1alpha1.ServerGroup) {
	key := func(g *v1alpha1.ServerGroup) [4]string {
		return [4]string{g.Namespace, g.Labels[v1alpha1.LabelCluster], g.Spec.Account, g.Spec.Region}
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := &items[i], &items[j]
		if ka, kb := key(a), key(b); ka != kb {
			for n := range ka {
				if ka[n] != kb[n] {
					return ka[n] < kb[n]
				}
			}
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return b.CreationTimestamp.Before(&a.CreationTimestamp)
		}
		return a.Name > b.Name
	})
}

func (s *session) groupTable(items []v1alpha1.ServerGroup, all bool) tree.Table {
	now := s.Clock.Now()
	t := tree.Table{Header: []string{"CLUSTER", "ACCOUNT", "REGION", "SERVER GROUP", "CAPACITY", "HEALTH", "TRAFFIC", "EXECUTION", "AGE"}}
	if all {
		t.Header = append([]string{"NAMESPACE"}, t.Header...)
	}
	for i := range items {
		g := &items[i]
		c := g.Spec.Capacity
		cells := []tree.Cell{
			{Text: g.Spec.Account},
			{Text: g.Spec.Region},
			{Text: g.Name},
			{Text: fmt.Sprintf("%d (%d-%d)", c.Desired, c.Min, c.Max)},
			groupHealth(g),
			trafficCell(g),
			{Text: orDash(g.Annotations[v1alpha1.AnnotationExecution])},
			{Text: age(now, g.CreationTimestamp)},
		}
		label := orDash(g.Labels[v1alpha1.LabelCluster])
		if all {
			cells = append([]tree.Cell{{Text: label}}, cells...)
			label = g.Namespace
		}
		t.Roots = append(t.Roots, &tree.Node{Label: label, Cells: cells})
	}
	return t
}

// trafficCell is the traffic the group has, and the traffic it is being moved to when they differ.
func trafficCell(g *v1alpha1.ServerGroup) tree.Cell {
	observed, desired := orDash(string(g.Status.Traffic)), string(g.Spec.Traffic)
	text := observed
	if desired != "" && desired != string(g.Status.Traffic) {
		text += " → " + desired
	}
	color := tree.Gray
	if g.Status.Traffic == v1alpha1.TrafficEnabled {
		color = tree.Green
	}
	return tree.Cell{Text: text, Color: color}
}
