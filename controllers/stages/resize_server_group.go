package stages

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// ResizeServerGroup is the resizeServerGroup stage: it sets one server group's capacity, then waits until
// the cloud reports it (status.instances.desired, Ready at the current generation) and, for a non-zero
// desired capacity, until the group is healthy.
//
// The target is resolved once, at Start, and recorded as the output serverGroup. Resizing to a non-zero
// capacity also removes the group's AnnotationScaledDownFrom: the capacity a red/black scaled it down
// from no longer says what it should be restored to. Cancel stops waiting and changes nothing back.
type ResizeServerGroup struct {
	Client client.Client
	// APIReader reads past the cache.
	APIReader client.Reader
}

func (r ResizeServerGroup) one() oneGroup {
	return oneGroup{
		serverGroups: serverGroups{Client: r.Client, APIReader: r.APIReader},
		field:        "resizeServerGroup",
		converge:     r.converge,
		gone:         failGone,
	}
}

// Start resolves the target and resizes it.
func (r ResizeServerGroup) Start(ctx context.Context, s *engine.StageRun) error {
	return r.one().start(ctx, s, &s.Spec.ResizeServerGroup.ServerGroupTarget)
}

// Check resizes again if needed, and finishes once the group shows the capacity.
func (r ResizeServerGroup) Check(ctx context.Context, s *engine.StageRun) error {
	return r.one().check(ctx, s)
}

func (r ResizeServerGroup) converge(ctx context.Context, s *engine.StageRun, g *v1alpha1.ServerGroup) error {
	want := s.Spec.ResizeServerGroup.Capacity
	done, err := patchOrFail(ctx, r.one().serverGroups, s, g, func(g *v1alpha1.ServerGroup) {
		g.Spec.Capacity = want
		if want.Desired > 0 {
			delete(g.Annotations, v1alpha1.AnnotationScaledDownFrom)
		}
	})
	if done || err != nil {
		return err
	}
	size := fmt.Sprintf("min %d, desired %d, max %d", want.Min, want.Desired, want.Max)
	if fresh(g) && g.Status.Instances.Desired == want.Desired && isTrue(g, v1alpha1.ConditionReady) && (want.Desired == 0 || healthy(g)) {
		s.Succeed(fmt.Sprintf("%s resized to %s, %d healthy", g.Name, size, g.Status.Instances.Healthy))
		return nil
	}
	waitFor(s, fmt.Sprintf("resizing %s to %s: desired %d, %d/%d healthy%s", g.Name, size,
		g.Status.Instances.Desired, g.Status.Instances.Healthy, want.Desired, readyNote(g)), s.Now.Add(serverGroupPoll))
	return nil
}

// Cancel stops waiting; the capacity stays as set.
func (ResizeServerGroup) Cancel(context.Context, *engine.StageRun) error { return nil }
