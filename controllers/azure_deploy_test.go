package controllers_test

import (
	"fmt"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// azurePipeline deploys the shop-main cluster to the Azure account with a strategy; the image is the
// run's parameter.
func azurePipeline(z *azureEnv, name, strategy, options, timeout string) string {
	return fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: %s}
spec:
  application: shop
  limitConcurrent: true
  parameters: [{name: image, required: true}]
  stages:
  - name: deploy
    timeout: %s
    deploy:
      clusters:%s
`, name, timeout, z.deployTarget(strategy, options))
}

func azureImage(n int) string { return fmt.Sprintf(azureImageFmt, n) }

// A red/black from v000 to v001 on Azure: the new scale set enters the backend pool only once all its
// instances are healthy, the old one leaves it after that and is scaled to zero, and a third release
// destroys the oldest beyond maxRemainingServerGroups.
func TestAzureDeployRedBlack(t *testing.T) {
	g := testenv.NewWithT(t)
	z := setupAzure(t, true, azureSimOptions())
	apply(t, z.ns, azurePipeline(z, "release", "RedBlack", `redBlack: {maxRemainingServerGroups: 2, delayBeforeScaleDown: 0s}`, "5m"))

	run(t, z.ns, "r1", "release", map[string]string{"image": azureImage(1)})
	ex := waitPhase(g, z.ns, "r1", v1alpha1.ExecutionSucceeded)
	g.Expect(outputs(g, stageOf(g, ex, "deploy"))).To(HaveKeyWithValue("serverGroup", "shop-main-v000"))
	g.Expect(groups(g, z.ns)).To(Equal(map[string]groupState{"shop-main-v000": {v1alpha1.TrafficEnabled, 3, 3}}))
	g.Expect(z.poolHealthy()).To(Equal(3))

	// While the second release runs, the pool never has fewer than 3 healthy instances, and the old
	// scale set leaves it only after the new one is in it. What breaks that is recorded at each poll
	// and asserted after: a failed Expect inside Eventually would only make it poll again.
	z.sim.ResetCalls()
	run(t, z.ns, "r2", "release", map[string]string{"image": azureImage(2)})
	var violations []string
	g.Eventually(func(g Gomega) {
		st := groups(g, z.ns)
		if st["shop-main-v000"].Traffic == v1alpha1.TrafficDisabled && st["shop-main-v001"].Traffic != v1alpha1.TrafficEnabled {
			violations = append(violations, fmt.Sprintf("v000 left the pool before v001 was in it: %v", st))
		}
		if h := z.poolHealthy(); h < 3 {
			violations = append(violations, fmt.Sprintf("the backend pool had %d healthy instances", h))
		}
		g.Expect(execution(g, z.ns, "r2").Status.Phase).To(Equal(v1alpha1.ExecutionSucceeded))
	}, "60s", "20ms").Should(Succeed())
	g.Expect(violations).To(BeEmpty())
	out := outputs(g, stageOf(g, execution(g, z.ns, "r2"), "deploy"))
	g.Expect(out).To(HaveKeyWithValue("serverGroup", "shop-main-v001"))
	g.Expect(out).To(HaveKeyWithValue("previousServerGroup", "shop-main-v000"))
	g.Expect(groups(g, z.ns)).To(Equal(map[string]groupState{
		"shop-main-v000": {v1alpha1.TrafficDisabled, 0, 0},
		"shop-main-v001": {v1alpha1.TrafficEnabled, 3, 3},
	}))
	v0, _ := z.sim.ScaleSet("shop-main-v000")
	g.Expect(v0.Pools).To(BeEmpty())
	g.Expect(v0.Capacity).To(BeZero())
	v1, _ := z.sim.ScaleSet("shop-main-v001")
	g.Expect(v1.Image).To(Equal(azureImage(2)))
	g.Expect(v1.UpgradeMode).To(Equal("Manual"))
	g.Expect(v1.HealthExtension).To(BeTrue())
	t.Logf("Azure API calls of a red/black of a 3-instance scale set, by operation: %v", z.sim.Calls())

	run(t, z.ns, "r3", "release", map[string]string{"image": azureImage(3)})
	waitPhase(g, z.ns, "r3", v1alpha1.ExecutionSucceeded)
	g.Eventually(func(g Gomega) {
		g.Expect(groups(g, z.ns)).To(Equal(map[string]groupState{
			"shop-main-v001": {v1alpha1.TrafficDisabled, 0, 0},
			"shop-main-v002": {v1alpha1.TrafficEnabled, 3, 3},
		}))
		g.Expect(z.scaleSetNames()).To(Equal([]string{"shop-main-v001", "shop-main-v002"}))
	}).Should(Succeed())
}

// Highlander keeps only the newest scale set once it is healthy.
func TestAzureDeployHighlander(t *testing.T) {
	g := testenv.NewWithT(t)
	z := setupAzure(t, true, azureSimOptions())
	apply(t, z.ns, azurePipeline(z, "release", "Highlander", "", "5m"))
	for i, name := range []string{"r1", "r2", "r3"} {
		run(t, z.ns, name, "release", map[string]string{"image": azureImage(i + 1)})
		waitPhase(g, z.ns, name, v1alpha1.ExecutionSucceeded)
	}
	g.Eventually(func(g Gomega) {
		g.Expect(groups(g, z.ns)).To(Equal(map[string]groupState{"shop-main-v002": {v1alpha1.TrafficEnabled, 3, 3}}))
		g.Expect(z.scaleSetNames()).To(Equal([]string{"shop-main-v002"}))
	}).Should(Succeed())
	g.Expect(z.sim.Calls()["VirtualMachineScaleSets.CreateOrUpdate"]).To(Equal(3))
	g.Expect(z.poolHealthy()).To(Equal(3))
}

// A new scale set that never turns healthy times the stage out; rollbackOnFailure leaves the pool to the
// old one and the new one out of it.
func TestAzureDeployRedBlackRollback(t *testing.T) {
	g := testenv.NewWithT(t)
	z := setupAzure(t, true, azureSimOptions())
	apply(t, z.ns, azurePipeline(z, "release", "RedBlack", `redBlack: {delayBeforeScaleDown: 0s, rollbackOnFailure: true}`, "4s"))
	run(t, z.ns, "r1", "release", map[string]string{"image": azureImage(1)})
	waitPhase(g, z.ns, "r1", v1alpha1.ExecutionSucceeded)

	z.sim.NeverHealthy("shop-main-v001")
	run(t, z.ns, "r2", "release", map[string]string{"image": azureImage(2)})
	ex := waitPhase(g, z.ns, "r2", v1alpha1.ExecutionFailed)
	g.Expect(stageOf(g, ex, "deploy").Message).To(ContainSubstring("timed out"))
	g.Eventually(func(g Gomega) {
		st := groups(g, z.ns)
		g.Expect(st["shop-main-v000"]).To(Equal(groupState{v1alpha1.TrafficEnabled, 3, 3}))
		g.Expect(st["shop-main-v001"].Traffic).To(Equal(v1alpha1.TrafficDisabled))
	}).Should(Succeed())
	v1, _ := z.sim.ScaleSet("shop-main-v001")
	g.Expect(v1.Pools).To(BeEmpty())
	members, healthy := z.sim.PoolMembers(azurePool)
	g.Expect([]int{members, healthy}).To(Equal([]int{3, 3}), "only v000's instances are in the pool")
}
