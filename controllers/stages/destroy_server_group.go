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
// its traffic: disable it in an earlier stage to drain it first.
//
// The target is resolved once, at Start (a group already being deleted may be named), and recorded as
// the output serverGroup. Cancel stops waiting; a deletion cannot be taken back.
type DestroyServerGroup struct {
	Client client.Client
	// APIReader reads past the cache.
	APIReader client.Reader
}

func (d DestroyServerGroup) groups() serverGroups {
	return serverGroups{Client: d.Client, APIReader: d.APIReader}
}

// Start resolves the target and deletes it.
func (d DestroyServerGroup) Start(ctx context.Context, s *engine.StageRun) error {
	g, msg, err := d.groups().resolveTarget(ctx, s, "destroyServerGroup", s.Spec.DestroyServerGroup)
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
	return d.converge(ctx, s, g)
}

// Check finishes once the group is gone.
func (d DestroyServerGroup) Check(ctx context.Context, s *engine.StageRun) error {
	g, err := recorded(ctx, d.groups(), s)
	if apierrors.IsNotFound(err) {
		s.Succeed(fmt.Sprintf("%s destroyed", outputString(s, outputServerGroup)))
		return nil
	}
	if err != nil || g == nil {
		return err
	}
	return d.converge(ctx, s, g)
}

func (d DestroyServerGroup) converge(ctx context.Context, s *engine.StageRun, g *v1alpha1.ServerGroup) error {
	if msg := needsPerson(g); msg != "" {
		s.Fail(msg)
		return nil
	}
	err := d.groups().delete(ctx, s, g)
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
