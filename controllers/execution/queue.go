package execution

import (
	"context"
	"slices"
	"strconv"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// claim gives an unfinished run what it holds until it finishes: ExecutionFinalizer, so that deleting it
// cancels it first, and a queue position. ex is updated to the API server's answer.
//
// Queue positions keep creation order finer than creationTimestamp's seconds. The runs of a pipeline
// without one get theirs together, in one pass, after the highest an unfinished run has: by creation
// time, then by resourceVersion (the order etcd stored them in, as nothing else writes a run before its
// first reconcile), then by name. Every pass computes the same numbers from the same cache, so two
// workers doing it at once agree, and the optimistic lock turns any disagreement into a retry. A run made
// later cannot be missed by a pass that numbered a later one: the cache sees runs in the order they were
// stored. Only unfinished runs queue, so numbers may start again from 1 once every run has finished.
func (r *Reconciler) claim(ctx context.Context, ex *v1alpha1.Execution) error {
	if _, ok := queuePosition(ex); !ok {
		if err := r.number(ctx, ex); err != nil {
			return err
		}
	}
	if controllerutil.ContainsFinalizer(ex, v1alpha1.ExecutionFinalizer) {
		return nil
	}
	before := ex.DeepCopy()
	controllerutil.AddFinalizer(ex, v1alpha1.ExecutionFinalizer)
	return r.Patch(ctx, ex, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

// number gives ex and the other runs of its pipeline that have none their queue positions.
func (r *Reconciler) number(ctx context.Context, ex *v1alpha1.Execution) error {
	list, err := r.unfinished(ctx, ex.Namespace, ex.Spec.Pipeline)
	if err != nil {
		return err
	}
	highest := int64(0)
	todo := []*v1alpha1.Execution{ex}
	for i := range list.Items {
		o := &list.Items[i]
		if p, ok := queuePosition(o); ok {
			highest = max(highest, p)
		} else if o.UID != ex.UID {
			todo = append(todo, o.DeepCopy()) // the list is the cache's own objects
		}
	}
	slices.SortFunc(todo, func(a, b *v1alpha1.Execution) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		ra, _ := strconv.ParseUint(a.ResourceVersion, 10, 64)
		rb, _ := strconv.ParseUint(b.ResourceVersion, 10, 64)
		if ra != rb {
			if ra < rb {
				return -1
			}
			return 1
		}
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	for _, o := range todo {
		highest++
		before := o.DeepCopy()
		if o.Annotations == nil {
			o.Annotations = map[string]string{}
		}
		o.Annotations[v1alpha1.AnnotationQueuePosition] = strconv.FormatInt(highest, 10)
		if o == ex {
			controllerutil.AddFinalizer(o, v1alpha1.ExecutionFinalizer)
		}
		if err := r.Patch(ctx, o, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return err
		}
	}
	return nil
}

// queuePosition reads a run's AnnotationQueuePosition.
func queuePosition(ex *v1alpha1.Execution) (int64, bool) {
	v, ok := ex.Annotations[v1alpha1.AnnotationQueuePosition]
	if !ok {
		return 0, false
	}
	p, err := strconv.ParseInt(v, 10, 64)
	return p, err == nil
}

// before says whether a queues ahead of b: by queue position when both have one, a numbered run ahead of
// one not yet numbered (which was made after it), and otherwise by creation time, then name.
func before(a, b *v1alpha1.Execution) bool {
	pa, oka := queuePosition(a)
	pb, okb := queuePosition(b)
	switch {
	case oka && okb && pa != pb:
		return pa < pb
	case oka != okb:
		return oka
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}
