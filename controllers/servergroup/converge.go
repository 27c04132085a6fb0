package servergroup

import (
	"context"
	"fmt"
	"time"

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
	if sg.Status.Operation != nil {
		if ended, res, err := r.awaitOperation(ctx, cctx, c, sg); !ended {
			return res, err
		}
	}
	obs, err := c.Observe(cctx, sg)
	if err != nil {
		return r.failed(ctx, sg, "", err)
	}
	var adoptedAt *metav1.Time
	// started is an operation a call below started; once one is under way, nothing else is asked.
	var started *v1alpha1.CloudOperation
	now := metav1.Now()
	if obs.Exists {
		adopt, err := cloud.Claim(sg, "the cloud server group "+sg.Name, obs.Owner)
		if err != nil {
			return r.failed(ctx, sg, "", err)
		}
		if adopt && !obs.Deleting {
			op, err := c.Adopt(cctx, sg)
			if err != nil {
				return r.failed(ctx, sg, "", err)
			}
			started = startedAt(op, now)
			adoptedAt = &now
			r.event(sg, corev1.EventTypeNormal, EventAdopted, "Adopt", "took over the cloud server group (%s), as annotation %s asks", obs.Owner, v1alpha1.AnnotationAdopt)
		}
	}

	// What it did shows on the next observation.
	var doing []string
	spec := sg.Spec.Capacity
	resized := false
	switch {
	case started != nil:
		doing = append(doing, "adopting")
	case !obs.Exists:
		op, err := c.Create(cctx, sg)
		if err != nil {
			return r.failed(ctx, sg, "", err)
		}
		started = startedAt(op, now)
		r.event(sg, corev1.EventTypeNormal, EventCreated, "Create", "created the cloud server group with capacity %s", capacity(spec))
		doing = append(doing, "creating")
	case obs.Deleting:
		// Deleted in the cloud behind our back: it is made again once the cloud is done.
		doing = append(doing, "waiting for the cloud to finish deleting a group of this name")
	default:
		if want, set := capacityToSet(spec, sg.Status.AppliedCapacity, obs.Capacity, sg.Spec.DesiredDrift); set {
			op, err := c.UpdateCapacity(cctx, sg, want)
			if err != nil {
				return r.failed(ctx, sg, "", err)
			}
			started = startedAt(op, now)
			r.event(sg, corev1.EventTypeNormal, EventResized, "UpdateCapacity", "capacity %s -> %s", capacity(obs.Capacity), capacity(want))
			doing = append(doing, "resizing to "+capacity(want))
			resized = true
		}
		if obs.Traffic != sg.Spec.Traffic && started == nil {
			op, err := c.SetTraffic(cctx, sg, sg.Spec.Traffic)
			if err != nil {
				return r.failed(ctx, sg, "", err)
			}
			started = startedAt(op, now)
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
		s.Status.Operation = started
		if len(doing) > 0 {
			reason := v1alpha1.ReasonUpdating
			if !obs.Exists {
				reason = v1alpha1.ReasonCreating
			}
			status.Set(s, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, join(doing))
			status.SetProgress(s, status.Working, reason, join(doing))
		} else {
			status.Set(s, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable, readyMessage(sg, obs))
			setRollout(s, healthy, obs)
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

// awaitOperation checks the long-running operation in status, once: while it runs, nothing else is asked
// of the cloud (ended is false, and res says when to look again). Once it has ended it leaves status; one
// that failed is reported like any other cloud error, and the next reconcile observes the group afresh
// and decides again what to do.
func (r *Reconciler) awaitOperation(ctx, cctx context.Context, c cloud.Client, sg *v1alpha1.ServerGroup) (ended bool, res ctrl.Result, err error) {
	op := *sg.Status.Operation
	done, opErr := c.Operation(cctx, sg, op)
	if !done {
		if opErr != nil {
			res, err := r.failed(ctx, sg, "", fmt.Errorf("checking the cloud's %s operation: %w", op.Action, opErr))
			return false, res, err
		}
		if age := time.Since(op.StartedAt.Time); age > r.OperationTimeout {
			// Every call is made from the spec and what the cloud shows, so asking again is safe.
			r.event(sg, corev1.EventTypeWarning, EventOperationAbandoned, op.Action,
				"stopped waiting for the cloud's %s operation after %s (operation timeout %s); the group is observed afresh",
				op.Action, age.Round(time.Second), r.OperationTimeout)
			return true, ctrl.Result{}, nil // cleared by the status write that follows the observation
		}
		if err := status.Patch(ctx, r.Client, sg, func(s *v1alpha1.ServerGroup) {
			status.Set(s, v1alpha1.ConditionReady, metav1.ConditionFalse, operationReason(op),
				fmt.Sprintf("waiting for the cloud's %s operation, started %s", op.Action, op.StartedAt.UTC().Format(time.RFC3339)))
			status.SetProgress(s, status.Working, operationReason(op), fmt.Sprintf("the cloud's %s operation is under way", op.Action))
		}); err != nil {
			return false, ctrl.Result{}, err
		}
		return false, ctrl.Result{RequeueAfter: r.Poll}, nil
	}
	if opErr == nil {
		// Cleared by the status write that follows this reconcile's observation.
		return true, ctrl.Result{}, nil
	}
	if err := status.Patch(ctx, r.Client, sg, func(s *v1alpha1.ServerGroup) {
		s.Status.Operation = nil
		if op.Action == v1alpha1.OperationUpdateCapacity {
			s.Status.AppliedCapacity = nil // not applied: set it again
		}
	}); err != nil {
		return false, ctrl.Result{}, err
	}
	res, err = r.failed(ctx, sg, "", fmt.Errorf("the cloud's %s operation failed: %w", op.Action, opErr))
	return false, res, err
}

// operationReason is the Ready reason while op runs.
func operationReason(op v1alpha1.CloudOperation) string {
	switch op.Action {
	case v1alpha1.OperationCreate:
		return v1alpha1.ReasonCreating
	case v1alpha1.OperationDelete:
		return v1alpha1.ReasonDeleting
	}
	return v1alpha1.ReasonUpdating
}

// startedAt stamps an operation a call returned with when it was started; nil stays nil.
func startedAt(op *v1alpha1.CloudOperation, now metav1.Time) *v1alpha1.CloudOperation {
	if op != nil && op.StartedAt.IsZero() {
		op.StartedAt = now
	}
	return op
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
