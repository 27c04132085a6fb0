package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/index"
	"github.com/gennaker/gennaker/controllers/trigger"
)

// maxParentOutputs bounds the parent's outputs a pipeline trigger copies into its run's annotation: the
// API server allows 256 KiB of annotations in all. Larger outputs are left out, with a Warning Event.
const maxParentOutputs = 64 << 10

// maxHandled bounds status.triggers[].pipeline.handled, the runs finished in the same second.
const maxHandled = 32

// runPipelineTrigger starts one run of pl for each run of the watched pipeline that finished, in one of
// the trigger's phases, since the trigger last looked. The first look records the time only: runs finished
// before the trigger existed start nothing. How far it got is in the status (a completion time, and the
// runs handled at that second), so a finished run starts at most one run even after its child was pruned
// by the history limit; the child's name is derived from the parent's, so a restart between creating it
// and recording that gets AlreadyExists.
func (r *Reconciler) runPipelineTrigger(ctx context.Context, pl *v1alpha1.Pipeline, index int, prev *v1alpha1.TriggerStatus, now time.Time, out *triggerOutcome) {
	tr := &pl.Spec.Triggers[index]
	st := v1alpha1.TriggerStatus{Index: int32(index), Name: tr.Name}
	if prev == nil || prev.Pipeline == nil || prev.Name != tr.Name {
		st.Pipeline = &v1alpha1.PipelineTriggerStatus{Since: metav1.Time{Time: now.Truncate(time.Second)}}
		out.statuses = append(out.statuses, st)
		return
	}
	st.Pipeline = prev.Pipeline.DeepCopy()
	defer func() { out.statuses = append(out.statuses, st) }()

	finished, err := r.finishedRuns(ctx, pl.Namespace, tr.Pipeline, st.Pipeline)
	if err != nil {
		out.errs = append(out.errs, err)
		return
	}
	for i := range finished {
		parent := &finished[i]
		if err := r.startAfter(ctx, pl, index, parent); err != nil {
			out.errs = append(out.errs, err)
			return // the status stops short of this parent: the next pass tries it again
		}
		done := parent.Status.CompletionTime.Time
		if done.After(st.Pipeline.Since.Time) {
			st.Pipeline.Since, st.Pipeline.Handled = metav1.Time{Time: done}, nil
		}
		if len(st.Pipeline.Handled) < maxHandled {
			st.Pipeline.Handled = append(st.Pipeline.Handled, parent.Name)
		}
	}
}

// finishedRuns are the runs of the watched pipeline that finished in one of the trigger's phases and
// were not handled yet, in the order they finished.
func (r *Reconciler) finishedRuns(ctx context.Context, ns string, t *v1alpha1.PipelineTrigger, st *v1alpha1.PipelineTriggerStatus) ([]v1alpha1.Execution, error) {
	var runs v1alpha1.ExecutionList
	if err := r.List(ctx, &runs, client.InNamespace(ns), client.MatchingFields{index.ExecutionPipeline: t.Pipeline}); err != nil {
		return nil, err
	}
	phases := t.Phases
	if len(phases) == 0 {
		phases = []v1alpha1.ExecutionPhase{v1alpha1.ExecutionSucceeded}
	}
	var out []v1alpha1.Execution
	for _, ex := range runs.Items {
		done := ex.Status.CompletionTime
		if done == nil || !slices.Contains(phases, ex.Status.Phase) || done.Before(&st.Since) ||
			(done.Equal(&st.Since) && slices.Contains(st.Handled, ex.Name)) {
			continue
		}
		out = append(out, ex)
	}
	slices.SortFunc(out, func(a, b v1alpha1.Execution) int {
		if c := a.Status.CompletionTime.Compare(b.Status.CompletionTime.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// startAfter starts the run of pl that parent's finishing calls for, with parent's artifacts and outputs.
// A chain of pipeline triggers that comes back to pl (A starts B, B starts A) stops there, with a Warning
// Event, rather than run forever.
func (r *Reconciler) startAfter(ctx context.Context, pl *v1alpha1.Pipeline, index int, parent *v1alpha1.Execution) error {
	var chain []string
	if c := parent.Annotations[v1alpha1.AnnotationPipelineChain]; c != "" {
		chain = strings.Split(c, ",")
	}
	chain = append(chain, parent.Spec.Pipeline)
	if slices.Contains(chain, pl.Name) || len(chain) >= v1alpha1.MaxPipelineDepth {
		r.Recorder.Eventf(pl, parent, corev1.EventTypeWarning, ReasonTriggerFailed, "Trigger",
			"pipeline trigger %d did not start a run after %s: the chain %s would loop or nest more than %d deep",
			index, parent.Name, strings.Join(append(chain, pl.Name), " -> "), v1alpha1.MaxPipelineDepth)
		return nil
	}
	ann := map[string]string{
		v1alpha1.AnnotationParentExecution: parent.Name,
		v1alpha1.AnnotationPipelineChain:   strings.Join(chain, ","),
	}
	if outputs, err := parentOutputs(parent); err != nil {
		log.FromContext(ctx).Info("left the parent's outputs out of the triggered run", "parent", parent.Name, "reason", err.Error())
		r.Recorder.Eventf(pl, parent, corev1.EventTypeWarning, ReasonTriggerFailed, "Trigger",
			"pipeline trigger %d left the outputs of %s out of its run: %v", index, parent.Name, err)
	} else if outputs != "" {
		ann[v1alpha1.AnnotationParentOutputs] = outputs
	}
	_, err := r.start(ctx, pl, trigger.Run{
		Type: v1alpha1.TriggerPipeline, Index: index, Key: parent.Name, Annotations: ann,
		Artifacts: parent.Spec.Artifacts,
	}, fmt.Sprintf("after %s finished %s", parent.Name, parent.Status.Phase))
	return err
}

// parentOutputs is the JSON {stage: outputs} of a finished run's stages that have outputs.
func parentOutputs(parent *v1alpha1.Execution) (string, error) {
	outputs := map[string]map[string]apiextensionsv1.JSON{}
	for _, st := range parent.Status.Stages {
		if len(st.Outputs) > 0 {
			outputs[st.Name] = st.Outputs
		}
	}
	if len(outputs) == 0 {
		return "", nil
	}
	raw, err := json.Marshal(outputs)
	if err != nil {
		return "", err
	}
	if len(raw) > maxParentOutputs {
		return "", fmt.Errorf("%d bytes, more than %d", len(raw), maxParentOutputs)
	}
	return string(raw), nil
}

// pipelinesTriggeredBy maps a run to the Pipelines of its namespace whose pipeline triggers watch its
// pipeline, from the cache.
func (r *Reconciler) pipelinesTriggeredBy(ctx context.Context, o client.Object) []reconcile.Request {
	ex, ok := o.(*v1alpha1.Execution)
	if !ok || ex.Status.CompletionTime == nil {
		return nil
	}
	var pls v1alpha1.PipelineList
	if err := r.List(ctx, &pls, client.InNamespace(ex.Namespace)); err != nil {
		log.FromContext(ctx).Error(err, "listing the pipelines a finished run may trigger", "execution", ex.Name)
		return nil
	}
	var out []reconcile.Request
	for _, pl := range pls.Items {
		if slices.ContainsFunc(pl.Spec.Triggers, func(t v1alpha1.Trigger) bool { return t.Pipeline != nil && t.Pipeline.Pipeline == ex.Spec.Pipeline }) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: pl.Namespace, Name: pl.Name}})
		}
	}
	return out
}
