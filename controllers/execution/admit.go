package execution

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/controllers/validation"
)

// admit starts a Queued run when it may start: the Pipeline exists, no earlier run of it is unfinished
// (limitConcurrent), and the parameters resolve. It freezes the Pipeline's spec into the status.
func (r *Reconciler) admit(ctx context.Context, ex *v1alpha1.Execution, now time.Time) error {
	if ex.Spec.Cancel {
		ex.Status.Phase = v1alpha1.ExecutionCanceled
		ex.Status.CompletionTime = ptr.To(metav1.NewTime(now))
		setOutcome(ex, ReasonCanceled, "canceled before it started")
		return nil
	}
	ex.Status.Phase = v1alpha1.ExecutionQueued
	var pl v1alpha1.Pipeline
	if err := r.Get(ctx, types.NamespacedName{Namespace: ex.Namespace, Name: ex.Spec.Pipeline}, &pl); err != nil {
		if apierrors.IsNotFound(err) {
			setQueued(ex, ReasonPipelineNotFound, fmt.Sprintf("pipeline %s does not exist in namespace %s", ex.Spec.Pipeline, ex.Namespace))
			return nil
		}
		return err
	}
	if ptr.Deref(pl.Spec.LimitConcurrent, true) {
		ahead, err := r.ahead(ctx, ex)
		if err != nil {
			return err
		}
		if ahead != "" {
			setQueued(ex, ReasonQueued, ahead)
			return nil
		}
	}
	fail := func(msg string) {
		ex.Status.Phase = v1alpha1.ExecutionFailed
		ex.Status.CompletionTime = ptr.To(metav1.NewTime(now))
		setOutcome(ex, ReasonFailed, msg)
	}
	if errs := validation.Pipeline(&pl); len(errs) > 0 {
		fail(fmt.Sprintf("pipeline %s is invalid: %s", pl.Name, errs.ToAggregate().Error()))
		return nil
	}
	params, err := resolveParameters(pl.Spec.Parameters, ex.Spec.Parameters)
	if err != nil {
		fail(err.Error())
		return nil
	}
	if msg := unapproved(pl.Spec.Stages, ex.Spec.Judgments); msg != "" {
		fail(msg)
		return nil
	}
	ex.Status.Phase = v1alpha1.ExecutionRunning
	ex.Status.StartTime = ptr.To(metav1.NewTime(now))
	ex.Status.PipelineGeneration = pl.Generation
	ex.Status.PipelineSpec = pl.Spec.DeepCopy()
	ex.Status.Parameters = params
	engine.InitStages(ex)
	return nil
}

// unapproved says why a judgment the run was created with does not hold against the stages it starts
// with, or "". Admission checked it against the Pipeline as it was then; its approvers or inputs may have
// been tightened since, and a judgment cannot be removed, so the run fails rather than start approved.
func unapproved(stages []v1alpha1.Stage, judgments map[string]v1alpha1.Judgment) string {
	for _, name := range slices.Sorted(maps.Keys(judgments)) {
		i := slices.IndexFunc(stages, func(st v1alpha1.Stage) bool { return st.Name == name })
		if i < 0 {
			continue // no such stage: the judgment decides nothing
		}
		if msg := validation.RecordedJudgment(&stages[i], judgments[name]); msg != "" {
			return "the run's judgment does not hold against its pipeline as it starts: " + msg
		}
	}
	return ""
}

// numbered gives o, a run of the cache's list, its queue position when the cache has none yet: this
// reconcile's own claim may have just numbered it, and taking an unnumbered run for a younger one would let
// this run start ahead of it. Only a run not yet numbered costs a read.
func (r *Reconciler) numbered(ctx context.Context, o *v1alpha1.Execution) error {
	if _, ok := queuePosition(o); ok || r.APIReader == nil {
		return nil
	}
	var fresh v1alpha1.Execution
	err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(o), &fresh)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if p, ok := fresh.Annotations[v1alpha1.AnnotationQueuePosition]; ok {
		o.Annotations = maps.Clone(o.Annotations)
		if o.Annotations == nil {
			o.Annotations = map[string]string{}
		}
		o.Annotations[v1alpha1.AnnotationQueuePosition] = p
	}
	return nil
}

// ahead says which run of the same pipeline this one waits for: a Running one, or an earlier one still
// Queued. Runs are ordered by queue position (see before).
func (r *Reconciler) ahead(ctx context.Context, ex *v1alpha1.Execution) (string, error) {
	list, err := r.unfinished(ctx, ex.Namespace, ex.Spec.Pipeline)
	if err != nil {
		return "", err
	}
	var queued []*v1alpha1.Execution
	for i := range list.Items {
		o := &list.Items[i]
		if o.UID == ex.UID {
			continue
		}
		switch o.Status.Phase {
		case v1alpha1.ExecutionRunning, v1alpha1.ExecutionAwaitingJudgment:
			return fmt.Sprintf("waits for execution %s of pipeline %s to finish (limitConcurrent)", o.Name, ex.Spec.Pipeline), nil
		case "", v1alpha1.ExecutionQueued:
			if err := r.numbered(ctx, o); err != nil {
				return "", err
			}
			if !o.Spec.Cancel && o.DeletionTimestamp.IsZero() && before(o, ex) {
				queued = append(queued, o)
			}
		}
	}
	if len(queued) == 0 {
		return "", nil
	}
	sort.Slice(queued, func(i, j int) bool { return before(queued[i], queued[j]) })
	return fmt.Sprintf("queued behind execution %s of pipeline %s (limitConcurrent, %d ahead)", queued[0].Name, ex.Spec.Pipeline, len(queued)), nil
}

// resolveParameters applies the pipeline's defaults to the run's parameters and checks them.
func resolveParameters(decl []v1alpha1.Parameter, given map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(decl))
	var problems []string
	for _, p := range decl {
		v, ok := given[p.Name]
		if !ok || v == "" {
			v = p.Default
		}
		switch {
		case p.Required && v == "":
			problems = append(problems, fmt.Sprintf("spec.parameters.%s is required", p.Name))
		case v != "" && len(p.Options) > 0 && !slices.Contains(p.Options, v):
			problems = append(problems, fmt.Sprintf("spec.parameters.%s: %q is not one of %s", p.Name, v, strings.Join(p.Options, ", ")))
		}
		out[p.Name] = v
	}
	for name := range given {
		if !slices.ContainsFunc(decl, func(p v1alpha1.Parameter) bool { return p.Name == name }) {
			problems = append(problems, fmt.Sprintf("spec.parameters.%s is not a parameter of the pipeline", name))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return out, nil
}
