package cloudaccount

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/index"
	"github.com/gennaker/gennaker/controllers/status"
)

// users lists, in name order, the ServerGroups (namespace/name) whose spec.account is the account, those
// being deleted included: they need the account to delete their cloud groups.
func (r *Reconciler) users(ctx context.Context, account string) ([]string, error) {
	var names []string
	if r.EveryShard != nil {
		// The cache holds this shard's groups only; the API server has every shard's, selected by field,
		// their metadata only, a page at a time.
		next := ""
		for {
			// A new list each page: decoding into the last one would keep its continue token.
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("ServerGroupList"))
			if err := r.EveryShard.List(ctx, list, client.MatchingFields{"spec.account": account}, client.Limit(500), client.Continue(next)); err != nil {
				return nil, err
			}
			for i := range list.Items {
				names = append(names, list.Items[i].Namespace+"/"+list.Items[i].Name)
			}
			if next = list.Continue; next == "" {
				break
			}
		}
	} else {
		var list v1alpha1.ServerGroupList
		if err := r.List(ctx, &list, client.MatchingFields{index.ServerGroupAccount: account}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		for i := range list.Items {
			names = append(names, list.Items[i].Namespace+"/"+list.Items[i].Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// setUsage writes how many ServerGroups use the account, and the first MaxUsedBy of them.
func setUsage(a *v1alpha1.CloudAccount, users []string) {
	a.Status.ServerGroups = int32(len(users))
	a.Status.UsedBy = nil
	if len(users) > 0 {
		a.Status.UsedBy = slices.Clone(users[:min(len(users), v1alpha1.MaxUsedBy)])
	}
}

// reconcileDelete lets the account go once no ServerGroup uses it; until then Ready says which do.
func (r *Reconciler) reconcileDelete(ctx context.Context, account *v1alpha1.CloudAccount, users []string) (ctrl.Result, error) {
	if len(users) == 0 {
		if controllerutil.ContainsFinalizer(account, Finalizer) {
			patch := client.MergeFrom(account.DeepCopy())
			controllerutil.RemoveFinalizer(account, Finalizer)
			if err := r.Patch(ctx, account, patch); err != nil {
				return ctrl.Result{}, client.IgnoreNotFound(err)
			}
		}
		r.forget(account.Name)
		return ctrl.Result{}, nil
	}
	msg := inUseMessage(users)
	if status.Reason(account, v1alpha1.ConditionReady) != v1alpha1.ReasonInUse {
		r.Recorder.Eventf(account, nil, corev1.EventTypeNormal, v1alpha1.ReasonInUse, "Delete", "%s", msg)
	}
	// The ServerGroups' deletions bring the account back; nothing else can help.
	return ctrl.Result{RequeueAfter: r.recount(0)}, status.Patch(ctx, r.Client, account, func(a *v1alpha1.CloudAccount) {
		setUsage(a, users)
		status.Set(a, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonInUse, msg)
		status.SetProgress(a, status.Working, v1alpha1.ReasonInUse, msg)
	})
}

// inUseMessage names the ServerGroups a deletion waits for.
func inUseMessage(users []string) string {
	named := users[:min(len(users), v1alpha1.MaxUsedBy)]
	msg := fmt.Sprintf("being deleted, and waiting for the %d ServerGroups that use it to go: %s", len(users), strings.Join(named, ", "))
	if len(users) == 1 {
		msg = "being deleted, and waiting for the ServerGroup that uses it to go: " + users[0]
	}
	if more := len(users) - len(named); more > 0 {
		msg += fmt.Sprintf(" and %d more", more)
	}
	return msg
}

// deletionStarted passes the update that marks an account for deletion (the finalizer holds it).
var deletionStarted = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return !e.ObjectNew.GetDeletionTimestamp().IsZero() && e.ObjectOld.GetDeletionTimestamp().IsZero()
	},
}

// comesOrGoes passes the ServerGroups that are made or gone, which change their account's usage; a
// ServerGroup's account cannot change, so its updates do not.
var comesOrGoes = predicate.Funcs{
	UpdateFunc: func(event.UpdateEvent) bool { return false },
}

// recount is when to look at an account again: after, or at most ShardedUsagePoll when every shard's
// groups count (EveryShard), since the other shards' groups coming and going do not reach this manager's
// watch. 0 is never.
func (r *Reconciler) recount(after time.Duration) time.Duration {
	if r.EveryShard == nil || (after > 0 && after <= ShardedUsagePoll) {
		return after
	}
	return ShardedUsagePoll
}
