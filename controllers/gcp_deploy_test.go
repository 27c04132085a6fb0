package controllers_test

import (
	"fmt"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

func gcpImage(n int) string { return fmt.Sprintf("projects/shop-images/global/images/shop-%d", n) }

// A red/black on GCP, as on AWS: the new managed instance group becomes a backend of the backend
// service only once all its instances run, the old one leaves it only once the new one is healthy
// there, and is then resized to zero; a third release deletes the oldest group and its template.
func TestGCPDeployRedBlack(t *testing.T) {
	g := testenv.NewWithT(t)
	p := setupGCP(t, true, gcpSimOptions())
	apply(t, p.ns, gcpPipeline(p, "release", "RedBlack", `redBlack: {maxRemainingServerGroups: 2, delayBeforeScaleDown: 0s}`, "5m"))

	run(t, p.ns, "r1", "release", map[string]string{"image": gcpImage(1)})
	ex := waitPhase(g, p.ns, "r1", v1alpha1.ExecutionSucceeded)
	g.Expect(outputs(g, stageOf(g, ex, "deploy"))).To(HaveKeyWithValue("serverGroup", "shop-main-v000"))
	g.Expect(groups(g, p.ns)).To(Equal(map[string]groupState{"shop-main-v000": {v1alpha1.TrafficEnabled, 3, 3}}))

	p.sim.ResetCalls()
	run(t, p.ns, "r2", "release", map[string]string{"image": gcpImage(2)})
	// What must never happen is recorded by every poll and asserted after: a failed assertion inside the
	// polled function would only make Eventually poll again.
	var violations []string
	g.Eventually(func(g Gomega) {
		st := groups(g, p.ns)
		if st["shop-main-v000"].Traffic == v1alpha1.TrafficDisabled && st["shop-main-v001"].Traffic != v1alpha1.TrafficEnabled {
			violations = append(violations, fmt.Sprintf("v000 left the backend service before v001 was in it: %v", st))
		}
		if n := p.sim.Healthy(gcpBackend); n < 3 {
			violations = append(violations, fmt.Sprintf("the backend service had %d healthy instances", n))
		}
		g.Expect(execution(g, p.ns, "r2").Status.Phase).To(Equal(v1alpha1.ExecutionSucceeded))
	}, "60s", "20ms").Should(Succeed())
	g.Expect(violations).To(BeEmpty())
	out := outputs(g, stageOf(g, execution(g, p.ns, "r2"), "deploy"))
	g.Expect(out).To(HaveKeyWithValue("serverGroup", "shop-main-v001"))
	g.Expect(out).To(HaveKeyWithValue("previousServerGroup", "shop-main-v000"))
	g.Expect(groups(g, p.ns)).To(Equal(map[string]groupState{
		"shop-main-v000": {v1alpha1.TrafficDisabled, 0, 0},
		"shop-main-v001": {v1alpha1.TrafficEnabled, 3, 3},
	}))
	g.Expect(p.backends()).To(Equal([]string{"shop-main-v001"}))
	v0, _ := p.sim.Group("shop-main-v000")
	g.Expect(v0.TargetSize).To(BeZero())
	v1 := getGroup(g, p.ns, "shop-main-v001")
	g.Expect(v1.Status.ProviderID).To(HaveSuffix("/regions/" + gcpRegion + "/instanceGroupManagers/shop-main-v001"))
	g.Expect(v1.Status.GCP).NotTo(BeNil())
	g.Expect(v1.Status.GCP.InstanceTemplate).To(HaveSuffix("/global/instanceTemplates/shop-main-v001"))
	g.Expect(v1.Status.Operation).To(BeNil())
	t.Logf("GCP API calls of a red/black of a 3-instance group, by method: %v", p.sim.Calls())

	run(t, p.ns, "r3", "release", map[string]string{"image": gcpImage(3)})
	waitPhase(g, p.ns, "r3", v1alpha1.ExecutionSucceeded)
	g.Eventually(func(g Gomega) {
		g.Expect(groups(g, p.ns)).To(Equal(map[string]groupState{
			"shop-main-v001": {v1alpha1.TrafficDisabled, 0, 0},
			"shop-main-v002": {v1alpha1.TrafficEnabled, 3, 3},
		}))
		g.Expect(p.migNames()).To(Equal([]string{"shop-main-v001", "shop-main-v002"}))
		g.Expect(p.sim.Templates()).To(HaveLen(2))
	}, "30s").Should(Succeed())
}

// Highlander keeps only the newest group once it is healthy.
func TestGCPDeployHighlander(t *testing.T) {
	g := testenv.NewWithT(t)
	p := setupGCP(t, true, gcpSimOptions())
	apply(t, p.ns, gcpPipeline(p, "release", "Highlander", "", "5m"))
	for i, name := range []string{"r1", "r2", "r3"} {
		run(t, p.ns, name, "release", map[string]string{"image": gcpImage(i + 1)})
		waitPhase(g, p.ns, name, v1alpha1.ExecutionSucceeded)
	}
	g.Eventually(func(g Gomega) {
		g.Expect(groups(g, p.ns)).To(Equal(map[string]groupState{"shop-main-v002": {v1alpha1.TrafficEnabled, 3, 3}}))
		g.Expect(p.migNames()).To(Equal([]string{"shop-main-v002"}))
		g.Expect(p.sim.Templates()).To(HaveLen(1))
	}, "30s").Should(Succeed())
	g.Expect(p.backends()).To(Equal([]string{"shop-main-v002"}))
	g.Expect(p.sim.Created()).To(Equal(map[string]int{"instanceTemplates": 3, "instanceGroupManagers": 3}))
}

// A new group whose instances never pass the backend service's health checks times the stage out;
// rollbackOnFailure leaves traffic on the old group and takes the new one out.
func TestGCPDeployRedBlackRollback(t *testing.T) {
	g := testenv.NewWithT(t)
	p := setupGCP(t, true, gcpSimOptions())
	apply(t, p.ns, gcpPipeline(p, "release", "RedBlack", `redBlack: {delayBeforeScaleDown: 0s, rollbackOnFailure: true}`, "8s"))
	run(t, p.ns, "r1", "release", map[string]string{"image": gcpImage(1)})
	waitPhase(g, p.ns, "r1", v1alpha1.ExecutionSucceeded)

	p.sim.NeverHealthy("shop-main-v001")
	run(t, p.ns, "r2", "release", map[string]string{"image": gcpImage(2)})
	ex := waitPhase(g, p.ns, "r2", v1alpha1.ExecutionFailed)
	g.Expect(stageOf(g, ex, "deploy").Message).To(ContainSubstring("timed out"))
	g.Eventually(func(g Gomega) {
		st := groups(g, p.ns)
		g.Expect(st["shop-main-v000"]).To(Equal(groupState{v1alpha1.TrafficEnabled, 3, 3}))
		g.Expect(st["shop-main-v001"].Traffic).To(Equal(v1alpha1.TrafficDisabled))
		g.Expect(p.backends()).To(Equal([]string{"shop-main-v000"}))
	}, "30s").Should(Succeed())
	g.Expect(p.sim.Healthy(gcpBackend)).To(Equal(3))
}

// The manager is killed and restarted at every step of a red/black (each change of the deploy stage's
// message); the deploy still finishes, with one template and one group made per ServerGroup: an insert
// repeated because its operation never reached status is answered, by its requestId, with the first
// one's operation.
func TestGCPDeployRedBlackRestartEveryStep(t *testing.T) {
	g := testenv.NewWithT(t)
	p := setupGCP(t, false, gcpSimOptions())
	stop := env.StartManagerWith(t, p.manager())
	apply(t, p.ns, gcpPipeline(p, "release", "RedBlack", `redBlack: {delayBeforeScaleDown: 1s}`, "5m"))
	run(t, p.ns, "r1", "release", map[string]string{"image": gcpImage(1)})
	waitPhase(g, p.ns, "r1", v1alpha1.ExecutionSucceeded)

	run(t, p.ns, "r2", "release", map[string]string{"image": gcpImage(2)})
	seen := map[string]bool{}
	last := ""
	for restarts := 0; ; restarts++ {
		var ex *v1alpha1.Execution
		g.Eventually(func(g Gomega) {
			ex = execution(g, p.ns, "r2")
			msg := ""
			if len(ex.Status.Stages) > 0 {
				msg = ex.Status.Stages[0].Message
			}
			g.Expect(msg != last || ex.Status.Phase == v1alpha1.ExecutionSucceeded || ex.Status.Phase == v1alpha1.ExecutionFailed).To(BeTrue())
			last = msg
		}, "60s", "10ms").Should(Succeed())
		seen[last] = true
		if ex.Status.Phase == v1alpha1.ExecutionSucceeded || ex.Status.Phase == v1alpha1.ExecutionFailed {
			g.Expect(ex.Status.Phase).To(Equal(v1alpha1.ExecutionSucceeded), "%+v", ex.Status)
			t.Logf("%d restarts; deploy messages seen: %v", restarts, seen)
			break
		}
		stop()
		stop = env.StartManagerWith(t, p.manager())
	}
	g.Expect(len(seen)).To(BeNumerically(">=", 4), "the restarts fell between the red/black's steps")
	g.Expect(groups(g, p.ns)).To(Equal(map[string]groupState{
		"shop-main-v000": {v1alpha1.TrafficDisabled, 0, 0},
		"shop-main-v001": {v1alpha1.TrafficEnabled, 3, 3},
	}))
	g.Expect(p.migNames()).To(Equal([]string{"shop-main-v000", "shop-main-v001"}))
	g.Expect(p.sim.Created()).To(Equal(map[string]int{"instanceTemplates": 2, "instanceGroupManagers": 2}))
	g.Expect(p.sim.Templates()).To(HaveLen(2))
	g.Expect(p.backends()).To(Equal([]string{"shop-main-v001"}))
	t.Logf("inserts sent: %v", gcpWrites(p.sim.Calls()))
}
