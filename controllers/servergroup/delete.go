package servergroup

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	"github.com/gennaker/gennaker/controllers/status"
)

// reconcileDelete does what deletionPolicy says to the cloud group, then removes the finalizer: Orphan
// leaves it without a cloud call; Delete deletes it and waits until it is gone, unless it is not the
// ServerGroup's, which is left alone.
func (r *Reconciler) reconcileDelete(ctx context.Context, sg *v1alpha1.ServerGroup) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(sg, Finalizer) {
		return ctrl.Result{}, nil
	}
	if sg.Spec.DeletionPolicy == v1alpha1.DeletionOrphan {
		r.event(sg, corev1.EventTypeNormal, EventOrphaned, "Delete",
			"left the cloud server group as it is (deletionPolicy %s); a ServerGroup of this namespace and name can take it back with annotation %s=%s",
			v1alpha1.DeletionOrphan, v1alpha1.AnnotationAdopt, sg.Name)
		return ctrl.Result{}, r.removeFinalizer(ctx, sg)
	}
	cctx, cancel := r.cloudContext(ctx)
	defer cancel()
	c, reason, err := r.client(cctx, sg)
	if err != nil {
		if reason != "" && neverCreated(sg) {
			// No cloud call was ever allowed for this group, so there is nothing in the cloud to delete.
			return ctrl.Result{}, r.removeFinalizer(ctx, sg)
		}
		return r.failed(ctx, sg, reason, fmt.Errorf("cannot delete the cloud server group: %w", err))
	}
	if sg.Status.Operation != nil {
		if ended, res, err := r.awaitOperation(ctx, cctx, c, sg); !ended {
			return res, err
		}
	}
	gone, op, err := c.Delete(cctx, sg)
	announced := status.Reason(sg, v1alpha1.ConditionReady) == v1alpha1.ReasonDeleting
	if err == nil && !gone && op != nil {
		// Checked once; one that has ended already lets the next step of the deletion go now.
		if done, opErr := c.Operation(cctx, sg, *op); done && opErr == nil {
			if !announced {
				r.event(sg, corev1.EventTypeNormal, EventDeleting, "Delete", "deleting the cloud server group")
				announced = true
			}
			gone, op, err = c.Delete(cctx, sg)
		}
	}
	var oe *cloud.OwnerError
	if errors.As(err, &oe) {
		r.event(sg, corev1.EventTypeWarning, EventNotOwned, "Delete",
			"left %s alone, since it is not this ServerGroup's: %s", oe.Object, oe.Owner)
		return ctrl.Result{}, r.removeFinalizer(ctx, sg)
	}
	if err != nil {
		return r.failed(ctx, sg, "", err)
	}
	if !gone {
		if !announced {
			r.event(sg, corev1.EventTypeNormal, EventDeleting, "Delete", "deleting the cloud server group")
		}
		op = startedAt(op, metav1.Now())
		if err := status.Patch(ctx, r.Client, sg, func(s *v1alpha1.ServerGroup) {
			s.Status.Operation = op
			status.Set(s, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonDeleting, "deleting the cloud server group and its instances")
			status.SetProgress(s, status.Working, v1alpha1.ReasonDeleting, "deleting the cloud server group and its instances")
		}); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{RequeueAfter: r.pollAfter(sg)}, nil
	}
	r.event(sg, corev1.EventTypeNormal, EventDeleted, "Delete", "the cloud server group is gone")
	return ctrl.Result{}, r.removeFinalizer(ctx, sg)
}

// neverCreated says the group's status shows it never made anything in the cloud: no cloud call was
// allowed, or the only group it ever saw was not its own.
func neverCreated(sg *v1alpha1.ServerGroup) bool {
	if sg.Status.ProviderID != "" {
		return false
	}
	switch status.Reason(sg, v1alpha1.ConditionReady) {
	case "", v1alpha1.ReasonAccountNotFound, v1alpha1.ReasonAccountNotAllowed, v1alpha1.ReasonNotOwned:
		return true
	}
	return false
}

func (r *Reconciler) removeFinalizer(ctx context.Context, sg *v1alpha1.ServerGroup) error {
	patch := client.MergeFrom(sg.DeepCopy())
	controllerutil.RemoveFinalizer(sg, Finalizer)
	if err := r.Patch(ctx, sg, patch); err != nil {
		return client.IgnoreNotFound(err)
	}
	r.slow.Forget(client.ObjectKeyFromObject(sg))
	r.polls.Forget(client.ObjectKeyFromObject(sg))
	return nil
}
