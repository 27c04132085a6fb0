// Package servergroup holds the ServerGroup reconciler, the only caller of a cloud Client: it makes the
// cloud's server group match the spec (exists, capacity, traffic), reports what the cloud says in status,
// and deletes the cloud group before the object goes.
package servergroup

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	"github.com/gennaker/gennaker/controllers/cloudaccount"
	"github.com/gennaker/gennaker/controllers/index"
	"github.com/gennaker/gennaker/controllers/status"
)

// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=servergroups/finalizers,verbs=update
// +kubebuilder:rbac:groups=delivery.gennaker.io,resources=cloudaccounts,verbs=get;list;watch

// Finalizer keeps a ServerGroup until its cloud group is gone.
const Finalizer = "delivery.gennaker.io/cloud-resource"

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
	// Workers is how many groups are reconciled at once; 0 means DefaultWorkers.
	Workers int
}

// DefaultWorkers is how many ServerGroups are reconciled at once unless the manager's flag says otherwise.
const DefaultWorkers = 4

// Reconcile converges one server group.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var sg v1alpha1.ServerGroup
	if err := r.Get(ctx, req.NamespacedName, &sg); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !sg.DeletionTimestamp.IsZero() {
		return r.delete(ctx, &sg)
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
	c, reason, err := r.client(ctx, &sg)
	if err != nil {
		return r.failed(ctx, &sg, reason, err)
	}
	obs, err := c.Observe(ctx, &sg)
	if err != nil {
		return r.failed(ctx, &sg, "", err)
	}

	// One change per kind per reconcile; what it did shows on the next observation.
	var doing []string
	switch {
	case !obs.Exists:
		if err := c.Create(ctx, &sg); err != nil {
			return r.failed(ctx, &sg, "", err)
		}
		r.event(&sg, corev1.EventTypeNormal, "Created", "Create", "created the cloud server group with capacity %s", capacity(sg.Spec.Capacity))
		doing = append(doing, "creating")
	case obs.Deleting:
		// Deleted in the cloud behind our back: it is made again once the cloud is done.
		doing = append(doing, "waiting for the cloud to finish deleting a group of this name")
	default:
		if obs.Capacity != sg.Spec.Capacity {
			if err := c.UpdateCapacity(ctx, &sg, sg.Spec.Capacity); err != nil {
				return r.failed(ctx, &sg, "", err)
			}
			r.event(&sg, corev1.EventTypeNormal, "Resized", "UpdateCapacity", "capacity %s -> %s", capacity(obs.Capacity), capacity(sg.Spec.Capacity))
			doing = append(doing, "resizing to "+capacity(sg.Spec.Capacity))
		}
		if obs.Traffic != sg.Spec.Traffic {
			if err := c.SetTraffic(ctx, &sg, sg.Spec.Traffic); err != nil {
				return r.failed(ctx, &sg, "", err)
			}
			r.event(&sg, corev1.EventTypeNormal, "Traffic"+string(sg.Spec.Traffic), "SetTraffic", "traffic %s", sg.Spec.Traffic)
			doing = append(doing, "setting traffic "+string(sg.Spec.Traffic))
		}
	}

	healthy := obs.Exists && !obs.Deleting && obs.Instances.Healthy == sg.Spec.Capacity.Desired && obs.Instances.Desired == sg.Spec.Capacity.Desired
	if err := status.Patch(ctx, r.Client, &sg, func(s *v1alpha1.ServerGroup) {
		if obs.ProviderID != "" {
			s.Status.ProviderID = obs.ProviderID
		}
		s.Status.Instances = obs.Instances
		s.Status.Traffic = obs.Traffic
		if !obs.Exists {
			s.Status.Traffic = ""
		}
		if len(doing) > 0 {
			reason := v1alpha1.ReasonUpdating
			if !obs.Exists {
				reason = v1alpha1.ReasonCreating
			}
			status.Set(s, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, join(doing))
		} else {
			status.Set(s, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable,
				fmt.Sprintf("capacity %s, traffic %s", capacity(obs.Capacity), obs.Traffic))
		}
		status.Set(s, v1alpha1.ConditionHealthy, boolCondition(healthy), healthReason(healthy), healthMessage(sg.Spec.Capacity.Desired, obs))
		status.Set(s, v1alpha1.ConditionTrafficEnabled, boolCondition(obs.Traffic == v1alpha1.TrafficEnabled),
			"Traffic"+string(orDisabled(obs.Traffic)), trafficMessage(&sg, obs))
	}); err != nil {
		return ctrl.Result{}, err
	}
	if len(doing) > 0 || !healthy {
		return ctrl.Result{RequeueAfter: r.Poll}, nil
	}
	return ctrl.Result{RequeueAfter: r.Resync}, nil
}

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

// failed records why the group cannot converge. A transient cloud error is returned, so the controller
// backs off; anything else waits for a change of the group or its account.
func (r *Reconciler) failed(ctx context.Context, sg *v1alpha1.ServerGroup, reason string, err error) (ctrl.Result, error) {
	var ce *cloud.Error
	isCloud := errors.As(err, &ce)
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
	}); perr != nil {
		return ctrl.Result{}, perr
	}
	r.event(sg, corev1.EventTypeWarning, reason, "Reconcile", "%v", err)
	log.FromContext(ctx).Info("server group cannot converge", "reason", reason, "error", err.Error())
	if !isCloud || cloud.Retryable(err) {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// delete removes the cloud group, then the finalizer.
func (r *Reconciler) delete(ctx context.Context, sg *v1alpha1.ServerGroup) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(sg, Finalizer) {
		return ctrl.Result{}, nil
	}
	c, reason, err := r.client(ctx, sg)
	if err != nil {
		if reason != "" && neverCreated(sg) {
			// No cloud call was ever allowed for this group, so there is nothing in the cloud to delete.
			return ctrl.Result{}, r.removeFinalizer(ctx, sg)
		}
		return r.failed(ctx, sg, reason, fmt.Errorf("cannot delete the cloud server group: %w", err))
	}
	gone, err := c.Delete(ctx, sg)
	if err != nil {
		return r.failed(ctx, sg, "", err)
	}
	if !gone {
		if status.Reason(sg, v1alpha1.ConditionReady) != v1alpha1.ReasonDeleting {
			r.event(sg, corev1.EventTypeNormal, "Deleting", "Delete", "deleting the cloud server group")
		}
		if err := status.Patch(ctx, r.Client, sg, func(s *v1alpha1.ServerGroup) {
			status.Set(s, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonDeleting, "deleting the cloud server group and its instances")
		}); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{RequeueAfter: r.Poll}, nil
	}
	r.event(sg, corev1.EventTypeNormal, "Deleted", "Delete", "the cloud server group is gone")
	return ctrl.Result{}, r.removeFinalizer(ctx, sg)
}

// neverCreated says the group's status shows no cloud call was ever made for it.
func neverCreated(sg *v1alpha1.ServerGroup) bool {
	if sg.Status.ProviderID != "" {
		return false
	}
	switch status.Reason(sg, v1alpha1.ConditionReady) {
	case "", v1alpha1.ReasonAccountNotFound, v1alpha1.ReasonAccountNotAllowed:
		return true
	}
	return false
}

func (r *Reconciler) removeFinalizer(ctx context.Context, sg *v1alpha1.ServerGroup) error {
	patch := client.MergeFrom(sg.DeepCopy())
	controllerutil.RemoveFinalizer(sg, Finalizer)
	return client.IgnoreNotFound(r.Patch(ctx, sg, patch))
}

func (r *Reconciler) event(sg *v1alpha1.ServerGroup, typ, reason, action, format string, args ...any) {
	r.Recorder.Eventf(sg, nil, typ, reason, action, format, args...)
}

// SetupWithManager registers the reconciler. Its own status writes do not bring a group back; it polls
// while converging instead, because the cloud, not the API server, is what changes. A change of an
// account (allowed namespaces, credentials, readiness) brings back the groups in it.
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
	if r.Workers <= 0 {
		r.Workers = DefaultWorkers
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ServerGroup{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, deleting))).
		Watches(&v1alpha1.CloudAccount{}, handler.EnqueueRequestsFromMapFunc(r.groupsOf)).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: r.Workers,
			RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](r.Poll/5+time.Millisecond, r.MaxBackoff),
		}).
		Named("servergroup").
		Complete(r)
}

// deleting passes the update that marks a group for deletion (a finalizer holds it).
var deleting = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return !e.ObjectNew.GetDeletionTimestamp().IsZero() && e.ObjectOld.GetDeletionTimestamp().IsZero()
	},
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
