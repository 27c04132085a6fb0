package stages

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// RollbackCluster is the rollbackCluster stage: it puts traffic back on a cluster's previous server group
// and takes it off the newest. The previous group is enabled, at the capacity recorded in its
// AnnotationScaledDownFrom when a red/black scaled it down to zero (the annotation is then removed); once it is
// healthy and takes traffic, the newest is disabled, and the stage ends when the newest is out of its load
// balancers.
//
// Both groups are picked once, at Start (newest and second newest of the cluster, groups being deleted
// left out), and recorded as the outputs serverGroup (the one restored) and disabledServerGroup. The
// condition PreviousRestored on the stage's status records that the previous group took traffic, so a
// restart does not wait for it again. A previous group with no instances and no annotation to restore them
// from fails the stage: enabling it would put traffic on nothing. Cancel stops where the stage is.
type RollbackCluster struct {
	Client client.Client
	// APIReader reads past the cache.
	APIReader client.Reader
}

const (
	outputDisabledServerGroup = "disabledServerGroup"
	// conditionPreviousRestored is True on the stage once the previous group takes traffic.
	conditionPreviousRestored = "PreviousRestored"
)

func (r RollbackCluster) groups() serverGroups {
	return serverGroups{Client: r.Client, APIReader: r.APIReader}
}

// Start picks the two groups and begins restoring the previous one.
func (r RollbackCluster) Start(ctx context.Context, s *engine.StageRun) error {
	rc := s.Spec.RollbackCluster
	if msg := validClusterName(rc.Cluster); msg != "" {
		s.Fail("rollbackCluster.cluster: " + msg)
		return nil
	}
	cl := cluster{Namespace: s.Execution.Namespace, Name: rc.Cluster, Account: rc.Account, Region: rc.Region}
	groups, err := cl.list(ctx, r.Client)
	if err != nil {
		return err
	}
	newest, previous := pick(groups, v1alpha1.TargetNewest), pick(groups, v1alpha1.TargetPrevious)
	if previous == nil {
		s.Fail(fmt.Sprintf("rollbackCluster: %s in namespace %s has no previous server group to roll back to (it has %d)",
			cl, cl.Namespace, len(live(groups))))
		return nil
	}
	if err := s.SetOutput(outputServerGroup, previous.Name); err != nil {
		return err
	}
	if err := s.SetOutput(outputDisabledServerGroup, newest.Name); err != nil {
		return err
	}
	return r.converge(ctx, s, previous.DeepCopy(), newest.DeepCopy())
}

// Check goes on from where the stage is.
func (r RollbackCluster) Check(ctx context.Context, s *engine.StageRun) error {
	var found [2]*v1alpha1.ServerGroup
	for i, key := range []string{outputServerGroup, outputDisabledServerGroup} {
		name := outputString(s, key)
		if name == "" {
			s.Fail(fmt.Sprintf("status.outputs.%s is missing: the stage's status was not written by the operator", key))
			return nil
		}
		g, err := r.groups().get(ctx, types.NamespacedName{Namespace: s.Execution.Namespace, Name: name})
		if apierrors.IsNotFound(err) {
			s.Fail(fmt.Sprintf("%s was deleted", name))
			return nil
		}
		if err != nil {
			return err
		}
		found[i] = g
	}
	return r.converge(ctx, s, found[0], found[1])
}

func (r RollbackCluster) converge(ctx context.Context, s *engine.StageRun, previous, newest *v1alpha1.ServerGroup) error {
	if !meta.IsStatusConditionTrue(s.Status.Conditions, conditionPreviousRestored) {
		done, err := r.restore(ctx, s, previous)
		if done || err != nil {
			return err
		}
		if !takingTraffic(previous) {
			waitFor(s, awaitingTraffic(previous), s.Now.Add(serverGroupPoll))
			return nil
		}
		s.SetCondition(metav1.Condition{
			Type:               conditionPreviousRestored,
			Status:             metav1.ConditionTrue,
			Reason:             "TakesTraffic",
			Message:            fmt.Sprintf("%s takes traffic, %d/%d healthy", previous.Name, previous.Status.Instances.Healthy, previous.Spec.Capacity.Desired),
			LastTransitionTime: metav1.NewTime(s.Now),
		})
	}
	if deleting(newest) {
		s.Succeed(fmt.Sprintf("%s takes traffic again; %s is being deleted", previous.Name, newest.Name))
		return nil
	}
	if msg := needsPerson(newest); msg != "" {
		s.Fail(msg)
		return nil
	}
	if done, err := patchOrFail(ctx, r.groups(), s, newest, setTraffic(v1alpha1.TrafficDisabled)); done || err != nil {
		return err
	}
	if outOfTraffic(newest) {
		s.Succeed(fmt.Sprintf("%s takes traffic again; %s is out of its load balancers", previous.Name, newest.Name))
		return nil
	}
	waitFor(s, fmt.Sprintf("%s takes traffic again; disabling %s%s", previous.Name, newest.Name, readyNote(newest)), s.Now.Add(serverGroupPoll))
	return nil
}

// restore enables the previous group, with the capacity it was scaled down from. It reads the group past
// the cache before changing it, so an annotation written a moment ago is not missed. done says the stage
// has finished (failed).
func (r RollbackCluster) restore(ctx context.Context, s *engine.StageRun, g *v1alpha1.ServerGroup) (done bool, err error) {
	if deleting(g) {
		s.Fail(fmt.Sprintf("%s is being deleted", g.Name))
		return true, nil
	}
	if msg := needsPerson(g); msg != "" {
		s.Fail(msg)
		return true, nil
	}
	_, annotated := g.Annotations[v1alpha1.AnnotationScaledDownFrom]
	if g.Spec.Traffic == v1alpha1.TrafficEnabled && !annotated && g.Spec.Capacity.Desired > 0 {
		return false, nil // nothing to change
	}
	var live v1alpha1.ServerGroup
	if err := r.groups().live().Get(ctx, client.ObjectKeyFromObject(g), &live); err != nil {
		if apierrors.IsNotFound(err) {
			s.Fail(fmt.Sprintf("%s was deleted", g.Name))
			return true, nil
		}
		return false, err
	}
	*g = live
	from, ok := scaledDownFrom(g)
	if !ok && g.Spec.Capacity.Desired == 0 {
		s.Fail(fmt.Sprintf("%s has a desired capacity of 0 and no %s annotation to restore it from: resize it first",
			g.Name, v1alpha1.AnnotationScaledDownFrom))
		return true, nil
	}
	return patchOrFail(ctx, r.groups(), s, g, func(g *v1alpha1.ServerGroup) {
		g.Spec.Traffic = v1alpha1.TrafficEnabled
		if from != nil && g.Spec.Capacity.Desired == 0 {
			g.Spec.Capacity = *from // a stale annotation does not undo a resize made since
		}
		delete(g.Annotations, v1alpha1.AnnotationScaledDownFrom)
	})
}

// Cancel stops where the stage is: the previous group may already take traffic beside the newest.
func (RollbackCluster) Cancel(context.Context, *engine.StageRun) error { return nil }
