// Package cloudaccount holds the CloudAccount reconciler: it resolves an account's credentials, proves
// them with one cheap authenticated call, and says in Ready whether the account can be used and, if not,
// why, without ever showing a credential.
package cloudaccount

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	"github.com/gennaker/gennaker/controllers/index"
	"github.com/gennaker/gennaker/controllers/status"
)

// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=cloudaccounts,verbs=get;list;watch
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=cloudaccounts/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// ReasonVerified is Ready's reason once the cloud accepted the credentials.
const ReasonVerified = "Verified"

// Reconciler checks CloudAccounts.
type Reconciler struct {
	client.Client
	Clients  *cloud.Clients
	Recorder events.EventRecorder
	// Recheck is how often a Ready account is checked again, so expired or revoked credentials show.
	Recheck time.Duration
}

// Reconcile resolves and checks one account.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var account v1alpha1.CloudAccount
	if err := r.Get(ctx, req.NamespacedName, &account); err != nil {
		if apierrors.IsNotFound(err) {
			r.Clients.Forget(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	identity, err := r.verify(ctx, &account)
	cond, reason, msg := metav1.ConditionTrue, ReasonVerified, "authenticated as "+identity
	if err != nil {
		cond, reason, msg = metav1.ConditionFalse, string(cloud.ReasonOf(err)), err.Error()
	}
	before := status.Reason(&account, v1alpha1.ConditionReady)
	if err := status.Patch(ctx, r.Client, &account, func(a *v1alpha1.CloudAccount) {
		status.Set(a, v1alpha1.ConditionReady, cond, reason, msg)
	}); err != nil {
		return ctrl.Result{}, err
	}
	if reason != before {
		if err == nil {
			r.Recorder.Eventf(&account, nil, corev1.EventTypeNormal, ReasonVerified, "Verify", "%s", msg)
		} else {
			r.Recorder.Eventf(&account, nil, corev1.EventTypeWarning, reason, "Verify", "%s", msg)
		}
	}
	if err != nil {
		log.FromContext(ctx).Info("account not ready", "reason", reason, "message", msg)
		if cloud.Retryable(err) {
			// Returned, so that the controller's rate limiter backs off; the condition already says why.
			return ctrl.Result{}, err
		}
		// Only a change of the account or its Secret can help, and both are watched; still look again
		// later, because a permission can be granted in the cloud without either changing.
		return ctrl.Result{RequeueAfter: r.Recheck}, nil
	}
	return ctrl.Result{RequeueAfter: r.Recheck}, nil
}

func (r *Reconciler) verify(ctx context.Context, account *v1alpha1.CloudAccount) (string, error) {
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

// SetupWithManager registers the reconciler. It watches the Secrets accounts point at, through a
// metadata-only informer: a rotated key is picked up at once, and no Secret's data is cached.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("cloudaccount-controller")
	}
	if r.Recheck == 0 {
		r.Recheck = 10 * time.Minute
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.CloudAccount{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.accountsOf)).
		Named("cloudaccount").
		Complete(r)
}

// accountsOf maps a Secret to the accounts whose credentials it holds.
func (r *Reconciler) accountsOf(ctx context.Context, o client.Object) []reconcile.Request {
	var list v1alpha1.CloudAccountList
	if err := r.List(ctx, &list, client.MatchingFields{index.AccountSecret: o.GetNamespace() + "/" + o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing the accounts of a secret")
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, a := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&a)})
	}
	return out
}

// Allowed says whether a namespace may use the account, and if not, a message naming the field.
func Allowed(account *v1alpha1.CloudAccount, namespace string) (bool, string) {
	for _, ns := range account.Spec.AllowedNamespaces {
		if ns == namespace {
			return true, ""
		}
	}
	return false, fmt.Sprintf("namespace %s is not in the allowedNamespaces of CloudAccount %s", namespace, account.Name)
}
