package cloudaccount

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	"github.com/gennaker/gennaker/controllers/status"
)

// reconcileNormal writes the account's usage and, when a check is due, checks its credentials.
func (r *Reconciler) reconcileNormal(ctx context.Context, account *v1alpha1.CloudAccount, users []string) (ctrl.Result, error) {
	due, version, next := r.due(ctx, account)
	if !due {
		return ctrl.Result{RequeueAfter: r.recount(time.Until(next))}, status.Patch(ctx, r.Client, account, func(a *v1alpha1.CloudAccount) {
			setUsage(a, users)
		})
	}
	identity, err := r.verify(ctx, account)
	cond, reason, msg := metav1.ConditionTrue, ReasonVerified, "authenticated as "+identity
	progress := status.Settled
	if err != nil {
		cond, reason, msg = metav1.ConditionFalse, string(cloud.ReasonOf(err)), err.Error()
		// Bad credentials or a missing permission wait for a person (Stalled); a throttled or failing
		// cloud is retried (Reconciling).
		progress = status.Stuck
		if cloud.Retryable(err) {
			progress = status.Working
		}
	}
	before := status.Reason(account, v1alpha1.ConditionReady)
	if err := status.Patch(ctx, r.Client, account, func(a *v1alpha1.CloudAccount) {
		setUsage(a, users)
		status.Set(a, v1alpha1.ConditionReady, cond, reason, msg)
		status.SetProgress(a, progress, reason, msg)
	}); err != nil {
		return ctrl.Result{}, err
	}
	if reason != before {
		if err == nil {
			r.Recorder.Eventf(account, nil, corev1.EventTypeNormal, ReasonVerified, "Verify", "%s", msg)
		} else {
			r.Recorder.Eventf(account, nil, corev1.EventTypeWarning, reason, "Verify", "%s", msg)
		}
	}
	wait := r.Recheck
	switch {
	case err == nil:
		r.fast.Forget(account.Name)
		r.slow.Forget(account.Name)
	case cloud.Retryable(err):
		wait = r.fast.When(account.Name)
	default:
		// Only a person can help: in the account or its Secret, which are watched, or in the cloud (a
		// permission granted), where nothing tells us, so look again now and then.
		wait = r.slow.When(account.Name)
	}
	if err != nil {
		log.FromContext(ctx).Info("account not ready", "reason", reason, "message", msg, "retryIn", wait.String())
	}
	r.record(account.Name, check{version: version, next: time.Now().Add(wait)})
	return ctrl.Result{RequeueAfter: r.recount(wait)}, nil
}

// due says whether the account's credentials are to be checked: never checked by this process, changed
// since (the account's spec, its Secret), or the time for the next check has come. It returns the
// credentials' version, and when the next check is due otherwise.
func (r *Reconciler) due(ctx context.Context, account *v1alpha1.CloudAccount) (bool, string, time.Time) {
	version, err := r.Clients.Version(ctx, account)
	if err != nil {
		return true, "", time.Time{}
	}
	r.mu.Lock()
	last, ok := r.checks[account.Name]
	r.mu.Unlock()
	if !ok || last.version != version || !time.Now().Before(last.next) {
		return true, version, time.Time{}
	}
	return false, version, last.next
}

func (r *Reconciler) record(account string, c check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks[account] = c
}

// forget drops what the reconciler and the client cache keep of a deleted account.
func (r *Reconciler) forget(account string) {
	r.Clients.Forget(account)
	r.mu.Lock()
	delete(r.checks, account)
	r.mu.Unlock()
	r.fast.Forget(account)
	r.slow.Forget(account)
}

// verify makes the account's one cheap authenticated call, within the reconcile's deadline.
func (r *Reconciler) verify(ctx context.Context, account *v1alpha1.CloudAccount) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	c, err := r.Clients.For(ctx, account)
	if err != nil {
		return "", err
	}
	id, err := c.Verify(ctx)
	if err != nil {
		var ce *cloud.Error
		if !errors.As(err, &ce) {
			err = &cloud.Error{Reason: cloud.Unknown, Op: "Verify", Err: err}
		}
		return "", err
	}
	return id, nil
}
