package controllers_test

import (
	"context"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// Deleting an account that ServerGroups use waits for them: Ready=False InUse names them, and they can
// still delete their cloud groups through it; the account goes with the last of them.
func TestCloudAccountDeletionHeldWhileInUse(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	var sgs []*v1alpha1.ServerGroup
	for i := range 2 {
		sgs = append(sgs, a.serverGroup(t, fmt.Sprintf("shop-main-v%03d", i), 1, v1alpha1.TrafficDisabled))
	}
	g.Eventually(func(g Gomega) {
		for _, sg := range sgs {
			g.Expect(current(getGroup(g, a.ns, sg.Name), v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
		}
		acc := getAccount(g, a.account)
		g.Expect(acc.Finalizers).To(ContainElement("delivery.gennaker.io/in-use"))
		g.Expect(acc.Status.ServerGroups).To(Equal(int32(2)))
		g.Expect(acc.Status.UsedBy).To(Equal([]string{a.ns + "/shop-main-v000", a.ns + "/shop-main-v001"}))
	}).Should(Succeed())
	out, err := env.Kubectl("get", "cloudaccount", a.account)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(MatchRegexp(`aws\s+True\s+2`))

	g.Expect(env.Client.Delete(context.Background(), getAccount(g, a.account))).To(Succeed())
	g.Eventually(func(g Gomega) {
		acc := getAccount(g, a.account)
		g.Expect(acc.DeletionTimestamp).NotTo(BeNil())
		c := cond(acc, v1alpha1.ConditionReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonInUse))
		g.Expect(c.Message).To(Equal("being deleted, and waiting for the 2 ServerGroups that use it to go: " +
			a.ns + "/shop-main-v000, " + a.ns + "/shop-main-v001"))
	}).Should(Succeed())

	// The groups still work through it, deleting their cloud groups included.
	g.Expect(env.Client.Delete(context.Background(), sgs[0])).To(Succeed())
	g.Eventually(gone(sgs[0])).Should(BeTrue())
	g.Eventually(func(g Gomega) {
		c := cond(getAccount(g, a.account), v1alpha1.ConditionReady)
		g.Expect(c.Message).To(Equal("being deleted, and waiting for the ServerGroup that uses it to go: " + a.ns + "/shop-main-v001"))
	}).Should(Succeed())
	_, ok := a.sim.Group(sgs[0].Name)
	g.Expect(ok).To(BeFalse())

	g.Expect(env.Client.Delete(context.Background(), sgs[1])).To(Succeed())
	g.Eventually(gone(sgs[1])).Should(BeTrue())
	g.Eventually(gone(&v1alpha1.CloudAccount{ObjectMeta: metav1.ObjectMeta{Name: a.account}})).Should(BeTrue())
	g.Expect(a.sim.Groups()).To(BeEmpty())
	g.Expect(reasons(g, "", a.account)).To(ContainElement(v1alpha1.ReasonInUse))
}

// ServerGroups coming and going keep their account's usage current without a cloud call: the account is
// checked with STS only when it or its Secret changes (or a check is due), and the account's own status
// writes do not bring its ServerGroups back; a change of its spec does, once.
func TestCloudAccountUsageMakesNoCloudCalls(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	sg := a.serverGroup(t, "shop-main-v000", 1, v1alpha1.TrafficEnabled)
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, sg.Name)
		g.Expect(current(sg, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(getAccount(g, a.account).Status.ServerGroups).To(Equal(int32(1)))
	}).Should(Succeed())
	a.sim.ResetCalls()

	// Groups of a namespace the account does not allow make no cloud call of their own, but count.
	// Admitted without the webhook, which refuses them.
	elsewhere := env.NamespaceWithoutAdmission(t)
	for i := range 5 {
		other := &v1alpha1.ServerGroup{ObjectMeta: metav1.ObjectMeta{Namespace: elsewhere, Name: fmt.Sprintf("shop-main-v%03d", i)}, Spec: sg.Spec}
		g.Expect(env.Client.Create(context.Background(), other)).To(Succeed())
		g.Eventually(func() int32 { return getAccount(g, a.account).Status.ServerGroups }).Should(Equal(int32(2 + i)))
		g.Expect(a.sim.Calls()).To(BeEmpty(), "after %d more groups", i+1)
	}
	g.Expect(getAccount(g, a.account).Status.UsedBy).To(HaveLen(6))

	// A change of the account's spec brings its groups back, and checks it again: one look at the group,
	// one STS call.
	acc := getAccount(g, a.account)
	acc.Spec.AllowedNamespaces = append(acc.Spec.AllowedNamespaces, "somewhere-else")
	g.Expect(env.Client.Update(context.Background(), acc)).To(Succeed())
	g.Eventually(func() map[string]int { return a.sim.Calls() }).Should(And(
		HaveKeyWithValue("autoscaling:DescribeAutoScalingGroups", 1),
		HaveKeyWithValue("sts:GetCallerIdentity", 1),
	))
	g.Eventually(func(g Gomega) {
		acc := getAccount(g, a.account)
		g.Expect(current(acc, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
	}).Should(Succeed())
	g.Expect(a.sim.Calls()["autoscaling:DescribeAutoScalingGroups"]).To(Equal(1), "the account's own status writes brought the group back")
}
