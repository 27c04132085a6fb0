package controllers_test

import (
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// TestConcurrentDeploysOfOneClusterAreSerialized: two runs of different pipelines deploying the same
// cluster at once do not interleave: one deploy waits, saying for which run, until the other's is over.
// The first takes v000, which never becomes healthy, and is canceled; only then does the second make
// v001, which takes the traffic. A manager restarted meanwhile keeps the order. (v000, which never took
// traffic, is left as it is: red/black scales down only the groups it takes out of traffic.)
func TestConcurrentDeploysOfOneClusterAreSerialized(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, false)
	stop := env.StartManagerWith(t, a.manager())
	rb := `redBlack: {delayBeforeScaleDown: 0s, rollbackOnFailure: true}`
	apply(t, a.ns, releasePipeline(a, "release-a", "RedBlack", rb, "1m")+"---\n"+releasePipeline(a, "release-b", "RedBlack", rb, "1m"))
	a.sim.NeverHealthy("shop-main-v000")
	run(t, a.ns, "ra", "release-a", map[string]string{"image": "ami-00000000000000001"})
	run(t, a.ns, "rb", "release-b", map[string]string{"image": "ami-00000000000000002"})

	var waiter, holder string
	g.Eventually(func(g Gomega) {
		for _, name := range []string{"ra", "rb"} {
			if msg := stageOf(g, execution(g, a.ns, name), "deploy").Message; strings.HasPrefix(msg, "waiting for cluster shop-main") {
				waiter, holder = name, map[string]string{"ra": "rb", "rb": "ra"}[name]
				g.Expect(msg).To(Equal(fmt.Sprintf("waiting for cluster shop-main in %s/us-east-1: deploy in progress by execution %s (stage deploy)", a.account, holder)))
			}
		}
		g.Expect(waiter).NotTo(BeEmpty(), "neither deploy waits for the other: ra %q, rb %q", stageOf(g, execution(g, a.ns, "ra"), "deploy").Message, stageOf(g, execution(g, a.ns, "rb"), "deploy").Message)
	}, "30s", "10ms").Should(Succeed())
	g.Expect(outputs(g, stageOf(g, execution(g, a.ns, waiter), "deploy"))).NotTo(HaveKey("serverGroup"), "the waiting deploy made a group")

	// A manager killed and started again finds the Lease where it was: the holder goes on holding it.
	stop()
	env.StartManagerWith(t, a.manager())

	// Whichever holds the cluster made v000, which never becomes healthy; canceling it rolls it back and
	// gives the cluster to the other, which deploys v001 after it.
	g.Consistently(func(g Gomega) {
		g.Expect(stageOf(g, execution(g, a.ns, waiter), "deploy").Message).To(HavePrefix("waiting for cluster shop-main"))
	}, "2s").Should(Succeed())
	patch(t, a.ns, holder, `{"spec":{"cancel":true}}`)
	first := waitPhase(g, a.ns, holder, v1alpha1.ExecutionCanceled)
	g.Expect(outputs(g, stageOf(g, first, "deploy"))).To(HaveKeyWithValue("serverGroup", "shop-main-v000"))
	second := waitPhase(g, a.ns, waiter, v1alpha1.ExecutionSucceeded)
	g.Expect(outputs(g, stageOf(g, second, "deploy"))).To(And(
		HaveKeyWithValue("serverGroup", "shop-main-v001"), HaveKeyWithValue("previousServerGroup", "shop-main-v000")))
	g.Eventually(func(g Gomega) {
		st := groups(g, a.ns)
		g.Expect(st).To(HaveLen(2))
		g.Expect(st["shop-main-v000"].Traffic).To(Equal(v1alpha1.TrafficDisabled))
		g.Expect(st["shop-main-v001"]).To(Equal(groupState{v1alpha1.TrafficEnabled, 3, 3}))
	}).Should(Succeed())
}
