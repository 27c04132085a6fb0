package controllers_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	"github.com/gennaker/gennaker/test/testenv"
)

// A ServerGroup whose name matches an Auto Scaling group it did not make (another namespace's on the same
// account, a hand-made one) never touches it: Ready=False NotOwned naming the owner the tags show, only
// Describe calls, and deleting the ServerGroup leaves the group alone. The hand-made one is taken over
// once the ServerGroup is annotated to adopt it.
func TestServerGroupNotOwned(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	other := env.Namespace(t)
	acc := getAccount(g, a.account)
	acc.Spec.AllowedNamespaces = []string{a.ns, other}
	g.Expect(env.Client.Update(context.Background(), acc)).To(Succeed())

	owner := a.serverGroup(t, "shop-main-v000", 2, v1alpha1.TrafficEnabled)
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, owner.Name)
		g.Expect(current(sg, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
	}).Should(Succeed())
	before, _ := a.sim.Group(owner.Name)
	a.handMadeGroup(t, "shop-main-v001", map[string]string{"team": "shop"})
	a.sim.ResetCalls()

	// The same name in another namespace: never adoptable.
	intruder := &v1alpha1.ServerGroup{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: owner.Name}, Spec: owner.Spec}
	g.Expect(env.Client.Create(context.Background(), intruder)).To(Succeed())
	// A hand-made group: adoptable, once asked.
	handMade := a.serverGroup(t, "shop-main-v001", 1, v1alpha1.TrafficEnabled)
	g.Eventually(func(g Gomega) {
		c := cond(getGroup(g, other, intruder.Name), v1alpha1.ConditionReady)
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonNotOwned))
		g.Expect(c.Message).To(Equal("the cloud server group shop-main-v000 is not this ServerGroup's: its tags name ServerGroup " +
			a.ns + "/shop-main-v000 (uid " + string(getGroup(g, a.ns, owner.Name).UID) + "); nothing was changed; " +
			"it cannot be adopted, since its tags name another ServerGroup"))
		c = cond(getGroup(g, a.ns, handMade.Name), v1alpha1.ConditionReady)
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonNotOwned))
		g.Expect(c.Message).To(Equal("the cloud server group shop-main-v001 is not this ServerGroup's: it has no Gennaker owner tags: " +
			"made outside Gennaker; nothing was changed; to take it over, annotate this ServerGroup delivery.gennaker.io/adopt=shop-main-v001"))
	}).Should(Succeed())
	// Looked at again and again (slowly), and never written to.
	g.Eventually(func() int { return a.sim.Calls()["autoscaling:DescribeAutoScalingGroups"] }).Should(BeNumerically(">=", 6))
	g.Expect(writes(a.sim.Calls())).To(BeEmpty())
	g.Expect(getGroup(g, other, intruder.Name).Status.ProviderID).To(BeEmpty())
	g.Expect(reasons(g, other, intruder.Name)).To(ContainElement(v1alpha1.ReasonNotOwned))
	out, err := env.Kubectl("-n", other, "get", "sg", intruder.Name, "-o", "wide")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(MatchRegexp(`False\s+NotOwned`))

	// Deleting the intruder deletes nothing in the cloud.
	g.Expect(env.Client.Delete(context.Background(), intruder)).To(Succeed())
	g.Eventually(gone(intruder)).Should(BeTrue())
	g.Expect(writes(a.sim.Calls())).To(BeEmpty())
	after, ok := a.sim.Group(owner.Name)
	g.Expect(ok).To(BeTrue())
	g.Expect(after.Deleting).To(BeFalse())
	g.Expect(after.Tags).To(Equal(before.Tags))
	g.Expect(after.DesiredCapacity).To(Equal(before.DesiredCapacity))
	g.Expect(a.sim.LaunchTemplates()).To(ContainElement(HaveField("Name", owner.Name)))
	var left []string
	for _, e := range events(g, other, intruder.Name) {
		if e.Reason == v1alpha1.ReasonNotOwned && e.Action == "Delete" {
			left = append(left, e.Note)
		}
	}
	g.Expect(left).To(ConsistOf("left Auto Scaling group shop-main-v000 alone, since it is not this ServerGroup's: ServerGroup " +
		a.ns + "/shop-main-v000 (uid " + string(getGroup(g, a.ns, owner.Name).UID) + ")"))

	// Adopting the hand-made group: its owner tags are rewritten (its own stay), and from then on the spec
	// governs it.
	out, err = env.Kubectl("-n", a.ns, "annotate", "sg", handMade.Name, v1alpha1.AnnotationAdopt+"="+handMade.Name)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, handMade.Name)
		g.Expect(current(sg, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue(), "%+v", sg.Status.Conditions)
		g.Expect(sg.Status.AdoptedAt).NotTo(BeNil())
		g.Expect(sg.Status.Instances.Desired).To(Equal(int32(1)))
		g.Expect(sg.Status.AWS.LaunchTemplate).To(Equal(&v1alpha1.LaunchTemplate{Name: "shop-main-v001-lt", Version: "1"}))
	}).Should(Succeed())
	adopted, _ := a.sim.Group(handMade.Name)
	want := cloud.Tags(getGroup(g, a.ns, handMade.Name))
	want["team"] = "shop"
	g.Expect(adopted.Tags).To(Equal(want))
	g.Expect(adopted.MinSize).To(Equal(int32(0)))
	g.Expect(adopted.MaxSize).To(Equal(int32(10)))
	g.Expect(reasons(g, a.ns, handMade.Name)).To(ContainElements(v1alpha1.ReasonNotOwned, "Adopted", "Resized"))
	g.Expect(a.sim.Calls()["autoscaling:CreateAutoScalingGroup"]).To(BeZero())
}

// deletionPolicy Orphan lets the ServerGroup go without a cloud call and leaves its group; a new
// ServerGroup of the same namespace and name finds it NotOwned, takes it back with the adopt annotation,
// and then deletes it (and its launch template) as its own.
func TestServerGroupOrphanThenAdopt(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	first := a.serverGroup(t, "shop-main-v000", 2, v1alpha1.TrafficEnabled)
	patchGroup(t, a.ns, first.Name, `{"spec":{"deletionPolicy":"Orphan"}}`)
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, first.Name)
		g.Expect(current(sg, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
	}).Should(Succeed())
	firstUID := getGroup(g, a.ns, first.Name).UID
	before, _ := a.sim.Group(first.Name)

	a.sim.ResetCalls()
	g.Expect(env.Client.Delete(context.Background(), first)).To(Succeed())
	g.Eventually(gone(first)).Should(BeTrue())
	g.Expect(a.sim.Calls()).To(BeEmpty(), "Orphan makes no cloud call")
	g.Expect(reasons(g, a.ns, first.Name)).To(ContainElement("Orphaned"))
	after, ok := a.sim.Group(first.Name)
	g.Expect(ok).To(BeTrue())
	g.Expect(after.Deleting).To(BeFalse())
	g.Expect(after.Tags).To(Equal(before.Tags))
	g.Expect(after.Instances).To(HaveLen(2))

	// Applied again, it is an earlier ServerGroup's: NotOwned, until annotated.
	again := a.serverGroup(t, first.Name, 2, v1alpha1.TrafficEnabled)
	g.Eventually(func(g Gomega) {
		c := cond(getGroup(g, a.ns, again.Name), v1alpha1.ConditionReady)
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonNotOwned))
		g.Expect(c.Message).To(ContainSubstring("its tags name ServerGroup " + a.ns + "/shop-main-v000 (uid " + string(firstUID) + ")"))
		g.Expect(c.Message).To(ContainSubstring("to take it over, annotate this ServerGroup delivery.gennaker.io/adopt=shop-main-v000"))
	}).Should(Succeed())
	g.Expect(writes(a.sim.Calls())).To(BeEmpty())

	out, err := env.Kubectl("-n", a.ns, "annotate", "sg", again.Name, v1alpha1.AnnotationAdopt+"="+again.Name)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, again.Name)
		g.Expect(current(sg, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(sg.Status.AdoptedAt).NotTo(BeNil())
	}).Should(Succeed())
	newUID := string(getGroup(g, a.ns, again.Name).UID)
	asg, _ := a.sim.Group(again.Name)
	g.Expect(asg.Tags).To(HaveKeyWithValue(cloud.TagUID, newUID))
	g.Expect(a.sim.LaunchTemplates()).To(ContainElement(And(HaveField("Name", again.Name), HaveField("Tags", HaveKeyWithValue(cloud.TagUID, newUID)))))
	g.Expect(a.sim.Calls()["autoscaling:CreateAutoScalingGroup"]).To(BeZero(), "taken back, not made again")

	g.Expect(env.Client.Delete(context.Background(), again)).To(Succeed())
	g.Eventually(gone(again)).Should(BeTrue())
	g.Expect(a.sim.Groups()).To(BeEmpty())
	g.Expect(a.sim.LaunchTemplates()).To(BeEmpty())
}

// Orphan needs no account: a ServerGroup that made a cloud group in an account since gone still goes,
// where Delete would keep it, since nothing could delete its cloud group.
func TestServerGroupOrphanWithoutAccount(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	sg := &v1alpha1.ServerGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "shop-main-v000"},
		Spec: v1alpha1.ServerGroupSpec{
			Application: "shop", Stack: "main", Account: "gone-account", Region: "us-east-1",
			Capacity:         v1alpha1.Capacity{Max: 1, Desired: 1},
			DeletionPolicy:   v1alpha1.DeletionOrphan,
			CloudServerGroup: v1alpha1.CloudServerGroup{AWS: &v1alpha1.AWSServerGroup{ImageID: "ami-0abc1234def567890"}},
		},
	}
	g.Expect(env.Client.Create(context.Background(), sg)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(cond(getGroup(g, a.ns, sg.Name), v1alpha1.ConditionReady).Reason).To(Equal(v1alpha1.ReasonAccountNotFound))
	}).Should(Succeed())
	// What a group that reached the cloud before its account went looks like.
	cur := getGroup(g, a.ns, sg.Name)
	cur.Status.ProviderID = "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:0:autoScalingGroupName/shop-main-v000"
	g.Expect(env.Client.Status().Update(context.Background(), cur)).To(Succeed())

	g.Expect(env.Client.Delete(context.Background(), sg)).To(Succeed())
	g.Eventually(gone(sg)).Should(BeTrue())
	g.Expect(reasons(g, a.ns, sg.Name)).To(ContainElement("Orphaned"))
}
