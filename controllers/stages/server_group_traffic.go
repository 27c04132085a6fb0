package stages

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// ServerGroupTraffic is the enableServerGroup stage (Traffic Enabled) and the disableServerGroup stage
// (Traffic Disabled): it sets one server group's spec.traffic, then waits until the group takes traffic
// and is healthy (enable), or is out of its load balancers (disable).
//
// The target, a group by name or the Newest, Previous or Oldest of a cluster, is resolved once, at Start,
// and recorded as the output serverGroup; the Checks follow that group even if the cluster changes. The
// desired traffic is applied again on every Check until the stage is done. Cancel stops waiting and
// changes nothing back.
//
// disableServerGroup fails, changing nothing, when its group is the last enabled one of its cluster
// (see lastEnabled), unless allowLastEnabled is set.
type ServerGroupTraffic struct {
	Client client.Client
	// APIReader reads past the cache.
	APIReader client.Reader
	// Traffic is what the stage sets.
	Traffic v1alpha1.Traffic
}

func (t ServerGroupTraffic) one() oneGroup {
	field := "disableServerGroup"
	if t.Traffic == v1alpha1.TrafficEnabled {
		field = "enableServerGroup"
	}
	return oneGroup{
		serverGroups: serverGroups{Client: t.Client, APIReader: t.APIReader},
		field:        field,
		converge:     t.converge,
		gone:         failGone,
	}
}

func (t ServerGroupTraffic) target(s *engine.StageRun) *v1alpha1.ServerGroupTarget {
	if t.Traffic == v1alpha1.TrafficEnabled {
		return s.Spec.EnableServerGroup
	}
	return &s.Spec.DisableServerGroup.ServerGroupTarget
}

// Start resolves the target and sets its traffic.
func (t ServerGroupTraffic) Start(ctx context.Context, s *engine.StageRun) error {
	return t.one().start(ctx, s, t.target(s))
}

// Check sets the traffic again if needed, and finishes once the group shows it.
func (t ServerGroupTraffic) Check(ctx context.Context, s *engine.StageRun) error {
	return t.one().check(ctx, s)
}

func (t ServerGroupTraffic) converge(ctx context.Context, s *engine.StageRun, g *v1alpha1.ServerGroup) error {
	if t.Traffic == v1alpha1.TrafficDisabled && g.Spec.Traffic != v1alpha1.TrafficDisabled && !s.Spec.DisableServerGroup.AllowLastEnabled {
		// Checked only before the group's spec is changed: once it is, the stage only waits.
		if refused, err := t.one().refuseLastEnabled(ctx, s, "disableServerGroup", g); refused || err != nil {
			return err
		}
	}
	if done, err := patchOrFail(ctx, t.one().serverGroups, s, g, setTraffic(t.Traffic)); done || err != nil {
		return err
	}
	if t.Traffic == v1alpha1.TrafficEnabled {
		if takingTraffic(g) {
			s.Succeed(fmt.Sprintf("%s takes traffic, %d/%d healthy", g.Name, g.Status.Instances.Healthy, g.Spec.Capacity.Desired))
			return nil
		}
		waitFor(s, awaitingTraffic(g), s.Now.Add(serverGroupPoll))
		return nil
	}
	if outOfTraffic(g) {
		s.Succeed(fmt.Sprintf("%s is out of its load balancers", g.Name))
		return nil
	}
	waitFor(s, fmt.Sprintf("%s: waiting to leave its load balancers%s", g.Name, readyNote(g)), s.Now.Add(serverGroupPoll))
	return nil
}

// Cancel stops waiting; the traffic stays as set.
func (ServerGroupTraffic) Cancel(context.Context, *engine.StageRun) error { return nil }

// recorded reads the group the stage resolved at Start (its output serverGroup). It fails the stage, and
// returns nil, when the output is missing.
func recorded(ctx context.Context, c serverGroups, s *engine.StageRun) (*v1alpha1.ServerGroup, error) {
	name := outputString(s, outputServerGroup)
	if name == "" {
		s.Fail("status.outputs.serverGroup is missing: the stage's status was not written by the operator")
		return nil, nil
	}
	return c.get(ctx, types.NamespacedName{Namespace: s.Execution.Namespace, Name: name})
}

// patchOrFail patches the group; a refusal that will last, or the group's disappearance, fails the stage,
// and done says so.
func patchOrFail(ctx context.Context, c serverGroups, s *engine.StageRun, g *v1alpha1.ServerGroup, mutate func(*v1alpha1.ServerGroup)) (done bool, err error) {
	_, err = c.patch(ctx, s, g, mutate)
	switch {
	case err == nil:
		return false, nil
	case apierrors.IsNotFound(err):
		s.Fail(fmt.Sprintf("%s was deleted", g.Name))
		return true, nil
	case permanent(err):
		s.Fail(fmt.Sprintf("changing %s: %v", g.Name, err))
		return true, nil
	}
	return false, err
}
