package controllers_test

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	gcpsim "github.com/gennaker/gennaker/test/cloudsim/gcp"
	"github.com/gennaker/gennaker/test/testenv"
)

// The GCP account is Ready once the service-account key got a token and the project was read, and it
// says whom it acts as.
func TestGCPAccountReady(t *testing.T) {
	g := testenv.NewWithT(t)
	p := setupGCP(t, true, gcpSimOptions())
	g.Eventually(func(g Gomega) {
		acc := getAccount(g, p.account)
		g.Expect(current(acc, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(cond(acc, v1alpha1.ConditionReady).Message).To(ContainSubstring(gcpServiceAccount))
	}).Should(Succeed())
	g.Expect(p.sim.Calls()).To(HaveKey("oauth2.token"))
	g.Expect(p.sim.Calls()).To(HaveKey("projects.get"))
	g.Expect(p.logs.String()).NotTo(ContainSubstring("PRIVATE KEY"))
}

// Someone else changes the backend service while the group is being enabled: the write made on the
// stale read is refused for its fingerprint, the service read again, and both changes stay.
func TestGCPEnableDuringAConcurrentChange(t *testing.T) {
	g := testenv.NewWithT(t)
	p := setupGCP(t, true, gcpSimOptions())
	sg := p.serverGroup(t, "shop-main-v001", 2, v1alpha1.TrafficDisabled)
	g.Eventually(func(g Gomega) {
		got := getGroup(g, p.ns, sg.Name)
		g.Expect(current(got, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
	}, "30s").Should(Succeed())

	p.sim.Inject(gcpsim.Fault{Method: "backendServices.update", Kind: gcpsim.ConcurrentChange, Count: 1})
	g.Expect(env.Client.Patch(context.Background(), sg, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"traffic":"Enabled"}}`)))).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := getGroup(g, p.ns, sg.Name)
		g.Expect(got.Status.Traffic).To(Equal(v1alpha1.TrafficEnabled))
		g.Expect(current(got, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
	}, "30s").Should(Succeed())
	backends := p.backends()
	g.Expect(backends).To(HaveLen(2))
	g.Expect(backends).To(ContainElement("shop-main-v001"))
	g.Expect(backends).To(ContainElement(HavePrefix("someone-elses-")), "the other change was lost")
	g.Expect(p.sim.Calls()["backendServices.update"]).To(Equal(2))
}

// 429s beyond the SDK's retries and operations that fail are retried by the controller until the group
// is made: one template and one group, and Ready says why while it waits.
func TestGCPRateLimitsAndFailedOperationsAreRetried(t *testing.T) {
	g := testenv.NewWithT(t)
	p := setupGCP(t, true, gcpSimOptions())
	p.sim.Inject(gcpsim.Fault{Method: "instanceTemplates.insert", Kind: gcpsim.RateLimit, Count: 6})
	p.sim.Inject(gcpsim.Fault{Method: "regionInstanceGroupManagers.insert", Kind: gcpsim.FailOperation, Count: 1})
	sg := p.serverGroup(t, "shop-main-v001", 2, v1alpha1.TrafficEnabled)
	reasons := map[string]bool{}
	g.Eventually(func(g Gomega) {
		got := getGroup(g, p.ns, sg.Name)
		reasons[cond(got, v1alpha1.ConditionReady).Reason] = true
		g.Expect(current(got, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(current(got, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(got.Status.Traffic).To(Equal(v1alpha1.TrafficEnabled))
	}, "60s", "10ms").Should(Succeed())
	g.Expect(p.sim.Created()).To(Equal(map[string]int{"instanceTemplates": 1, "instanceGroupManagers": 1}))
	calls := p.sim.Calls()
	g.Expect(calls["instanceTemplates.insert"]).To(BeNumerically(">=", 7), "%v", calls)
	g.Expect(calls["regionInstanceGroupManagers.insert"]).To(Equal(2), "the failed insert was not made again: %v", calls)
	t.Logf("Ready reasons seen: %v", reasons)

	var warnings []string
	for _, e := range events(g, p.ns, sg.Name) {
		if e.Type == "Warning" {
			warnings = append(warnings, e.Reason+": "+e.Note)
		}
	}
	joined := strings.Join(warnings, "\n")
	g.Expect(joined).To(ContainSubstring("Throttled"))
	g.Expect(joined).To(ContainSubstring("ZONE_RESOURCE_POOL_EXHAUSTED"))
}

// A managed instance group of the ServerGroup's name made by a team is never touched: Ready=False
// NotOwned, and deleting the ServerGroup leaves the group and its place in the backend service.
func TestGCPForeignGroupIsLeftAlone(t *testing.T) {
	g := testenv.NewWithT(t)
	p := setupGCP(t, true, gcpSimOptions())
	p.handMadeMIG(t, "shop-main-v001")
	p.sim.ResetCalls()
	sg := p.serverGroup(t, "shop-main-v001", 3, v1alpha1.TrafficEnabled)
	g.Eventually(func(g Gomega) {
		c := cond(getGroup(g, p.ns, sg.Name), v1alpha1.ConditionReady)
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonNotOwned))
		g.Expect(c.Message).To(ContainSubstring("no Gennaker owner tags"))
	}, "30s").Should(Succeed())

	g.Expect(env.Client.Delete(context.Background(), sg)).To(Succeed())
	g.Eventually(gone(sg), "30s").Should(BeTrue())
	g.Expect(gcpWrites(p.sim.Calls())).To(BeEmpty())
	mig, ok := p.sim.Group("shop-main-v001")
	g.Expect(ok).To(BeTrue())
	g.Expect(mig.TargetSize).To(Equal(int32(2)))
	g.Expect(mig.Description).To(Equal("made by the shop team"))
	g.Expect(p.backends()).To(Equal([]string{"shop-main-v001"}))
	var list v1alpha1.ServerGroupList
	g.Expect(env.Client.List(context.Background(), &list, client.InNamespace(p.ns))).To(Succeed())
	g.Expect(list.Items).To(BeEmpty())
}
