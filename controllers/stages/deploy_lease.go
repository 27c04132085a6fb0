package stages

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// Two runs deploying one cluster at once would each take the other's new group for an older one, and
// disable or destroy it. A deploy stage therefore holds a coordination.k8s.io Lease per cluster, in the
// run's namespace, from before it makes the cluster's new group until its end is recorded in the run's
// status; a stage that finds another holder waits, saying for whom, and looks again every poll.
//
// The Lease names its holder (spec.holderIdentity: execution/stage) and is owned by the holder's
// Execution, so it goes with it. The stage never deletes it: the stage's end is only computed in memory
// until the run's status is written, and that write may be lost (a conflict, a restart), leaving the stage
// running in the API server. Instead, a Lease whose holder Execution is gone, finished (or marked failed,
// its status refused: AnnotationStatusRefused), or past that stage in its status as the API server has it
// is taken over. It has no duration: holding it is a fact of the
// holder's saved status, not of time. A restarted manager finds its Leases and goes on holding them. A
// stage with several clusters takes their Leases in name order, so two such stages never wait on each
// other. A Lease the API server refuses for good (forbidden, invalid, namespace terminating) fails the
// stage, naming the Lease, instead of retrying without end.

// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update

// clusterLeases takes the Leases of a deploy stage's clusters.
type clusterLeases struct {
	Client    client.Client
	APIReader client.Reader
}

// leaseName is the name of a cluster's Lease: the cluster's name and a hash of its account and region.
func leaseName(c cluster) string {
	sum := sha256.Sum256([]byte(c.Account + "/" + c.Region + "/" + c.Name))
	name := strings.Trim(strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(c.Name)), "-")
	return fmt.Sprintf("deploy-%s-%s", name, hex.EncodeToString(sum[:5]))
}

// holderIdentity is how a Lease names the stage that holds it.
func holderIdentity(s *engine.StageRun) string { return s.Execution.Name + "/" + s.Spec.Name }

// acquire takes the Leases of the clusters, in name order. It returns what the stage waits for, or why it
// fails (a Lease the API server refuses for good); both are "" once the stage holds them all.
func (l clusterLeases) acquire(ctx context.Context, s *engine.StageRun, clusters []cluster) (waiting, failure string, err error) {
	for _, c := range sortedByLease(clusters) {
		waiting, failure, err := l.take(ctx, s, c)
		if err != nil || waiting != "" || failure != "" {
			return waiting, failure, err
		}
	}
	return "", "", nil
}

func sortedByLease(clusters []cluster) []cluster {
	out := slices.Clone(clusters)
	slices.SortFunc(out, func(a, b cluster) int { return strings.Compare(leaseName(a), leaseName(b)) })
	return out
}

// take takes one cluster's Lease: makes it, finds it already the stage's, or takes it over from a holder
// that no longer deploys. A refusal that would last is the stage's failure: returned as an error, it would
// put the stage back to NotStarted, where its timeout never runs, and retry it forever.
func (l clusterLeases) take(ctx context.Context, s *engine.StageRun, c cluster) (waiting, failure string, err error) {
	key := types.NamespacedName{Namespace: c.Namespace, Name: leaseName(c)}
	refused := func(doing string, err error) (string, string, error) {
		if permanent(err) {
			return "", fmt.Sprintf("%s: %s deploy Lease %s: %v", c, doing, key, err), nil
		}
		return "", "", err
	}
	var lease coordinationv1.Lease
	err = l.APIReader.Get(ctx, key, &lease)
	if apierrors.IsNotFound(err) {
		lease = coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{
			Name: key.Name, Namespace: key.Namespace,
			Labels:      map[string]string{v1alpha1.LabelCluster: c.Name},
			Annotations: map[string]string{annotationLeaseCluster: c.String()},
		}}
		hold(&lease, s)
		err = l.Client.Create(ctx, &lease)
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return refused("creating", err)
		}
		if err == nil {
			return "", "", nil
		}
		// Another run's deploy made it a moment ago.
		err = l.APIReader.Get(ctx, key, &lease)
	}
	if err != nil {
		return refused("reading", err)
	}
	if holds(&lease, s) {
		return "", "", nil
	}
	holder, alive, err := l.holder(ctx, &lease)
	if err != nil {
		return refused("reading the holder of", err)
	}
	if alive {
		return fmt.Sprintf("waiting for %s: deploy in progress by %s", c, holder), "", nil
	}
	hold(&lease, s)
	// An update carries the resourceVersion read: of two runs taking it over at once, one wins, and the
	// other looks again at the next poll.
	err = l.Client.Update(ctx, &lease)
	if apierrors.IsConflict(err) {
		return fmt.Sprintf("waiting for %s: its deploy Lease changed while this run took it over", c), "", nil
	}
	if err != nil {
		return refused("taking over", err)
	}
	return "", "", nil
}

// annotationLeaseCluster says, on a Lease, which cluster it is for (its name is shortened with a hash).
const annotationLeaseCluster = "delivery.gennaker.io/cluster"

func hold(lease *coordinationv1.Lease, s *engine.StageRun) {
	lease.Spec.HolderIdentity = ptr.To(holderIdentity(s))
	now := metav1.NewMicroTime(s.Now)
	lease.Spec.AcquireTime = &now
	lease.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: "Execution",
		Name: s.Execution.Name, UID: s.Execution.UID,
	}}
}

// holds says whether the Lease is the stage's.
func holds(lease *coordinationv1.Lease, s *engine.StageRun) bool {
	return ptr.Deref(lease.Spec.HolderIdentity, "") == holderIdentity(s) && len(lease.OwnerReferences) == 1 &&
		lease.OwnerReferences[0].UID == s.Execution.UID
}

// holder names the Lease's holder and says whether it still deploys: its Execution exists (the same
// one, by UID), is not finished nor marked failed with its status refused, and the holding stage is not
// finished.
func (l clusterLeases) holder(ctx context.Context, lease *coordinationv1.Lease) (string, bool, error) {
	id := ptr.Deref(lease.Spec.HolderIdentity, "")
	name, stage, _ := strings.Cut(id, "/")
	desc := fmt.Sprintf("execution %s (stage %s)", name, stage)
	if len(lease.OwnerReferences) != 1 || name == "" {
		return desc, false, nil
	}
	var ex v1alpha1.Execution
	err := l.APIReader.Get(ctx, types.NamespacedName{Namespace: lease.Namespace, Name: name}, &ex)
	if apierrors.IsNotFound(err) {
		return desc, false, nil
	}
	if err != nil {
		return "", false, err
	}
	if ex.UID != lease.OwnerReferences[0].UID {
		return desc, false, nil
	}
	if _, refused := ex.Annotations[v1alpha1.AnnotationStatusRefused]; refused {
		// The run failed, and its stages were told to stop, but its status could not say so.
		return desc, false, nil
	}
	switch ex.Status.Phase {
	case v1alpha1.ExecutionSucceeded, v1alpha1.ExecutionFailed, v1alpha1.ExecutionCanceled:
		return desc, false, nil
	}
	// A stage not yet started, or a run not yet admitted, holds it too: the holder's status may not
	// record the start that took the Lease yet.
	for _, st := range ex.Status.Stages {
		if st.Name == stage {
			switch st.Phase {
			case v1alpha1.StageNotStarted, v1alpha1.StageRunning, v1alpha1.StageWaitingForJudgment:
				return desc, true, nil
			}
			return desc, false, nil
		}
	}
	return desc, true, nil
}
