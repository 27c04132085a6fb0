package servergroup

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	"github.com/gennaker/gennaker/controllers/status"
)

// reconcileNormal observes the cloud group, takes it over if asked to and allowed, makes at most one
// change of each kind (create, capacity, traffic), and reports in status what the cloud said.
func (r *Reconciler) reconcileNormal(ctx context.Context, sg *v1alpha1.ServerGroup) (ctrl.Result, error) {
	cctx, cancel := r.cloudContext(ctx)
	defer cancel()
	c, reason, err := r.client(cctx, sg)
	if err != nil {
		return r.failed(ctx, sg, reason, err)
	}
	obs, err := c.Observe(cctx, sg)
	if err != nil {
		return r.failed(ctx, sg, "", err)
	}
	var adoptedAt *metav1.Time
	if obs.Exists {
		adopt, err := cloud.Claim(sg, "the cloud server group "+sg.Name, obs.Owner)
		if err != nil {
			return r.failed(ctx, sg, "", err)
		}
		if adopt && !obs.Deleting {
			if err := c.Adopt(cctx, sg); err != nil {
				return r.failed(ctx, sg, "", err)
			}
			now := metav1.Now()
			adoptedAt = &now
			r.event(sg, corev1.EventTypeNormal, EventAdopted, "Adopt", "took over the cloud server group (%s), as annotation %s asks", obs.Owner, v1alpha1.AnnotationAdopt)
		}
	}

	// What it did shows on the next observation.
	var doing []string
	spec := sg.Spec.Capacity
	resized := false
	switch {
	case !obs.Exists:
		if err := c.Create(cctx, sg); err != nil {
			return r.failed(ctx, sg, "", err)
		}
		r.event(sg, corev1.EventTypeNormal, EventCreated, "Create", "created the cloud server group with capacity %s", capacity(spec))
		doing = append(doing, "creating")
	case obs.Deleting:
		// Deleted in the cloud behind our back: it is made again once the cloud is done.
		doing = append(doing, "waiting for the cloud to finish deleting a group of this name")
	default:
		if want, set := capacityToSet(spec, sg.Status.AppliedCapacity, obs.Capacity, sg.Spec.DesiredDrift); set {
			if err := c.UpdateCapacity(cctx, sg, want); err != nil {
				return r.failed(ctx, sg, "", err)
			}
			r.event(sg, corev1.EventTypeNormal, EventResized, "UpdateCapacity", "capacity %s -> %s", capacity(obs.Capacity), capacity(want))
			doing = append(doing, "resizing to "+capacity(want))
			resized = true
		}
		if obs.Traffic != sg.Spec.Traffic {
			if err := c.SetTraffic(cctx, sg, sg.Spec.Traffic); err != nil {
				return r.failed(ctx, sg, "", err)
			}
			r.event(sg, corev1.EventTypeNormal, eventTraffic(sg.Spec.Traffic), "SetTraffic", "traffic %s", sg.Spec.Traffic)
			doing = append(doing, "setting traffic "+string(sg.Spec.Traffic))
		}
	}
	r.slow.Forget(client.ObjectKeyFromObject(sg))

	// Healthy is the cloud's figure: all of the cloud's desired instances healthy, whoever set it.
	healthy := obs.Exists && !obs.Deleting && !resized && obs.Instances.Healthy == obs.Instances.Desired
	if err := status.Patch(ctx, r.Client, sg, func(s *v1alpha1.ServerGroup) {
		if obs.ProviderID != "" {
			s.Status.ProviderID = obs.ProviderID
		}
		s.Status.Instances = obs.Instances
		s.Status.Traffic = obs.Traffic
		if !obs.Exists {
			s.Status.Traffic = ""
		} else {
			// Kept while the group is gone, so that the group made again launches from the same.
			s.Status.CloudServerGroupStatus = obs.Status
		}
		if !obs.Deleting {
			applied := spec
			s.Status.AppliedCapacity = &applied
		}
		if adoptedAt != nil {
			s.Status.AdoptedAt = adoptedAt
		}
		if len(doing) > 0 {
			reason := v1alpha1.ReasonUpdating
			if !obs.Exists {
				reason = v1alpha1.ReasonCreating
			}
			status.Set(s, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, join(doing))
		} else {
			status.Set(s, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable, readyMessage(sg, obs))
		}
		status.Set(s, v1alpha1.ConditionHealthy, boolCondition(healthy), healthReason(healthy), healthMessage(obs))
		status.Set(s, v1alpha1.ConditionTrafficEnabled, boolCondition(obs.Traffic == v1alpha1.TrafficEnabled),
			eventTraffic(orDisabled(obs.Traffic)), trafficMessage(sg, obs))
	}); err != nil {
		return ctrl.Result{}, err
	}
	if len(doing) > 0 || !healthy {
		return ctrl.Result{RequeueAfter: r.Poll}, nil
	}
	return ctrl.Result{RequeueAfter: r.Resync}, nil
}

// readyMessage says what the converged group is, and when its desired capacity is not the spec's, why
// that is fine.
func readyMessage(sg *v1alpha1.ServerGroup, obs cloud.Observation) string {
	msg := fmt.Sprintf("capacity %s, traffic %s", capacity(obs.Capacity), obs.Traffic)
	if d := sg.Spec.Capacity.Desired; obs.Capacity.Desired != d {
		msg += fmt.Sprintf("; desired %d was set outside Gennaker (the spec says %d): tolerated within min and max (desiredDrift %s)",
			obs.Capacity.Desired, d, v1alpha1.DriftTolerate)
	}
	return msg
}
