package stages

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// disableServerGroup and destroyServerGroup refuse to take the last enabled group of a cluster out of
// traffic, naming the cluster and the group, and change nothing; allowLastEnabled lets them. A group of
// the same cluster in another region does not count as enabled.
func TestLastEnabledGuard(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	api := newFakeAPI(t)
	api.existing("shop-main-v000", v1alpha1.TrafficDisabled, 0)
	api.existing("shop-main-v001", v1alpha1.TrafficEnabled, 3)
	other := sg("shop-main-v002", fakeT0)
	other.Namespace = api.ns
	other.Spec.Region = "eu-west-1"
	other.Spec.Traffic = v1alpha1.TrafficEnabled
	g.Expect(api.c.Create(ctx, &other)).To(Succeed())
	all := All(api.deps())
	const refused = "shop-main-v001 is the last enabled server group of cluster shop-main in aws-prod/us-east-1 in namespace shop; set allowLastEnabled: true to take it out anyway"
	before := api.state()

	dis := stageRun(serverGroupStage("disable", v1alpha1.StageType{DisableServerGroup: &v1alpha1.DisableServerGroupStage{
		ServerGroupTarget: clusterTarget(v1alpha1.TargetNewest)}}))
	g.Expect(all["disableServerGroup"].Start(ctx, dis)).To(Succeed())
	g.Expect(dis.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(dis.Status.Message).To(Equal("disableServerGroup: " + refused))

	de := stageRun(serverGroupStage("destroy", v1alpha1.StageType{DestroyServerGroup: &v1alpha1.DestroyServerGroupStage{
		ServerGroupTarget: v1alpha1.ServerGroupTarget{ServerGroup: "shop-main-v001"}}}))
	g.Expect(all["destroyServerGroup"].Start(ctx, de)).To(Succeed())
	g.Expect(de.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(de.Status.Message).To(Equal("destroyServerGroup: " + refused))
	g.Expect(api.state()).To(Equal(before), "a refused stage changes nothing")

	// The disabled v000 may go: the cluster keeps v001.
	old := stageRun(serverGroupStage("destroy", v1alpha1.StageType{DestroyServerGroup: &v1alpha1.DestroyServerGroupStage{
		ServerGroupTarget: clusterTarget(v1alpha1.TargetOldest)}}))
	g.Expect(all["destroyServerGroup"].Start(ctx, old)).To(Succeed())
	g.Expect(old.Status.Phase).To(Equal(v1alpha1.StageRunning), old.Status.Message)

	// With allowLastEnabled the stage goes ahead.
	dis = stageRun(serverGroupStage("disable", v1alpha1.StageType{DisableServerGroup: &v1alpha1.DisableServerGroupStage{
		ServerGroupTarget: clusterTarget(v1alpha1.TargetNewest), AllowLastEnabled: true}}))
	g.Expect(all["disableServerGroup"].Start(ctx, dis)).To(Succeed())
	checkUntilDone(g, api, all["disableServerGroup"], dis)
	g.Expect(dis.Status.Phase).To(Equal(v1alpha1.StageSucceeded), dis.Status.Message)
	g.Expect(api.state()).To(HaveKeyWithValue("shop-main-v001", "Disabled/3"))
}

// A group whose spec asks for traffic but whose status shows it not in its load balancers yet (or with no
// healthy instance) does not keep the cluster serving: taking the last group that serves out is refused.
func TestLastEnabledGuardCountsWhatServes(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	api := newFakeAPI(t)
	api.existing("shop-main-v001", v1alpha1.TrafficEnabled, 3)
	coming := sg("shop-main-v002", fakeT0)
	coming.Namespace = api.ns
	coming.Spec.Traffic = v1alpha1.TrafficEnabled
	g.Expect(api.c.Create(ctx, &coming)).To(Succeed()) // not converged: its status shows no traffic
	all := All(api.deps())

	dis := stageRun(serverGroupStage("disable", v1alpha1.StageType{DisableServerGroup: &v1alpha1.DisableServerGroupStage{
		ServerGroupTarget: v1alpha1.ServerGroupTarget{ServerGroup: "shop-main-v001"}}}))
	g.Expect(all["disableServerGroup"].Start(ctx, dis)).To(Succeed())
	g.Expect(dis.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(dis.Status.Message).To(ContainSubstring("shop-main-v001 is the last enabled server group of cluster shop-main"))

	api.settle() // v002 is in its load balancers now, with healthy instances
	dis = stageRun(serverGroupStage("disable", v1alpha1.StageType{DisableServerGroup: &v1alpha1.DisableServerGroupStage{
		ServerGroupTarget: v1alpha1.ServerGroupTarget{ServerGroup: "shop-main-v001"}}}))
	g.Expect(all["disableServerGroup"].Start(ctx, dis)).To(Succeed())
	g.Expect(dis.Status.Phase).NotTo(Equal(v1alpha1.StageFailed), dis.Status.Message)
}
