package stages

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

func (r ResizeServerGroup) groups() serverGroups {
	return serverGroups{Client: r.Client, APIReader: r.APIReader}
}

// Start resolves the target and resizes it.
func (r ResizeServerGroup) Start(ctx context.Context, s *engine.StageRun) error {
	g, msg, err := r.groups().resolveTarget(ctx, s, "resizeServerGroup", &s.Spec.ResizeServerGroup.ServerGroupTarget)
	if err != nil {
		return err
	}
	if msg != "" {
		s.Fail(msg)
		return nil
	}
	if err := s.SetOutput(outputServerGroup, g.Name); err != nil {
		return err
	}
	return r.converge(ctx, s, g)
}

// Check resizes again if needed, and finishes once the group shows the capacity.
func (r ResizeServerGroup) Check(ctx context.Context, s *engine.StageRun) error {
	g, err := recorded(ctx, r.groups(), s)
	if apierrors.IsNotFound(err) {
		s.Fail(fmt.Sprintf("%s was deleted", outputString(s, outputServerGroup)))
		return nil
	}
	if err != nil || g == nil {
		return err
	}
	return r.converge(ctx, s, g)
}

func (r ResizeServerGroup) converge(ctx context.Context, s *engine.StageRun, g *v1alpha1.ServerGroup) error {
	want := s.Spec.ResizeServerGroup.Capacity
	if deleting(g) {
		s.Fail(fmt.Sprintf("%s is being deleted", g.Name))
		return nil
	}
	if msg := needsPerson(g); msg != "" {
		s.Fail(msg)
		return nil
	}
	done, err := patchOrFail(ctx, r.groups(), s, g, func(g *v1alpha1.ServerGroup) {
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
