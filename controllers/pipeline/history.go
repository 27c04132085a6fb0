package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/index"
	"github.com/gennaker/gennaker/controllers/status"
	"github.com/gennaker/gennaker/controllers/trigger"
)

// DefaultHistoryLimit is the number of finished Executions kept when spec.historyLimit is not set (the API
// server defaults it too; this covers objects that never went through it).
const DefaultHistoryLimit = 20

// listRuns returns the Executions of pl, oldest first, from the cache. Those being deleted are left out:
// they are neither history to keep nor the last run.
func (r *Reconciler) listRuns(ctx context.Context, pl *v1alpha1.Pipeline) ([]v1alpha1.Execution, error) {
	var list v1alpha1.ExecutionList
	// Read only, so not copied out of the cache: with many runs kept, the copies would cost the most.
	if err := r.List(ctx, &list, client.InNamespace(pl.Namespace),
		client.MatchingFields{index.ExecutionPipeline: pl.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing the pipeline's Executions: %w", err)
	}
	runs := slices.DeleteFunc(list.Items, func(ex v1alpha1.Execution) bool { return ex.DeletionTimestamp != nil })
	slices.SortFunc(runs, olderFirst)
	return runs, nil
}

// olderFirst orders Executions by creation, then name: creation timestamps only have seconds.
func olderFirst(a, b v1alpha1.Execution) int {
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// finished says whether a run is over: only those count against, and are deleted by, the history limit.
func finished(ex *v1alpha1.Execution) bool {
	switch ex.Status.Phase {
	case v1alpha1.ExecutionSucceeded, v1alpha1.ExecutionFailed, v1alpha1.ExecutionCanceled:
		return true
	}
	return false
}

// beyondHistory returns the finished runs, of runs sorted oldest first, that the limit does not keep: the
// oldest ones.
func beyondHistory(runs []v1alpha1.Execution, limit int) []v1alpha1.Execution {
	var done []v1alpha1.Execution
	for _, ex := range runs {
		if finished(&ex) {
			done = append(done, ex)
		}
	}
	if len(done) <= limit {
		return nil
	}
	return done[:len(done)-limit]
}

// pruneHistory deletes pl's finished runs beyond spec.historyLimit, oldest first, and returns the runs that
// remain. Queued and Running runs are never deleted, nor the children that an unfinished parent awaits.
func (r *Reconciler) pruneHistory(ctx context.Context, pl *v1alpha1.Pipeline, runs []v1alpha1.Execution) ([]v1alpha1.Execution, error) {
	limit := DefaultHistoryLimit
	if pl.Spec.HistoryLimit != nil {
		limit = max(int(*pl.Spec.HistoryLimit), 0)
	}
	prune := slices.DeleteFunc(beyondHistory(runs, limit), func(ex v1alpha1.Execution) bool {
		return r.awaited(ctx, &ex)
	})
	if len(prune) == 0 {
		return runs, nil
	}
	if err := r.recordPruned(ctx, pl, prune); err != nil {
		return runs, err
	}
	deleted := map[string]bool{}
	var names []string
	var err error
	for i := range prune {
		ex := &prune[i]
		// The UID precondition spares a run re-created under the same name since the cache saw this one.
		e := r.Delete(ctx, ex, client.Preconditions{UID: &ex.UID})
		if e != nil && !apierrors.IsNotFound(e) {
			if apierrors.IsConflict(e) {
				continue
			}
			err = fmt.Errorf("deleting Execution %s beyond the history limit: %w", ex.Name, e)
			break
		}
		deleted[ex.Name] = true
		names = append(names, ex.Name)
	}
	if len(names) > 0 {
		log.FromContext(ctx).Info("deleted finished Executions beyond the history limit", "limit", limit, "executions", names)
		r.Recorder.Eventf(pl, nil, corev1.EventTypeNormal, ReasonPruned, "Prune",
			"deleted %d finished Executions beyond historyLimit %d: %s", len(names), limit, abbreviate(names, 5))
	}
	kept := slices.DeleteFunc(slices.Clone(runs), func(ex v1alpha1.Execution) bool { return deleted[ex.Name] })
	return kept, err
}

// recordPruned writes into pl's status, before they are deleted, the webhook calls that runs of prune
// answered: once the run is gone, only this record refuses the call sent again to a manager that has not
// seen it. Written first, so that a crash between the two leaves a record and a run, never neither; and
// under pl's resourceVersion, so that a stale read conflicts instead of dropping a newer record.
func (r *Reconciler) recordPruned(ctx context.Context, pl *v1alpha1.Pipeline, prune []v1alpha1.Execution) error {
	calls := map[int][]v1alpha1.PrunedDelivery{}
	for i := range prune {
		ex := &prune[i]
		for index, tr := range pl.Spec.Triggers {
			if tr.Webhook != nil && trigger.StartedBy(ex, pl, index, v1alpha1.TriggerWebhook) {
				calls[index] = append(calls[index], v1alpha1.PrunedDelivery{Execution: ex.Name, Delivery: ex.Labels[trigger.LabelDelivery]})
			}
		}
	}
	if len(calls) == 0 {
		return nil
	}
	err := status.PatchLocked(ctx, r.Client, pl, func(p *v1alpha1.Pipeline) {
		for index, pruned := range calls {
			var kept []v1alpha1.PrunedDelivery
			if st := trigger.PrunedCalls(p, index); st != nil {
				kept = slices.Clone(st.Webhook.Pruned)
			}
			for _, call := range pruned {
				if !slices.Contains(kept, call) {
					kept = append(kept, call)
				}
			}
			kept = kept[max(0, len(kept)-v1alpha1.MaxPrunedDeliveries):]
			name := p.Spec.Triggers[index].Name
			// The entry moves to the trigger's index, taking the place of whatever was there.
			p.Status.Triggers = slices.DeleteFunc(p.Status.Triggers, func(st v1alpha1.TriggerStatus) bool {
				return int(st.Index) == index || st.Name == name && st.Webhook != nil
			})
			p.Status.Triggers = append(p.Status.Triggers, v1alpha1.TriggerStatus{Index: int32(index), Name: name,
				Webhook: &v1alpha1.WebhookTriggerStatus{Pruned: kept}})
		}
		slices.SortFunc(p.Status.Triggers, func(a, b v1alpha1.TriggerStatus) int { return int(a.Index - b.Index) })
	})
	if err != nil {
		return fmt.Errorf("recording the webhook calls of the Executions beyond the history limit: %w", err)
	}
	return nil
}

// keptWebhook is the entry of pl's webhook trigger index to write again, at that index, or nil if it has
// none.
func keptWebhook(pl *v1alpha1.Pipeline, index int) *v1alpha1.TriggerStatus {
	st := trigger.PrunedCalls(pl, index)
	if st == nil {
		return nil
	}
	return &v1alpha1.TriggerStatus{Index: int32(index), Name: st.Name, Webhook: st.Webhook}
}

// webhookStatuses are the entries of pl's webhook triggers, which an invalid pipeline keeps too.
func webhookStatuses(pl *v1alpha1.Pipeline) []v1alpha1.TriggerStatus {
	var kept []v1alpha1.TriggerStatus
	for index := range pl.Spec.Triggers {
		if st := keptWebhook(pl, index); st != nil {
			kept = append(kept, *st)
		}
	}
	return kept
}

// awaited says whether a run is a pipeline stage's child whose parent run has not finished: the parent
// reads the child's outcome, and would fail if the child were gone, so the child is kept, beyond the limit
// if need be, until a pass after the parent finished.
func (r *Reconciler) awaited(ctx context.Context, ex *v1alpha1.Execution) bool {
	name := ex.Annotations[v1alpha1.AnnotationParentExecution]
	if name == "" {
		return false
	}
	var parent v1alpha1.Execution
	err := r.Get(ctx, client.ObjectKey{Namespace: ex.Namespace, Name: name}, &parent)
	if apierrors.IsNotFound(err) {
		return false
	}
	return err != nil || !finished(&parent) // when in doubt, keep
}

// abbreviate joins the first n names and counts the rest, so that an Event stays short.
func abbreviate(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// lastRun points at the most recently created of runs, or is nil if there are none.
func lastRun(runs []v1alpha1.Execution) *v1alpha1.LastRun {
	if len(runs) == 0 {
		return nil
	}
	ex := slices.MaxFunc(runs, olderFirst)
	return &v1alpha1.LastRun{Execution: ex.Name, StartTime: ex.CreationTimestamp, Phase: ex.Status.Phase}
}
