package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloudaccount"
	"github.com/gennaker/gennaker/controllers/servergroup"
	awssim "github.com/gennaker/gennaker/test/cloudsim/aws"
	"github.com/gennaker/gennaker/test/testenv"

	awscloud "github.com/gennaker/gennaker/controllers/cloud/aws"
)

// A permission missing in the cloud is an error only a person can fix, and nothing tells the operator
// when they did: it is looked at again, slowly, so that the fix is noticed without touching the object.
func TestServerGroupAccessDeniedIsRetried(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	a.sim.Inject(awssim.Fault{Service: awssim.ServiceAutoScaling, Action: "CreateAutoScalingGroup", Kind: awssim.AccessDenied})
	sg := a.serverGroup(t, "shop-main-v000", 1, v1alpha1.TrafficEnabled)
	g.Eventually(func(g Gomega) {
		c := cond(getGroup(g, a.ns, sg.Name), v1alpha1.ConditionReady)
		g.Expect(c.Reason).To(Equal("AccessDenied"))
		g.Expect(c.Message).To(ContainSubstring("is not authorized to perform: autoscaling:CreateAutoScalingGroup"))
	}).Should(Succeed())
	g.Eventually(func() int { return a.sim.Calls()["autoscaling:CreateAutoScalingGroup"] }).Should(BeNumerically(">=", 3), "tried again")
	generation := getGroup(g, a.ns, sg.Name).Generation

	a.sim.ClearFaults() // the permission is granted
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, sg.Name)
		g.Expect(current(sg, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(sg.Generation).To(Equal(generation), "nobody touched it")
	}).Should(Succeed())
	g.Expect(a.sim.Groups()).To(HaveLen(1))
}

// A cloud slower than a reconcile's deadline ends that reconcile with a retryable error on the group,
// EndpointUnreachable, and the worker goes on to the next group: with one worker, another group
// converges while every reconcile of the slow one hangs.
func TestServerGroupSlowCloudDoesNotHoldTheWorker(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, false)
	m := a.manager()
	m.Controllers.ServerGroupWorkers = 1
	m.Controllers.CloudTimeout = 500 * time.Millisecond
	env.StartManagerWith(t, m)

	slow := a.serverGroup(t, "shop-main-v000", 1, v1alpha1.TrafficDisabled)
	g.Eventually(func(g Gomega) {
		g.Expect(current(getGroup(g, a.ns, slow.Name), v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
	}).Should(Succeed())
	// Enabling it attaches its target group, a call that hangs far beyond the deadline.
	a.sim.Inject(awssim.Fault{Service: awssim.ServiceAutoScaling, Action: "AttachLoadBalancerTargetGroups", Kind: awssim.Slow, Delay: time.Minute})
	patchGroup(t, a.ns, slow.Name, `{"spec":{"traffic":"Enabled"}}`)
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, slow.Name)
		c := cond(sg, v1alpha1.ConditionReady)
		g.Expect(c.ObservedGeneration).To(Equal(sg.Generation))
		g.Expect(c.Reason).To(Equal("EndpointUnreachable"))
		g.Expect(c.Message).To(ContainSubstring("AttachLoadBalancerTargetGroups"))
		g.Expect(c.Message).To(ContainSubstring("deadline exceeded"))
	}).Should(Succeed())

	// Created Enabled, the other group attaches its target group as it is made, without that call.
	fast := a.serverGroup(t, "shop-main-v001", 1, v1alpha1.TrafficEnabled)
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, fast.Name)
		g.Expect(current(sg, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
	}).Should(Succeed())
	g.Expect(cond(getGroup(g, a.ns, slow.Name), v1alpha1.ConditionReady).Reason).To(Equal("EndpointUnreachable"), "still slow")

	a.sim.ClearFaults()
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, slow.Name)
		g.Expect(current(sg, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(sg.Status.Traffic).To(Equal(v1alpha1.TrafficEnabled))
	}).Should(Succeed())
}

// One AWS call with all its retries fits in the deadline of a ServerGroup or CloudAccount reconcile, so
// that it ends on its own terms (and its error says which operation) rather than on the deadline's.
func TestCloudCallFitsTheReconcileDeadline(t *testing.T) {
	call := (&awscloud.Provider{}).MaxCallDuration()
	for name, deadline := range map[string]time.Duration{"ServerGroup": servergroup.DefaultTimeout, "CloudAccount": cloudaccount.DefaultTimeout} {
		if call >= deadline || deadline >= time.Minute {
			t.Errorf("%s: a call may take %v, the reconcile's deadline is %v", name, call, deadline)
		}
	}
}
