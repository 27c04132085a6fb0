package servergroup

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	"github.com/gennaker/gennaker/controllers/cloudaccount"
	"github.com/gennaker/gennaker/controllers/status"
)

// client returns the cloud client of the group's account, or why there is none: the account is missing
// or does not allow this namespace, in which case no cloud call is made at all.
func (r *Reconciler) client(ctx context.Context, sg *v1alpha1.ServerGroup) (cloud.Client, string, error) {
	var account v1alpha1.CloudAccount
	if err := r.Get(ctx, client.ObjectKey{Name: sg.Spec.Account}, &account); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, v1alpha1.ReasonAccountNotFound, fmt.Errorf("spec.account: CloudAccount %s not found", sg.Spec.Account)
		}
		return nil, "", err
	}
	if ok, msg := cloudaccount.Allowed(&account, sg.Namespace); !ok {
		return nil, v1alpha1.ReasonAccountNotAllowed, errors.New("spec.account: " + msg)
	}
	c, err := r.Clients.For(ctx, &account)
	return c, "", err
}

// failed records why the group cannot converge, in Ready and an Event. A transient error is returned, so
// the controller retries it with its backoff; one that needs a person (an account, a permission, a spec,
// an adoption) is looked at again slowly, 30 s doubling to 10 minutes by default, since the fix is often
// made in the cloud, where nothing tells the operator.
func (r *Reconciler) failed(ctx context.Context, sg *v1alpha1.ServerGroup, reason string, err error) (ctrl.Result, error) {
	var ce *cloud.Error
	isCloud := errors.As(err, &ce)
	needsPerson := reason != "" || (isCloud && !cloud.Retryable(err))
	if reason == "" {
		switch {
		case !isCloud:
			reason = string(cloud.Unknown)
		case ce.Reason == cloud.InvalidRequest || ce.Reason == cloud.NotFound:
			reason = v1alpha1.ReasonInvalidRequest
		default:
			reason = string(ce.Reason)
		}
	}
	if perr := status.Patch(ctx, r.Client, sg, func(s *v1alpha1.ServerGroup) {
		status.Set(s, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, err.Error())
		status.SetProgress(s, progressOf(needsPerson), reason, err.Error())
	}); perr != nil {
		return ctrl.Result{}, perr
	}
	r.event(sg, corev1.EventTypeWarning, reason, "Reconcile", "%v", err)
	log.FromContext(ctx).Info("server group cannot converge", "reason", reason, "error", err.Error())
	if !needsPerson {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.slow.When(client.ObjectKeyFromObject(sg))}, nil
}
