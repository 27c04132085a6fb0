package stages

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// oneGroup is what the stages acting on a single server group share (enable, disable, resize,
// destroy): the target, a group by name or the Newest, Previous or Oldest of a cluster, is resolved once,
// at Start, and recorded as the output serverGroup, so the Checks follow that group even if the cluster
// changes; every Check reads it again and converges it.
type oneGroup struct {
	serverGroups
	// field is the stage's type, as its field in a pipeline is named, for messages.
	field string
	// converge moves the group towards what the stage wants, and finishes the stage once it is there.
	converge func(ctx context.Context, s *engine.StageRun, g *v1alpha1.ServerGroup) error
	// gone finishes the stage when its group no longer exists.
	gone func(s *engine.StageRun, name string)
	// whileDeleting lets converge see a group that is being deleted; otherwise such a group fails the stage.
	whileDeleting bool
}

// start resolves the target and converges it.
func (o oneGroup) start(ctx context.Context, s *engine.StageRun, target *v1alpha1.ServerGroupTarget) error {
	g, msg, err := o.resolveTarget(ctx, s, o.field, target)
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
	return o.step(ctx, s, g)
}

// check reads the recorded group again and converges it.
func (o oneGroup) check(ctx context.Context, s *engine.StageRun) error {
	g, err := recorded(ctx, o.serverGroups, s)
	if apierrors.IsNotFound(err) {
		o.gone(s, outputString(s, outputServerGroup))
		return nil
	}
	if err != nil || g == nil {
		return err
	}
	return o.step(ctx, s, g)
}

func (o oneGroup) step(ctx context.Context, s *engine.StageRun, g *v1alpha1.ServerGroup) error {
	if deleting(g) && !o.whileDeleting {
		s.Fail(fmt.Sprintf("%s is being deleted", g.Name))
		return nil
	}
	if msg := needsPerson(g); msg != "" {
		s.Fail(msg)
		return nil
	}
	return o.converge(ctx, s, g)
}

// failGone is what a deleted group means to a stage that changes it.
func failGone(s *engine.StageRun, name string) { s.Fail(fmt.Sprintf("%s was deleted", name)) }
