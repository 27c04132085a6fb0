package stages

import (
	"context"
	"errors"
	"reflect"
	"testing"

	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// asRun makes a stage run belong to another Execution.
func asRun(s *engine.StageRun, name string, uid types.UID) *engine.StageRun {
	s.Execution = s.Execution.DeepCopy()
	s.Execution.Name, s.Execution.UID = name, uid
	return s
}

// saveStage records a stage's phase in the Execution as the API server has it: the run's status write
// that the engine makes after the step.
func saveStage(g Gomega, api *fakeAPI, ex *v1alpha1.Execution, stage string, phase v1alpha1.StagePhase) {
	ctx := context.Background()
	var live v1alpha1.Execution
	g.ExpectWithOffset(1, api.c.Get(ctx, client.ObjectKeyFromObject(ex), &live)).To(Succeed())
	live.Status.Stages = []v1alpha1.StageStatus{{Name: stage, Phase: phase}}
	g.ExpectWithOffset(1, api.c.Update(ctx, &live)).To(Succeed())
}

// refuseCreate makes the API server refuse, with err, every create of an object of like's type.
func refuseCreate(api *fakeAPI, like client.Object, err error) {
	api.c = interceptor.NewClient(api.c, interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		if reflect.TypeOf(obj) == reflect.TypeOf(like) {
			return err
		}
		return c.Create(ctx, obj, opts...)
	}})
}

// leaseHolder is the holderIdentity of the only Lease.
func leaseHolder(g Gomega, api *fakeAPI) string {
	var leases coordinationv1.LeaseList
	g.ExpectWithOffset(1, api.c.List(context.Background(), &leases)).To(Succeed())
	g.ExpectWithOffset(1, leases.Items).To(HaveLen(1))
	return ptr.Deref(leases.Items[0].Spec.HolderIdentity, "")
}

// TestDeploysOfOneClusterAreSerialized: while one run's deploy of a cluster is unfinished, another run's
// deploy of it waits, makes nothing, and says for whom; it goes once the first's end is recorded in its
// run's status, taking the Lease over. A Lease whose holder Execution is gone is taken over instead of
// wedging the cluster. The Lease is owned by the holder's Execution, so it goes with it.
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
	saveStage(g, api, holder, "deploy", v1alpha1.StageSucceeded)

	checkUntilDone(g, api, all["deploy"], second)
	g.Expect(second.Status.Phase).To(Equal(v1alpha1.StageSucceeded), second.Status.Message)
	g.Expect(api.state()).To(HaveKeyWithValue("shop-main-v002", "Enabled/3"))

	// A third run finds the Lease held by an Execution that no longer exists, and takes it over.
	third := asRun(stageRun(stage), "third-run", "uid-third")
	lease := &coordinationv1.Lease{}
	lease.Namespace, lease.Name = api.ns, leaseName(cluster{Namespace: api.ns, Name: "shop-main", Account: "aws-prod", Region: "us-east-1"})
	g.Expect(api.c.Get(ctx, client.ObjectKeyFromObject(lease), lease)).To(Succeed())
	lease.Spec.HolderIdentity = ptr.To("deleted-run/deploy")
	lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Execution", Name: "deleted-run", UID: "uid-deleted"}}
	g.Expect(api.c.Update(ctx, lease)).To(Succeed())
	g.Expect(all["deploy"].Start(ctx, third)).To(Succeed())
	g.Expect(third.Status.Message).NotTo(HavePrefix("waiting"))
	g.Expect(api.state()).To(HaveKey("shop-main-v003"))
	g.Expect(api.c.Get(ctx, client.ObjectKeyFromObject(lease), lease)).To(Succeed())
	g.Expect(*lease.Spec.HolderIdentity).To(Equal("third-run/deploy"))
	g.Expect(lease.OwnerReferences).To(ConsistOf(HaveField("UID", types.UID("uid-third"))))

	// Canceling keeps the Lease: it passes on once the cancel is recorded.
	g.Expect(all["deploy"].Cancel(ctx, third)).To(Succeed())
	g.Expect(leaseHolder(g, api)).To(Equal("third-run/deploy"))
}

// TestDeployLeaseHolderWhoseEndIsNotSavedStillHolds: a deploy's end (success, failure to make its group,
// cancel) is only in memory until the run's status is written; while the API server still says the stage
// runs (that write was lost, or not made yet), the Lease stays the holder's and another run's deploy of
// the cluster waits and makes nothing. Once the end is recorded, the other takes the Lease over.
func TestDeployLeaseHolderWhoseEndIsNotSavedStillHolds(t *testing.T) {
	for name, end := range map[string]func(g Gomega, api *fakeAPI, st engine.Stage, s *engine.StageRun){
		"succeeded": func(g Gomega, api *fakeAPI, st engine.Stage, s *engine.StageRun) {
			g.Expect(st.Start(context.Background(), s)).To(Succeed())
			checkUntilDone(g, api, st, s)
			g.Expect(s.Status.Phase).To(Equal(v1alpha1.StageSucceeded), s.Status.Message)
		},
		"failed to make its group": func(g Gomega, api *fakeAPI, _ engine.Stage, s *engine.StageRun) {
			defer func(c client.WithWatch) { api.c = c }(api.c)
			refuseCreate(api, &v1alpha1.ServerGroup{}, apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("servergroups").GroupResource(), "", errors.New("quota")))
			g.Expect(All(api.deps())["deploy"].Start(context.Background(), s)).To(Succeed())
			g.Expect(s.Status.Phase).To(Equal(v1alpha1.StageFailed), s.Status.Message)
		},
		"canceled": func(g Gomega, api *fakeAPI, st engine.Stage, s *engine.StageRun) {
			g.Expect(st.Start(context.Background(), s)).To(Succeed())
			g.Expect(st.Cancel(context.Background(), s)).To(Succeed())
			s.Status.Phase = v1alpha1.StageCanceled // as the engine sets it after Cancel
		},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			api := newFakeAPI(t)
			st := All(api.deps())["deploy"]
			stage := deployStage(target("us-east-1", v1alpha1.StrategyHighlander, nil))
			first := stageRun(stage)
			holder := first.Execution.DeepCopy()
			holder.Status.Stages = []v1alpha1.StageStatus{{Name: "deploy", Phase: v1alpha1.StageRunning}}
			g.Expect(api.c.Create(ctx, holder)).To(Succeed())
			end(g, api, st, first)
			before := api.state()

			second := asRun(stageRun(stage), "later-run", "uid-later")
			g.Expect(st.Start(ctx, second)).To(Succeed())
			g.Expect(second.Status.Phase).To(Equal(v1alpha1.StageRunning))
			g.Expect(second.Status.Message).To(HavePrefix("waiting for cluster shop-main in aws-prod/us-east-1: deploy in progress by execution demo-x7k2p"))
			g.Expect(second.Status.NextCheckTime.Time).To(Equal(second.Now.Add(serverGroupPoll)), "the waiter does not look again")
			g.Expect(api.state()).To(Equal(before), "the waiting deploy changed the cluster")
			g.Expect(leaseHolder(g, api)).To(Equal("demo-x7k2p/deploy"))

			saveStage(g, api, holder, "deploy", first.Status.Phase)
			second.Now = second.Now.Add(serverGroupPoll)
			g.Expect(st.Check(ctx, second)).To(Succeed())
			g.Expect(second.Status.Message).NotTo(HavePrefix("waiting"))
			g.Expect(leaseHolder(g, api)).To(Equal("later-run/deploy"))
		})
	}
}

// TestDeployLeaseRefusals: a Lease the API server refuses for good fails the deploy, naming the Lease,
// instead of coming back as an error (which would put the stage back to NotStarted, out of reach of its
// timeout, and retry it forever); nothing is made. A conflict while taking a Lease over (another run took
// it first) is waiting, looked at again at the next poll, not an error.
func TestDeployLeaseRefusals(t *testing.T) {
	leases := coordinationv1.SchemeGroupVersion.WithResource("leases").GroupResource()
	terminating := apierrors.NewForbidden(leases, "", errors.New("unable to create new content in namespace shop because it is being terminated"))
	terminating.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause, Message: "namespace shop is being terminated"}}
	for name, tc := range map[string]struct {
		err  error
		want string
	}{
		"forbidden": {
			err:  apierrors.NewForbidden(leases, "", errors.New("no RBAC policy matched")),
			want: `^cluster shop-main in aws-prod/us-east-1: creating deploy Lease shop/deploy-shop-main-[0-9a-f]{10}: leases.coordination.k8s.io is forbidden: no RBAC policy matched$`,
		},
		"invalid": {
			err:  apierrors.NewInvalid(coordinationv1.SchemeGroupVersion.WithKind("Lease").GroupKind(), "deploy-shop-main", nil),
			want: `^cluster shop-main in aws-prod/us-east-1: creating deploy Lease shop/deploy-shop-main-[0-9a-f]{10}: Lease.coordination.k8s.io "deploy-shop-main" is invalid`,
		},
		"namespace terminating": {
			err:  terminating,
			want: `^cluster shop-main in aws-prod/us-east-1: creating deploy Lease shop/deploy-shop-main-[0-9a-f]{10}: .*being terminated$`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			api := newFakeAPI(t)
			refuseCreate(api, &coordinationv1.Lease{}, tc.err)
			s := stageRun(deployStage(target("us-east-1", v1alpha1.StrategyHighlander, nil)))
			g.Expect(All(api.deps())["deploy"].Start(context.Background(), s)).To(Succeed())
			g.Expect(s.Status.Phase).To(Equal(v1alpha1.StageFailed))
			g.Expect(s.Status.Message).To(MatchRegexp(tc.want))
			g.Expect(api.state()).To(BeEmpty())
		})
	}

	t.Run("conflict taking over", func(t *testing.T) {
		g := NewWithT(t)
		ctx := context.Background()
		api := newFakeAPI(t)
		st := All(api.deps())["deploy"]
		stage := deployStage(target("us-east-1", v1alpha1.StrategyHighlander, nil))
		// The holder's Execution is gone, so the Lease is taken over; another run updates it first.
		g.Expect(st.Start(ctx, stageRun(stage))).To(Succeed())
		api.c = interceptor.NewClient(api.c, interceptor.Funcs{Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if _, ok := obj.(*coordinationv1.Lease); ok {
				return apierrors.NewConflict(leases, obj.GetName(), errors.New("the object has been modified"))
			}
			return c.Update(ctx, obj, opts...)
		}})
		second := asRun(stageRun(stage), "later-run", "uid-later")
		g.Expect(All(api.deps())["deploy"].Start(ctx, second)).To(Succeed())
		g.Expect(second.Status.Phase).To(Equal(v1alpha1.StageRunning))
		g.Expect(second.Status.Message).To(Equal("waiting for cluster shop-main in aws-prod/us-east-1: its deploy Lease changed while this run took it over"))
		g.Expect(second.Status.NextCheckTime.Time).To(Equal(second.Now.Add(serverGroupPoll)))
		g.Expect(api.state()).To(HaveLen(1), "the waiting deploy made a group")
	})
}
