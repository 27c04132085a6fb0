package cli

import (
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/cmd/kubectl-gennaker/tree"
)

// look is how a phase is shown: an icon and its word, so that it reads without color too.
type look struct {
	icon  string
	color tree.Color
}

var stageLooks = map[v1alpha1.StagePhase]look{
	v1alpha1.StageNotStarted:         {"○", tree.Gray},
	v1alpha1.StageRunning:            {"◷", tree.Blue},
	v1alpha1.StageWaitingForJudgment: {"⏸", tree.Yellow},
	v1alpha1.StageSucceeded:          {"✔", tree.Green},
	v1alpha1.StageFailed:             {"✖", tree.Red},
	v1alpha1.StageFailedContinue:     {"⚠", tree.Yellow},
	v1alpha1.StageSkipped:            {"↷", tree.Gray},
	v1alpha1.StageCanceled:           {"⊘", tree.Gray},
}

var runLooks = map[v1alpha1.ExecutionPhase]look{
	v1alpha1.ExecutionQueued:           {"○", tree.Gray},
	v1alpha1.ExecutionRunning:          {"◷", tree.Blue},
	v1alpha1.ExecutionAwaitingJudgment: {"⏸", tree.Yellow},
	v1alpha1.ExecutionSucceeded:        {"✔", tree.Green},
	v1alpha1.ExecutionFailed:           {"✖", tree.Red},
	v1alpha1.ExecutionCanceled:         {"⊘", tree.Gray},
}

func stageCell(p v1alpha1.StagePhase) tree.Cell {
	if p == "" {
		p = v1alpha1.StageNotStarted
	}
	l, ok := stageLooks[p]
	if !ok {
		l = look{"?", tree.None}
	}
	return tree.Cell{Text: l.icon + " " + string(p), Color: l.color}
}

func runCell(p v1alpha1.ExecutionPhase) tree.Cell {
	if p == "" {
		p = v1alpha1.ExecutionQueued
	}
	l, ok := runLooks[p]
	if !ok {
		l = look{"?", tree.None}
	}
	return tree.Cell{Text: l.icon + " " + string(p), Color: l.color}
}

// finished says whether a run has ended.
func finished(p v1alpha1.ExecutionPhase) bool {
	return p == v1alpha1.ExecutionSucceeded || p == v1alpha1.ExecutionFailed || p == v1alpha1.ExecutionCanceled
}

// span is how long something took, or has taken so far; "" when it has not started.
func span(now time.Time, start, end *metav1.Time) string {
	if start == nil {
		return ""
	}
	stop := now
	if end != nil {
		stop = end.Time
	}
	return duration.HumanDuration(stop.Sub(start.Time))
}

// age is how long ago t was, as kubectl get shows it.
func age(now time.Time, t metav1.Time) string {
	if t.IsZero() {
		return ""
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// triggeredBy says what started a run, and who: from status.trigger, or the annotations admission and the
// operator set when the run has not started yet.
func triggeredBy(ex *v1alpha1.Execution) string {
	t := ex.Status.Trigger
	if t == nil {
		t = &v1alpha1.ExecutionTrigger{
			Type:            ex.Annotations[v1alpha1.AnnotationTrigger],
			User:            ex.Annotations[v1alpha1.AnnotationCreatedBy],
			ParentExecution: ex.Annotations[v1alpha1.AnnotationParentExecution],
			ParentStage:     ex.Annotations[v1alpha1.AnnotationParentStage],
		}
		if t.Type == "" {
			t.Type = v1alpha1.TriggerManual
		}
	}
	s := t.Type
	if t.Name != "" {
		s += " " + t.Name
	}
	switch {
	case t.User != "":
		s += " by " + t.User
	case t.ParentExecution != "":
		s += " from " + t.ParentExecution
		if t.ParentStage != "" {
			s += "/" + t.ParentStage
		}
	}
	return s
}

// stagesOf is the run's graph: the pipeline spec frozen into the run, or the Pipeline's own while the
// run is queued and has frozen none yet.
func stagesOf(ex *v1alpha1.Execution, pipeline *v1alpha1.Pipeline) []v1alpha1.Stage {
	if ex.Status.PipelineSpec != nil {
		return ex.Status.PipelineSpec.Stages
	}
	if pipeline != nil {
		return pipeline.Spec.Stages
	}
	return nil
}

// layers orders stages by depth in the dependsOn graph: a stage's layer is one past its deepest
// dependency, so the stages of one layer can run side by side. Stages keep the pipeline's order within a
// layer; a dependency on an unknown stage (refused at apply time) counts as none, and a cycle (refused as
// well) stops the count rather than loop.
func layers(stages []v1alpha1.Stage) [][]v1alpha1.Stage {
	byName := make(map[string]v1alpha1.Stage, len(stages))
	for _, s := range stages {
		byName[s.Name] = s
	}
	depth := map[string]int{}
	var visit func(name string, seen []string) int
	visit = func(name string, seen []string) int {
		if d, ok := depth[name]; ok {
			return d
		}
		if slices.Contains(seen, name) {
			return 0
		}
		d := 0
		for _, dep := range byName[name].DependsOn {
			if _, ok := byName[dep]; ok {
				d = max(d, visit(dep, append(seen, name))+1)
			}
		}
		depth[name] = d
		return d
	}
	var out [][]v1alpha1.Stage
	for _, s := range stages {
		d := visit(s.Name, nil)
		for len(out) <= d {
			out = append(out, nil)
		}
		out[d] = append(out[d], s)
	}
	return out
}

// approvers says who may decide a judgment.
func approvers(a *v1alpha1.Approvers) string {
	if a == nil || len(a.Users)+len(a.Groups) == 0 {
		return "anyone who may patch the run"
	}
	var parts []string
	if len(a.Users) > 0 {
		parts = append(parts, "users "+strings.Join(a.Users, ", "))
	}
	if len(a.Groups) > 0 {
		parts = append(parts, "groups "+strings.Join(a.Groups, ", "))
	}
	return strings.Join(parts, "; ")
}

// stageStatus is the status of the named stage, or one NotStarted.
func stageStatus(ex *v1alpha1.Execution, name string) v1alpha1.StageStatus {
	for _, s := range ex.Status.Stages {
		if s.Name == name {
			return s
		}
	}
	return v1alpha1.StageStatus{Name: name, Phase: v1alpha1.StageNotStarted}
}

// stageSpec is the named stage of the run's graph.
func stageSpec(stages []v1alpha1.Stage, name string) (v1alpha1.Stage, bool) {
	for _, s := range stages {
		if s.Name == name {
			return s, true
		}
	}
	return v1alpha1.Stage{}, false
}

func quoteArg(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@=", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
