package stages

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// asRun makes a stage run belong to another Execution.
func asRun(s *engine.StageRun, name string, uid types.UID) *engine.StageRun {
	s.Execution = s.Execution.DeepCopy()
	s.Execution.Name, s.Execution.UID = name, uid
	return s
}

// TestDeploysOfOneClusterAreSerialized: while one run's deploy of a cluster is unfinished, another run's
// deploy of it waits, makes nothing, and says for whom; it goes once the first finishes (which gives the
// Lease back). A Lease whose holder Execution is gone is taken over instead of wedging the cluster. The
// Lease is owned by the holder's Execution, so it goes with it.
func TestDeploysOfOneClusterAreSerialized(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	api := newFakeAPI(t)
	api.existing("shop-main-v000", v1alpha1.TrafficEnabled, 3)
	all := All(api.deps())
	rb := &v1alpha1.RedBlack{DelayBeforeScaleDown: "0s"}
	stage := deployStage(target("us-east-1", v1alpha1.StrategyRedBlack, rb))

	first := stageRun(stage)
	holder := first.Execution.DeepCopy()
	holder.Status.Stages = []v1alpha1.StageStatus{{Name: "deploy", Phase: v1alpha1.StageRunning}}
	g.Expect(api.c.Create(ctx, holder)).To(Succeed())
	g.Expect(all["deploy"].Start(ctx, first)).To(Succeed())
	g.Expect(first.Status.Phase).To(Equal(v1alpha1.StageRunning))
	g.Expect(api.state()).To(HaveKey("shop-main-v001"))

	second := asRun(stageRun(stage), "later-run", "uid-later")
	g.Expect(all["deploy"].Start(ctx, second)).To(Succeed())
	g.Expect(second.Status.Phase).To(Equal(v1alpha1.StageRunning))
	g.Expect(second.Status.Message).To(Equal("waiting for cluster shop-main in aws-prod/us-east-1: deploy in progress by execution demo-x7k2p (stage deploy)"))
	g.Expect(api.state()).NotTo(HaveKey("shop-main-v002"), "the waiting deploy made a group")
	second.Now = second.Now.Add(serverGroupPoll)
	g.Expect(all["deploy"].Check(ctx, second)).To(Succeed())
	g.Expect(second.Status.Message).To(HavePrefix("waiting for cluster shop-main"))

	var leases coordinationv1.LeaseList
	g.Expect(api.c.List(ctx, &leases)).To(Succeed())
	g.Expect(leases.Items).To(HaveLen(1))
	g.Expect(*leases.Items[0].Spec.HolderIdentity).To(Equal("demo-x7k2p/deploy"))
	g.Expect(leases.Items[0].OwnerReferences).To(ConsistOf(HaveField("UID", types.UID("0b6f-uid"))))

	checkUntilDone(g, api, all["deploy"], first)
	g.Expect(first.Status.Phase).To(Equal(v1alpha1.StageSucceeded), first.Status.Message)
	g.Expect(api.c.List(ctx, &leases)).To(Succeed())
	g.Expect(leases.Items).To(BeEmpty(), "the finished deploy keeps its Lease")

	checkUntilDone(g, api, all["deploy"], second)
	g.Expect(second.Status.Phase).To(Equal(v1alpha1.StageSucceeded), second.Status.Message)
	g.Expect(api.state()).To(HaveKeyWithValue("shop-main-v002", "Enabled/3"))

	// A third run finds a Lease held by an Execution that no longer exists (as after a release the API
	// server refused), and takes it over.
	third := asRun(stageRun(stage), "third-run", "uid-third")
	lease := &coordinationv1.Lease{}
	lease.Namespace, lease.Name = api.ns, leaseName(cluster{Namespace: api.ns, Name: "shop-main", Account: "aws-prod", Region: "us-east-1"})
	lease.Spec.HolderIdentity = ptr.To("deleted-run/deploy")
	lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Execution", Name: "deleted-run", UID: "uid-deleted"}}
	g.Expect(api.c.Create(ctx, lease)).To(Succeed())
	g.Expect(all["deploy"].Start(ctx, third)).To(Succeed())
	g.Expect(third.Status.Message).NotTo(HavePrefix("waiting"))
	g.Expect(api.state()).To(HaveKey("shop-main-v003"))
	g.Expect(api.c.Get(ctx, client.ObjectKeyFromObject(lease), lease)).To(Succeed())
	g.Expect(*lease.Spec.HolderIdentity).To(Equal("third-run/deploy"))
	g.Expect(lease.OwnerReferences).To(ConsistOf(HaveField("UID", types.UID("uid-third"))))

	// Canceling gives the Lease back.
	g.Expect(all["deploy"].Cancel(ctx, third)).To(Succeed())
	g.Expect(api.c.List(ctx, &leases)).To(Succeed())
	g.Expect(leases.Items).To(BeEmpty())
}
