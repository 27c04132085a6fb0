package controllers_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// A desired capacity changed in the cloud (a scaling policy) stays while it is within min and max under
// desiredDrift Tolerate, the default, and status shows the cloud's figure; Correct sets it back. min and
// max changed in the cloud are set back either way, and a change of the spec's capacity is applied.
func TestServerGroupDesiredDrift(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, false)
	m := a.manager()
	m.Controllers.ServerGroupResync = 200 * time.Millisecond // a change in the cloud is seen soon
	env.StartManagerWith(t, m)
	sg := a.serverGroup(t, "shop-main-v000", 2, v1alpha1.TrafficEnabled)
	g.Expect(getGroup(g, a.ns, sg.Name).Spec.DesiredDrift).To(Equal(v1alpha1.DriftTolerate), "the default")
	converged := func(desired int32) {
		t.Helper()
		g.Eventually(func(g Gomega) {
			sg := getGroup(g, a.ns, sg.Name)
			g.Expect(current(sg, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
			g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue(), "%+v", sg.Status)
			g.Expect(sg.Status.Instances).To(Equal(v1alpha1.Instances{Desired: desired, Running: desired, Healthy: desired}))
		}).Should(Succeed())
	}
	cloudCapacity := func() v1alpha1.Capacity {
		asg, _ := a.sim.Group(sg.Name)
		return v1alpha1.Capacity{Min: asg.MinSize, Max: asg.MaxSize, Desired: asg.DesiredCapacity}
	}
	converged(2)
	g.Expect(getGroup(g, a.ns, sg.Name).Status.AppliedCapacity).To(Equal(&v1alpha1.Capacity{Min: 0, Max: 10, Desired: 2}))

	// A scaling policy scales out: tolerated, and Healthy counts the cloud's 4.
	a.sim.ResetCalls()
	g.Expect(a.sim.SetDesiredCapacity(sg.Name, 4)).To(Succeed())
	converged(4)
	g.Expect(cond(getGroup(g, a.ns, sg.Name), v1alpha1.ConditionReady).Message).To(Equal(
		"capacity min 0, desired 4, max 10, traffic Enabled; desired 4 was set outside Gennaker (the spec says 2): tolerated within min and max (desiredDrift Tolerate)"))
	g.Expect(a.sim.Calls()["autoscaling:UpdateAutoScalingGroup"]).To(BeZero())
	g.Expect(cloudCapacity()).To(Equal(v1alpha1.Capacity{Min: 0, Max: 10, Desired: 4}))

	// A person lowers max in the console: max is set back, desired stays where max dragged it.
	_, err := a.asg().UpdateAutoScalingGroup(context.Background(), &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(sg.Name), MaxSize: aws.Int32(3),
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(cloudCapacity).Should(Equal(v1alpha1.Capacity{Min: 0, Max: 10, Desired: 3}))
	converged(3)

	// Correct sets the spec's desired back.
	patchGroup(t, a.ns, sg.Name, `{"spec":{"desiredDrift":"Correct"}}`)
	g.Eventually(cloudCapacity).Should(Equal(v1alpha1.Capacity{Min: 0, Max: 10, Desired: 2}))
	converged(2)
	g.Expect(a.sim.SetDesiredCapacity(sg.Name, 5)).To(Succeed())
	g.Eventually(cloudCapacity).Should(Equal(v1alpha1.Capacity{Min: 0, Max: 10, Desired: 2}))
	converged(2)

	// A change of the spec's capacity is applied under either policy.
	patchGroup(t, a.ns, sg.Name, `{"spec":{"desiredDrift":"Tolerate"}}`)
	g.Expect(a.sim.SetDesiredCapacity(sg.Name, 4)).To(Succeed())
	converged(4)
	patchGroup(t, a.ns, sg.Name, `{"spec":{"capacity":{"min":1,"desired":3,"max":6}}}`)
	g.Eventually(cloudCapacity).Should(Equal(v1alpha1.Capacity{Min: 1, Max: 6, Desired: 3}))
	converged(3)
	g.Expect(getGroup(g, a.ns, sg.Name).Status.AppliedCapacity).To(Equal(&v1alpha1.Capacity{Min: 1, Max: 6, Desired: 3}))
}

// A group made by an operator that did not record the capacity it applied (status.appliedCapacity
// empty) and scaled since by a policy is not reset when the operator is upgraded, as long as its min and
// max are the spec's.
func TestServerGroupUpgradeKeepsAScaledGroup(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, false)
	m := a.manager()
	m.Controllers.ServerGroupResync = 200 * time.Millisecond
	stop := env.StartManagerWith(t, m)
	sg := a.serverGroup(t, "shop-main-v000", 2, v1alpha1.TrafficEnabled)
	g.Eventually(func(g Gomega) {
		g.Expect(current(getGroup(g, a.ns, sg.Name), v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
	}).Should(Succeed())
	stop()

	// What the earlier version left: no appliedCapacity; then a scaling policy acts while it is down.
	cur := getGroup(g, a.ns, sg.Name)
	cur.Status.AppliedCapacity = nil
	g.Expect(env.Client.Status().Update(context.Background(), cur)).To(Succeed())
	g.Expect(getGroup(g, a.ns, sg.Name).Status.AppliedCapacity).To(BeNil())
	g.Expect(a.sim.SetDesiredCapacity(sg.Name, 4)).To(Succeed())
	a.sim.ResetCalls()

	env.StartManagerWith(t, m)
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, sg.Name)
		g.Expect(sg.Status.AppliedCapacity).To(Equal(&sg.Spec.Capacity))
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(sg.Status.Instances.Desired).To(Equal(int32(4)))
	}).Should(Succeed())
	g.Expect(a.sim.Calls()["autoscaling:UpdateAutoScalingGroup"]).To(BeZero())
}
