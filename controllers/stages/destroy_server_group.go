package stages

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// DestroyServerGroup is the destroyServerGroup stage: it deletes one ServerGroup and waits until the
// object is gone, which its finalizer allows only once the cloud group is. The group is deleted whatever
// its traffic: disable it in an earlier stage to drain it first. It fails, deleting nothing, when the
// group is the last enabled one of its cluster (see lastEnabled), unless allowLastEnabled is set.
//
// The target is resolved once, at Start (a group already being deleted may be named), and recorded as
// the output serverGroup. Cancel stops waiting; a deletion cannot be taken back.
type DestroyServerGroup struct {
	Client client.Client
	// APIReader reads past the cache.
	APIReader client.Reader
}

func (d DestroyServerGroup) one() oneGroup {
	return oneGroup{
		serverGroups:  serverGroups{Client: d.Client, APIReader: d.APIReader},
		field:         "destroyServerGroup",
		converge:      d.converge,
		gone:          func(s *engine.StageRun, name string) { s.Succeed(name + " destroyed") },
		whileDeleting: true,
	}
}

// Start resolves the target and deletes it.
func (d DestroyServerGroup) Start(ctx context.Context, s *engine.StageRun) error {
	return d.one().start(ctx, s, &s.Spec.DestroyServerGroup.ServerGroupTarget)
}

// Check finishes once the group is gone.
func (d DestroyServerGroup) Check(ctx context.Context, s *engine.StageRun) error {
	return d.one().check(ctx, s)
}

func (d DestroyServerGroup) converge(ctx context.Context, s *engine.StageRun, g *v1alpha1.ServerGroup) error {
	if !s.Spec.DestroyServerGroup.AllowLastEnabled {
		// A group already being deleted passes: the guard is for the deletion this stage would make.
		if refused, err := d.one().refuseLastEnabled(ctx, s, "destroyServerGroup", g); refused || err != nil {
			return err
		}
	}
	err := d.one().delete(ctx, s, g)
	switch {
	case apierrors.IsNotFound(err):
		s.Succeed(fmt.Sprintf("%s destroyed", g.Name))
		return nil
	case permanent(err):
		s.Fail(fmt.Sprintf("destroying %s: %v", g.Name, err))
		return nil
	case err != nil:
		return err
	}
	waitFor(s, fmt.Sprintf("destroying %s%s", g.Name, readyNote(g)), s.Now.Add(serverGroupPoll))
	return nil
}

// Cancel stops waiting.
func (DestroyServerGroup) Cancel(context.Context, *engine.StageRun) error { return nil }
