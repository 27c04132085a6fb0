package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/cmd/kubectl-gennaker/tree"
)

type getOptions struct {
	watch  bool
	output string
}

func newGetCommand(o *Options) *cobra.Command {
	g := &getOptions{}
	cmd := &cobra.Command{
		Use:   "get EXECUTION",
		Short: "Draw a run's stages as a tree: phase, duration, server groups, waiting judgments",
		Example: `  kubectl gennaker get demo-x7k2p
  kubectl gennaker get demo-x7k2p --watch`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.session()
			if err != nil {
				return err
			}
			if g.watch {
				return s.watch(cmd.Context(), args[0])
			}
			ex, err := s.execution(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.output != "" {
				return s.print(g.output, ex)
			}
			return s.draw(cmd.Context(), s.Out, ex)
		},
	}
	cmd.Flags().BoolVarP(&g.watch, "watch", "w", false, "redraw as the run moves, until it ends")
	addOutputFlag(cmd, &g.output)
	return cmd
}

// world is what a drawing of a run reads besides the run: the namespace's server groups and runs (for
// deploy stages and child runs), read once per drawing.
type world struct {
	groups map[string]*v1alpha1.ServerGroup
	runs   []v1alpha1.Execution
	// pipeline is the run's Pipeline, for a run that has not frozen its spec yet.
	pipeline *v1alpha1.Pipeline
}

func (s *session) world(ctx context.Context, ex *v1alpha1.Execution) (*world, error) {
	w := &world{groups: map[string]*v1alpha1.ServerGroup{}}
	var groups v1alpha1.ServerGroupList
	if err := s.client.List(ctx, &groups, client.InNamespace(ex.Namespace)); err != nil && !apierrors.IsForbidden(err) {
		return nil, err
	}
	for i := range groups.Items {
		w.groups[groups.Items[i].Name] = &groups.Items[i]
	}
	var runs v1alpha1.ExecutionList
	if err := s.client.List(ctx, &runs, client.InNamespace(ex.Namespace)); err != nil {
		return nil, err
	}
	w.runs = runs.Items
	if ex.Status.PipelineSpec == nil {
		p := &v1alpha1.Pipeline{}
		if err := s.client.Get(ctx, client.ObjectKey{Namespace: ex.Namespace, Name: ex.Spec.Pipeline}, p); err == nil {
			w.pipeline = p
		} else if !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
			return nil, err
		}
	}
	return w, nil
}

// draw writes the run: a few lines about it, then its stages as a tree.
func (s *session) draw(ctx context.Context, out io.Writer, ex *v1alpha1.Execution) error {
	w, err := s.world(ctx, ex)
	if err != nil {
		return err
	}
	return s.render(out, ex, w)
}

func (s *session) render(out io.Writer, ex *v1alpha1.Execution, w *world) error {
	now := s.Clock.Now()
	phase := runCell(ex.Status.Phase)
	fields := [][2]string{
		{"Name", ex.Name},
		{"Namespace", ex.Namespace},
		{"Pipeline", ex.Spec.Pipeline},
		{"Status", phase.Text},
	}
	if ex.Status.Message != "" {
		fields = append(fields, [2]string{"Message", flatten(ex.Status.Message)})
	}
	fields = append(fields, [2]string{"Trigger", triggeredBy(ex)})
	if len(ex.Spec.Parameters) > 0 {
		keys := make([]string, 0, len(ex.Spec.Parameters))
		for k := range ex.Spec.Parameters {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			keys[i] = k + "=" + ex.Spec.Parameters[k]
		}
		fields = append(fields, [2]string{"Parameters", strings.Join(keys, " ")})
	}
	if ex.Status.StartTime != nil {
		fields = append(fields, [2]string{"Started", age(now, *ex.Status.StartTime) + " ago"})
		fields = append(fields, [2]string{"Duration", span(now, ex.Status.StartTime, ex.Status.CompletionTime)})
	}
	if ex.Status.CanceledBy != "" {
		fields = append(fields, [2]string{"Canceled by", ex.Status.CanceledBy})
	}
	var b strings.Builder
	for _, f := range fields {
		fmt.Fprintf(&b, "%-12s %s\n", f[0]+":", f[1])
	}
	b.WriteByte('\n')
	if _, err := io.WriteString(out, b.String()); err != nil {
		return err
	}
	t := tree.Table{
		Header: []string{"STAGE", "STATUS", "TYPE", "DURATION", "MESSAGE"},
		Roots:  s.stageNodes(ex, w, 0),
	}
	return t.Render(out, s.color())
}

// stageNodes are the run's stages layered by dependsOn: a layer of one stage is that stage, a layer of
// several is a "parallel" row with the stages under it.
func (s *session) stageNodes(ex *v1alpha1.Execution, w *world, depth int) []*tree.Node {
	var out []*tree.Node
	for _, layer := range layers(stagesOf(ex, w.pipeline)) {
		nodes := make([]*tree.Node, 0, len(layer))
		for _, st := range layer {
			nodes = append(nodes, s.stageNode(ex, st, w, depth))
		}
		if len(nodes) == 1 {
			out = append(out, nodes[0])
			continue
		}
		out = append(out, &tree.Node{Label: "parallel", Children: nodes})
	}
	return out
}

func (s *session) stageNode(ex *v1alpha1.Execution, st v1alpha1.Stage, w *world, depth int) *tree.Node {
	now := s.Clock.Now()
	status := stageStatus(ex, st.Name)
	n := &tree.Node{
		Label: st.Name,
		Cells: []tree.Cell{
			stageCell(status.Phase),
			{Text: st.Type()},
			{Text: span(now, status.StartTime, status.EndTime)},
			{Text: flatten(status.Message)},
		},
	}
	switch {
	case st.ManualJudgment != nil:
		n.Notes = judgmentNotes(ex, st, status)
	case st.Deploy != nil:
		n.Children = groupNodes(status, w)
	case st.Pipeline != nil && depth < v1alpha1.MaxPipelineDepth:
		if child := childRun(ex, st.Name, w); child != nil {
			n.Children = []*tree.Node{{
				Label:    "↳ " + child.Name,
				Cells:    []tree.Cell{runCell(child.Status.Phase), {Text: "execution"}, {Text: span(now, child.Status.StartTime, child.Status.CompletionTime)}, {Text: flatten(child.Status.Message)}},
				Children: s.stageNodes(child, &world{groups: w.groups, runs: w.runs}, depth+1),
			}}
		}
	}
	return n
}

// judgmentNotes are what a person needs to decide a waiting judgment, or the decision once made.
func judgmentNotes(ex *v1alpha1.Execution, st v1alpha1.Stage, status v1alpha1.StageStatus) []string {
	if c := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionJudged); c != nil {
		return []string{"Judged: " + flatten(c.Message)}
	}
	if status.Phase != v1alpha1.StageWaitingForJudgment {
		return nil
	}
	mj := st.ManualJudgment
	var notes []string
	if mj.Instructions != "" {
		notes = append(notes, "Instructions: "+flatten(mj.Instructions))
	}
	approve := fmt.Sprintf("kubectl gennaker approve -n %s %s %s", ex.Namespace, ex.Name, st.Name)
	if len(mj.Inputs) > 0 {
		notes = append(notes, "Inputs:       "+strings.Join(mj.Inputs, ", "))
		approve += " --input " + quoteArg(mj.Inputs[0])
	}
	notes = append(notes,
		"Approvers:    "+approvers(mj.Approvers),
		"Approve:      "+approve,
		fmt.Sprintf("Reject:       kubectl gennaker reject -n %s %s %s", ex.Namespace, ex.Name, st.Name))
	return notes
}

// deployedGroup is one entry of a deploy stage's serverGroups output.
type deployedGroup struct {
	Account             string `json:"account"`
	Region              string `json:"region"`
	Cluster             string `json:"cluster"`
	ServerGroup         string `json:"serverGroup"`
	PreviousServerGroup string `json:"previousServerGroup"`
}

// groupNodes are the server groups a deploy stage made, each after the group it replaces, as the
// ServerGroups show them now.
func groupNodes(status v1alpha1.StageStatus, w *world) []*tree.Node {
	raw, ok := status.Outputs["serverGroups"]
	if !ok {
		return nil
	}
	var deployed []deployedGroup
	if err := json.Unmarshal(raw.Raw, &deployed); err != nil {
		return []*tree.Node{{Label: "?", Cells: []tree.Cell{{}, {}, {}, {Text: "outputs.serverGroups is unreadable: " + err.Error()}}}}
	}
	var out []*tree.Node
	for _, d := range deployed {
		where := d.Account + "/" + d.Region
		if d.PreviousServerGroup != "" {
			out = append(out, groupNode(d.PreviousServerGroup, where+", previous", w))
		}
		if d.ServerGroup != "" {
			out = append(out, groupNode(d.ServerGroup, where+", new", w))
		}
	}
	return out
}

func groupNode(name, where string, w *world) *tree.Node {
	sg, ok := w.groups[name]
	if !ok {
		return &tree.Node{Label: name, Cells: []tree.Cell{{Text: "⊘ Deleted", Color: tree.Gray}, {Text: "serverGroup"}, {}, {Text: where}}}
	}
	return &tree.Node{Label: name, Cells: []tree.Cell{groupHealth(sg), {Text: "serverGroup"}, {}, {Text: fmt.Sprintf("%s: desired %d, healthy %d, traffic %s",
		where, sg.Spec.Capacity.Desired, sg.Status.Instances.Healthy, orDash(string(sg.Status.Traffic)))}}}
}

// groupHealth is a server group's health in a word: Healthy once every desired instance passes the load
// balancer's checks.
func groupHealth(sg *v1alpha1.ServerGroup) tree.Cell {
	desired, healthy := sg.Spec.Capacity.Desired, sg.Status.Instances.Healthy
	switch {
	case desired == 0 && healthy == 0:
		return tree.Cell{Text: "○ Empty", Color: tree.Gray}
	case healthy >= desired:
		return tree.Cell{Text: "✔ Healthy", Color: tree.Green}
	}
	return tree.Cell{Text: fmt.Sprintf("◷ %d/%d healthy", healthy, desired), Color: tree.Blue}
}

// childRun is the run a pipeline stage started, found by the annotations the stage puts on it.
func childRun(ex *v1alpha1.Execution, stage string, w *world) *v1alpha1.Execution {
	for i := range w.runs {
		r := &w.runs[i]
		if r.Annotations[v1alpha1.AnnotationParentExecution] == ex.Name && r.Annotations[v1alpha1.AnnotationParentStage] == stage {
			return r
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// minRedraw spaces redraws: a watch can deliver many events a second, a person reads a few frames.
const minRedraw = 250 * time.Millisecond
