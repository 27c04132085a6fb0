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

// maxSteps bounds the changes one reconcile makes in a row: a change the cloud made at once (or whose
// operation had already ended at its one check) is followed by a fresh observation and the next change, as
// far as a GCP create goes (template, group, traffic), so that a fast cloud converges in one reconcile and
// one status write instead of one per step.
const maxSteps = 4

// step is what the changes of one reconcile did, for its status write.
type step struct {
	// started is an operation a call started that has not ended; once one is under way, nothing else is
	// asked.
	started   *v1alpha1.CloudOperation
	doing     []string
	resized   bool
	adoptedAt *metav1.Time
	// applied is the capacity a resize set; asked is every kind of change asked so far (create, capacity,
	// traffic), none of which is asked twice in a reconcile: a cloud whose reads lag its writes shows the
	// change on the next reconcile, as before.
	applied *v1alpha1.Capacity
	asked   map[string]bool
	// waiting is set when a change was due that was asked already.
	waiting bool
	// called is set when a call asked the cloud for a change: only then can a fresh look show more.
	called bool
}

// reconcileNormal observes the cloud group, takes it over if asked to and allowed, makes at most one
// change of each kind (create, capacity, traffic) per observation, and reports in status what the cloud
// said. A change that took effect at once is observed again right away, up to maxSteps times: each
// operation is checked once, never waited on.
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
	var obs cloud.Observation
	st := step{applied: sg.Status.AppliedCapacity, asked: map[string]bool{}}
	for i := 0; ; i++ {
		if obs, err = c.Observe(cctx, sg); err != nil {
			return r.failed(ctx, sg, "", err)
		}
		if st, err = r.change(cctx, c, sg, obs, st); err != nil {
			return r.failed(ctx, sg, "", err)
		}
		if !st.called || st.waiting || st.adoptedAt != nil || i == maxSteps-1 {
			break
		}
		if st.started != nil {
			// Checked once: one still running, or whose check failed, stays in status for the next
			// reconcile, which reports how it ended.
			if done, opErr := c.Operation(cctx, sg, *st.started); !done || opErr != nil {
				break
			}
		}
	}
	r.slow.Forget(client.ObjectKeyFromObject(sg))

	spec := sg.Spec.Capacity
	// Healthy is the cloud's figure: all of the cloud's desired instances healthy, whoever set it.
	healthy := obs.Exists && !obs.Deleting && !st.resized && obs.Instances.Healthy == obs.Instances.Desired
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
		if st.adoptedAt != nil {
			s.Status.AdoptedAt = st.adoptedAt
		}
		s.Status.Operation = st.started
		if len(st.doing) > 0 {
			reason := v1alpha1.ReasonUpdating
			if !obs.Exists {
				reason = v1alpha1.ReasonCreating
			}
			status.Set(s, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, join(st.doing))
			status.SetProgress(s, status.Working, reason, join(st.doing))
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
	if len(st.doing) > 0 || !healthy {
		return ctrl.Result{RequeueAfter: r.pollAfter(sg)}, nil
	}
	r.polls.Forget(client.ObjectKeyFromObject(sg))
	return ctrl.Result{RequeueAfter: r.Resync}, nil
}

// change makes at most one change of each kind that obs shows is due and that was not asked already in
// this reconcile (prev), and says what it did.
func (r *Reconciler) change(cctx context.Context, c cloud.Client, sg *v1alpha1.ServerGroup, obs cloud.Observation, prev step) (step, error) {
	st := step{applied: prev.applied, asked: prev.asked, adoptedAt: prev.adoptedAt}
	// ask says whether a change of this kind may be asked now: not if one was asked already that took
	// effect at once (asked records it), whose observation may lag. One whose operation ended may be
	// followed by another (GCP makes a group's template, then the group).
	ask := func(kind string) bool {
		if st.asked[kind] {
			st.waiting = true
			return false
		}
		return true
	}
	asked := func(kind string, op *v1alpha1.CloudOperation) {
		st.called = true
		if op == nil {
			st.asked[kind] = true
		}
	}
	now := metav1.Now()
	if obs.Exists {
		adopt, err := cloud.Claim(sg, "the cloud server group "+sg.Name, obs.Owner)
		if err != nil {
			return st, err
		}
		if adopt && !obs.Deleting {
			op, err := c.Adopt(cctx, sg)
			if err != nil {
				return st, err
			}
			st.started = startedAt(op, now)
			st.adoptedAt = &now
			r.event(sg, corev1.EventTypeNormal, EventAdopted, "Adopt", "took over the cloud server group (%s), as annotation %s asks", obs.Owner, v1alpha1.AnnotationAdopt)
			if st.started != nil {
				st.doing = append(st.doing, "adopting")
				return st, nil
			}
			// Taken over at once: from now on the spec governs it, in this same look.
		}
	}

	// What it did shows on the next observation.
	spec := sg.Spec.Capacity
	switch {
	case !obs.Exists && !ask("create"):
		st.doing = append(st.doing, "creating")
	case !obs.Exists:
		op, err := c.Create(cctx, sg)
		if err != nil {
			return st, err
		}
		asked("create", op)
		applied := spec // made with the spec's capacity
		st.applied = &applied
		st.started = startedAt(op, now)
		r.event(sg, corev1.EventTypeNormal, EventCreated, "Create", "created the cloud server group with capacity %s", capacity(spec))
		st.doing = append(st.doing, "creating")
	case obs.Deleting:
		// Deleted in the cloud behind our back: it is made again once the cloud is done.
		st.doing = append(st.doing, "waiting for the cloud to finish deleting a group of this name")
	default:
		if want, set := capacityToSet(spec, st.applied, obs.Capacity, sg.Spec.DesiredDrift); set && !ask("capacity") {
			st.doing = append(st.doing, "resizing to "+capacity(want))
			st.resized = true
		} else if set {
			op, err := c.UpdateCapacity(cctx, sg, want)
			if err != nil {
				return st, err
			}
			asked("capacity", op)
			st.started = startedAt(op, now)
			r.event(sg, corev1.EventTypeNormal, EventResized, "UpdateCapacity", "capacity %s -> %s", capacity(obs.Capacity), capacity(want))
			st.doing = append(st.doing, "resizing to "+capacity(want))
			st.resized = true
			applied := spec
			st.applied = &applied
		}
		if obs.Traffic != sg.Spec.Traffic && st.started == nil && !st.waiting && !ask("traffic") {
			st.doing = append(st.doing, "setting traffic "+string(sg.Spec.Traffic))
		} else if obs.Traffic != sg.Spec.Traffic && st.started == nil && !st.waiting {
			op, err := c.SetTraffic(cctx, sg, sg.Spec.Traffic)
			if err != nil {
				return st, err
			}
			asked("traffic", op)
			st.started = startedAt(op, now)
			r.event(sg, corev1.EventTypeNormal, eventTraffic(sg.Spec.Traffic), "SetTraffic", "traffic %s", sg.Spec.Traffic)
			st.doing = append(st.doing, "setting traffic "+string(sg.Spec.Traffic))
		}
	}
	return st, nil
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
		return false, ctrl.Result{RequeueAfter: r.pollAfter(sg)}, nil
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
