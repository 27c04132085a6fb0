// Package servergroup holds the ServerGroup reconciler, the only caller of a cloud Client: it makes the
// cloud's server group match the spec (exists, capacity, traffic), reports what the cloud says in status,
// and deletes the cloud group before the object goes. It acts only on a cloud group whose owner tags name
// the ServerGroup (cloud.Claim): any other is reported NotOwned and left alone, unless the ServerGroup asks
// to adopt it.
package servergroup

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	"github.com/gennaker/gennaker/controllers/index"
)

// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups/finalizers,verbs=update
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=cloudaccounts,verbs=get;list;watch

// Finalizer keeps a ServerGroup until its cloud group is gone (or left, by deletionPolicy Orphan).
const Finalizer = "delivery.gennaker.io/cloud-resource"

// Defaults of the Reconciler's settings.
const (
	// DefaultWorkers is how many ServerGroups are reconciled at once unless the manager's flag says
	// otherwise.
	DefaultWorkers = 4
	// DefaultTimeout bounds the cloud calls of one reconcile, well under a minute, so that a slow cloud
	// ends in a retryable error on the group instead of a worker stuck for everyone.
	DefaultTimeout = 30 * time.Second
	// DefaultOperationTimeout is how long a cloud operation is waited for before the group is observed
	// afresh: far longer than any create, resize or traffic change takes, so that only an operation the
	// cloud lost or never finishes (a stuck GCP operation, an Azure poller whose operation is gone) ends
	// this way, and no ServerGroup, deletion included, waits on one forever.
	DefaultOperationTimeout = time.Hour
	// DefaultSlowBackoff is the first wait after an error only a person can fix (AccessDenied,
	// InvalidRequest, NotFound, NotOwned); it doubles up to 20 times that (10 minutes).
	DefaultSlowBackoff = 30 * time.Second
)

// Reconciler makes cloud server groups match ServerGroups.
type Reconciler struct {
	client.Client
	Clients  *cloud.Clients
	Recorder events.EventRecorder
	// Poll is how often a group that has not converged (creating, resizing, not all healthy, deleting) is
	// looked at again.
	Poll time.Duration
	// Resync is how often a converged group is looked at, so a change made in the cloud shows.
	Resync time.Duration
	// MaxBackoff bounds the wait after a transient cloud error.
	MaxBackoff time.Duration
	// SlowBackoff is the first wait after an error that needs a person, often in the cloud where nothing
	// tells the operator it was fixed (a permission granted); 0 means DefaultSlowBackoff.
	SlowBackoff time.Duration
	// Timeout bounds the cloud calls of one reconcile; 0 means DefaultTimeout.
	Timeout time.Duration
	// OperationTimeout is how long a long-running cloud operation is waited for; 0 means
	// DefaultOperationTimeout.
	OperationTimeout time.Duration
	// Workers is how many groups are reconciled at once; 0 means DefaultWorkers.
	Workers int

	// slow spaces the retries of errors that need a person, per group.
	slow workqueue.TypedRateLimiter[types.NamespacedName]
	// polls spaces the looks at a group that has not converged: 50 ms (or Poll, if shorter) doubling up
	// to Poll, so that a change a cloud makes in a moment is seen in a moment, and one that takes minutes
	// costs a handful of extra looks at most.
	polls workqueue.TypedRateLimiter[types.NamespacedName]
}

// firstPoll is the first wait before a group that has not converged is looked at again.
const firstPoll = 50 * time.Millisecond

// pollAfter is when to look again at a group that has not converged.
func (r *Reconciler) pollAfter(sg *v1alpha1.ServerGroup) time.Duration {
	return r.polls.When(client.ObjectKeyFromObject(sg))
}

// Reconcile converges one server group.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var sg v1alpha1.ServerGroup
	if err := r.Get(ctx, req.NamespacedName, &sg); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !sg.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, &sg)
	}
	cluster := sg.Spec.ClusterName()
	labelable := len(cluster) <= validation.LabelValueMaxLength
	if !controllerutil.ContainsFinalizer(&sg, Finalizer) || (labelable && sg.Labels[v1alpha1.LabelCluster] != cluster) {
		// The finalizer goes on before any cloud call: a group made before it is there could outlive its
		// object. The cluster label is what deploy stages find a cluster's groups by, so a group written
		// by hand without it still counts; the name parts it comes from are immutable.
		patch := client.MergeFrom(sg.DeepCopy())
		controllerutil.AddFinalizer(&sg, Finalizer)
		if sg.Labels == nil {
			sg.Labels = map[string]string{}
		}
		if labelable {
			sg.Labels[v1alpha1.LabelCluster] = cluster
		}
		if err := r.Patch(ctx, &sg, patch); err != nil {
			return ctrl.Result{}, err
		}
	}
	return r.reconcileNormal(ctx, &sg)
}

// cloudContext is ctx with the deadline of a reconcile's cloud calls. Status writes use the parent
// context, so that a reconcile whose cloud calls ran out of time can still say so.
func (r *Reconciler) cloudContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.Timeout)
}

// SetupWithManager registers the reconciler. Its own status writes do not bring a group back; it polls
// while converging instead, because the cloud, not the API server, is what changes. A change of an
// account that matters to its groups (its spec, its readiness, its deletion) brings them back; one of the
// account's own status (how many groups use it) does not.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("servergroup-controller")
	}
	if r.Poll == 0 {
		r.Poll = 5 * time.Second
	}
	if r.Resync == 0 {
		r.Resync = 5 * time.Minute
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = time.Minute
	}
	if r.SlowBackoff <= 0 {
		r.SlowBackoff = DefaultSlowBackoff
	}
	if r.Timeout <= 0 {
		r.Timeout = DefaultTimeout
	}
	if r.OperationTimeout <= 0 {
		r.OperationTimeout = DefaultOperationTimeout
	}
	if r.Workers <= 0 {
		r.Workers = DefaultWorkers
	}
	r.slow = workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](r.SlowBackoff, 20*r.SlowBackoff)
	r.polls = workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](min(firstPoll, r.Poll), r.Poll)
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ServerGroup{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, deleting, adoptRequested))).
		Watches(&v1alpha1.CloudAccount{}, handler.EnqueueRequestsFromMapFunc(r.groupsOf), builder.WithPredicates(accountChanged)).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: r.Workers,
			RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](r.Poll/5+time.Millisecond, r.MaxBackoff),
		}).
		Named("servergroup").
		Complete(r)
}

// groupsOf maps an account to its server groups.
func (r *Reconciler) groupsOf(ctx context.Context, o client.Object) []reconcile.Request {
	var list v1alpha1.ServerGroupList
	if err := r.List(ctx, &list, client.MatchingFields{index.ServerGroupAccount: o.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "listing the server groups of an account")
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, sg := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&sg)})
	}
	return out
}
