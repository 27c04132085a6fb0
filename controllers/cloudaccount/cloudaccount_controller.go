// Package cloudaccount holds the CloudAccount reconciler: it resolves an account's credentials, proves
// them with one cheap authenticated call, and says in Ready whether the account can be used and, if not,
// why, without ever showing a credential. It also holds the account while ServerGroups use it (a
// finalizer, in the manner of Crossplane's ProviderConfigUsage), since nothing else could delete their
// cloud groups, and says in status which ones do.
package cloudaccount

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	"github.com/gennaker/gennaker/controllers/index"
)

// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=cloudaccounts,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=cloudaccounts/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=cloudaccounts/finalizers,verbs=update
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// ReasonVerified is Ready's reason once the cloud accepted the credentials.
const ReasonVerified = "Verified"

// Finalizer holds every account while ServerGroups use it: deleting it waits until they are gone.
const Finalizer = "delivery.gennaker.io/in-use"

// Defaults of the Reconciler's settings.
const (
	DefaultRecheck = 10 * time.Minute
	// DefaultTimeout bounds the cloud call of one reconcile.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxBackoff bounds the wait after a transient failure (the endpoint is down, throttling).
	DefaultMaxBackoff = time.Minute
	// DefaultSlowBackoff is the first wait after a failure only a person can fix (credentials refused, a
	// permission missing); it doubles up to 20 times that.
	DefaultSlowBackoff = 30 * time.Second
	// ShardedUsagePoll is how often a sharded manager (EveryShard) counts an account's ServerGroups again,
	// and so lets an account being deleted go once the last one, of whichever shard, is gone.
	ShardedUsagePoll = 10 * time.Second
)

// Reconciler checks CloudAccounts and keeps their usage.
type Reconciler struct {
	client.Client
	Clients  *cloud.Clients
	Recorder events.EventRecorder
	// Recheck is how often a Ready account is checked again, so expired or revoked credentials show.
	Recheck time.Duration
	// Timeout bounds the cloud call of one reconcile; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxBackoff bounds the wait after a transient failure; 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// SlowBackoff is the first wait after a failure that needs a person; 0 means DefaultSlowBackoff.
	SlowBackoff time.Duration
	// EveryShard, if set, lists the ServerGroups of every shard (the API server, by field selector): the
	// manager's cache holds only its own shard's (controllers.WithWatchSelector), and an account shared by
	// the shards must not let go of groups another shard runs.
	EveryShard client.Reader

	// fast and slow space the checks after a failure, per account.
	fast, slow workqueue.TypedRateLimiter[string]
	mu         sync.Mutex
	checks     map[string]check
}

// check is the last look at an account's credentials: which credentials (cloud.Clients.Version) and when
// to look again. An account reconciled for another reason (one of its ServerGroups came or went) is not
// checked again before that.
type check struct {
	version string
	next    time.Time
}

// Reconcile keeps the account's finalizer and usage, and checks its credentials when they changed or a
// check is due.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var account v1alpha1.CloudAccount
	if err := r.Get(ctx, req.NamespacedName, &account); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	deleting := !account.DeletionTimestamp.IsZero()
	if !deleting && !controllerutil.ContainsFinalizer(&account, Finalizer) {
		patch := client.MergeFrom(account.DeepCopy())
		controllerutil.AddFinalizer(&account, Finalizer)
		if err := r.Patch(ctx, &account, patch); err != nil {
			return ctrl.Result{}, err
		}
	}
	users, err := r.users(ctx, account.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	if deleting {
		return r.reconcileDelete(ctx, &account, users)
	}
	return r.reconcileNormal(ctx, &account, users)
}

// SetupWithManager registers the reconciler. It watches the Secrets accounts point at, through a
// metadata-only informer: a rotated key is picked up at once, and no Secret's data is cached. It watches
// the ServerGroups that come and go, to keep each account's usage, without a cloud call for them.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("cloudaccount-controller")
	}
	if r.Recheck <= 0 {
		r.Recheck = DefaultRecheck
	}
	if r.Timeout <= 0 {
		r.Timeout = DefaultTimeout
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = DefaultMaxBackoff
	}
	if r.SlowBackoff <= 0 {
		r.SlowBackoff = DefaultSlowBackoff
	}
	r.fast = workqueue.NewTypedItemExponentialFailureRateLimiter[string](min(time.Second, r.MaxBackoff), r.MaxBackoff)
	r.slow = workqueue.NewTypedItemExponentialFailureRateLimiter[string](r.SlowBackoff, 20*r.SlowBackoff)
	r.checks = map[string]check{}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.CloudAccount{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, deletionStarted))).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.accountsOf)).
		Watches(&v1alpha1.ServerGroup{}, handler.EnqueueRequestsFromMapFunc(accountOf), builder.WithPredicates(comesOrGoes)).
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

// accountOf maps a ServerGroup to its account.
func accountOf(_ context.Context, o client.Object) []reconcile.Request {
	sg, ok := o.(*v1alpha1.ServerGroup)
	if !ok || sg.Spec.Account == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: sg.Spec.Account}}}
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
