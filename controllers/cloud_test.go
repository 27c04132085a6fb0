package controllers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	awssim "github.com/gennaker/gennaker/test/cloudsim/aws"
	"github.com/gennaker/gennaker/test/testenv"
)

// An account is Ready once STS accepted its key; each way of getting the credentials wrong gets its own
// reason, a rotated Secret is picked up without touching the account, and the secret key shows nowhere.
func TestCloudAccountReadiness(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)

	ready := func(name string) metav1.Condition {
		var c metav1.Condition
		g.Eventually(func(g Gomega) {
			acc := getAccount(g, name)
			c = cond(acc, v1alpha1.ConditionReady)
			g.Expect(c.ObservedGeneration).To(Equal(acc.Generation))
			g.Expect(c.Reason).NotTo(BeEmpty())
		}).Should(Succeed())
		return c
	}
	g.Eventually(func() string { return ready(a.account).Reason }).Should(Equal("Verified"))
	g.Expect(ready(a.account).Message).To(Equal("authenticated as arn:aws:iam::123456789012:user/" + accessKeyID))
	out, err := env.Kubectl("get", "cloudaccount", a.account)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(MatchRegexp(`aws\s+True`))

	closed := httptest.NewServer(nil)
	closed.Close()
	a.secret(t, "no-key", "[default]\naws_access_key_id = "+accessKeyID+"\n")
	a.secret(t, "wrong-key", "aws_access_key_id = AKIDUNKNOWN000000000\naws_secret_access_key = "+secretKey+"\n")
	for _, c := range []struct{ name, endpoint, secret, reason, message string }{
		{"missing-secret", a.srv.URL, "nope", "SecretNotFound", "secret " + a.ns + "/nope not found (spec.credentials.secretRef)"},
		{"missing-key", a.srv.URL, "no-key", "InvalidCredentials", "aws_secret_access_key is missing"},
		{"denied", a.srv.URL, "wrong-key", "AccessDenied", "GetCallerIdentity"},
		{"unreachable", closed.URL, "aws-credentials", "EndpointUnreachable", "GetCallerIdentity"},
	} {
		name := a.ns + "-" + c.name
		a.createAccount(t, name, c.endpoint, c.secret, []string{a.ns})
		g.Eventually(func() string { return ready(name).Reason }, "30s").Should(Equal(c.reason), c.name)
		g.Expect(ready(name).Status).To(Equal(metav1.ConditionFalse))
		g.Expect(ready(name).Message).To(ContainSubstring(c.message), c.name)
	}

	// A key missing from the Secret names the key; fixing the Secret fixes the account without an edit.
	var s corev1.Secret
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: a.ns, Name: "no-key"}, &s)).To(Succeed())
	s.Data[credentialKey] = []byte("[default]\naws_access_key_id = " + accessKeyID + "\naws_secret_access_key = " + secretKey + "\n")
	g.Expect(env.Client.Update(context.Background(), &s)).To(Succeed())
	g.Eventually(func() string { return ready(a.ns + "-missing-key").Reason }).Should(Equal("Verified"))

	// Rotating to a key the cloud refuses shows at once, too.
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: a.ns, Name: "aws-credentials"}, &s)).To(Succeed())
	s.Data[credentialKey] = []byte("aws_access_key_id = AKIDREVOKED000000000\naws_secret_access_key = " + secretKey + "-2\n")
	g.Expect(env.Client.Update(context.Background(), &s)).To(Succeed())
	g.Eventually(func() string { return ready(a.account).Reason }).Should(Equal("AccessDenied"))

	// The secret key is nowhere a user or an operator could read it.
	var accounts v1alpha1.CloudAccountList
	g.Expect(env.Client.List(context.Background(), &accounts)).To(Succeed())
	statuses, err := json.Marshal(accounts)
	g.Expect(err).NotTo(HaveOccurred())
	var evs eventsv1.EventList
	g.Expect(env.Client.List(context.Background(), &evs)).To(Succeed())
	evJSON, err := json.Marshal(evs)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(evJSON)).To(ContainSubstring("AccessDenied"), "the events were captured")
	g.Expect(a.logs.String()).To(ContainSubstring("account not ready"), "the logs were captured")
	for what, text := range map[string]string{"status": string(statuses), "events": string(evJSON), "logs": a.logs.String()} {
		g.Expect(text).NotTo(ContainSubstring(secretKey), what)
		g.Expect(text).NotTo(ContainSubstring("gnkr-SECRET"), what)
	}
}

// A ServerGroup becomes an Auto Scaling group; capacity and traffic follow the spec, status and the
// printer columns follow the cloud, and deleting the object deletes the group first.
func TestServerGroupLifecycle(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	sg := a.serverGroup(t, "shop-main-v000", 3, v1alpha1.TrafficDisabled)

	// Disabled: up and healthy by its own health checks, outside the load balancer.
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, sg.Name)
		g.Expect(current(sg, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue(), "%+v", sg.Status)
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue(), "%+v", sg.Status)
		g.Expect(current(sg, v1alpha1.ConditionTrafficEnabled, metav1.ConditionFalse)).To(BeTrue())
		g.Expect(sg.Status.Instances).To(Equal(v1alpha1.Instances{Desired: 3, Running: 3, Healthy: 3}))
		g.Expect(sg.Status.ProviderID).To(HavePrefix("arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:"))
	}).Should(Succeed())
	asg, ok := a.sim.Group(sg.Name)
	g.Expect(ok).To(BeTrue())
	g.Expect(asg.TargetGroupARNs).To(BeEmpty())
	g.Expect(getGroup(g, a.ns, sg.Name).Finalizers).To(ContainElement("delivery.gennaker.io/cloud-resource"))
	g.Expect(getGroup(g, a.ns, sg.Name).Labels).To(HaveKeyWithValue(v1alpha1.LabelCluster, "shop-main"))

	// Enabled: attached, and healthy by the target group's health checks.
	patchGroup(t, a.ns, sg.Name, `{"spec":{"traffic":"Enabled"}}`)
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, sg.Name)
		g.Expect(current(sg, v1alpha1.ConditionTrafficEnabled, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(sg.Status.Traffic).To(Equal(v1alpha1.TrafficEnabled))
	}).Should(Succeed())
	asg, _ = a.sim.Group(sg.Name)
	g.Expect(asg.TargetGroupARNs).To(ConsistOf(targetGroup))
	g.Expect(asg.SuspendedProcesses).To(BeEmpty())
	out, err := env.Kubectl("-n", a.ns, "get", "sg", sg.Name)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(MatchRegexp(`shop-main-v000\s+` + a.account + `\s+us-east-1\s+3\s+3\s+Enabled\s+True`))

	// Disabled again: detached, and the processes that would change it suspended.
	patchGroup(t, a.ns, sg.Name, `{"spec":{"traffic":"Disabled","capacity":{"min":0,"desired":1,"max":10}}}`)
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, sg.Name)
		g.Expect(current(sg, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(sg.Status.Traffic).To(Equal(v1alpha1.TrafficDisabled))
		g.Expect(sg.Status.Instances).To(Equal(v1alpha1.Instances{Desired: 1, Running: 1, Healthy: 1}))
	}).Should(Succeed())
	asg, _ = a.sim.Group(sg.Name)
	g.Expect(asg.TargetGroupARNs).To(BeEmpty())
	g.Expect(asg.SuspendedProcesses).To(ContainElement("AddToLoadBalancer"))

	// Deleting the object deletes the Auto Scaling group (and the launch template made for it) first.
	g.Expect(env.Client.Delete(context.Background(), sg)).To(Succeed())
	g.Eventually(func() bool {
		err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(sg), &v1alpha1.ServerGroup{})
		return apierrors.IsNotFound(err)
	}).Should(BeTrue())
	_, ok = a.sim.Group(sg.Name)
	g.Expect(ok).To(BeFalse())
	g.Expect(a.sim.Calls()["autoscaling:CreateAutoScalingGroup"]).To(Equal(1))
	g.Expect(reasons(g, a.ns, sg.Name)).To(ContainElements("Created", "TrafficEnabled", "TrafficDisabled", "Resized", "Deleting", "Deleted"))
}

// A namespace the account does not allow gets AccountNotAllowed and not a single cloud call; such a
// group can still be deleted.
func TestServerGroupAccountNotAllowed(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	other := a.ns + "-other"
	a.createAccount(t, other, a.srv.URL, "aws-credentials", []string{"somewhere-else"})
	g.Eventually(func() string { return cond(getAccount(g, other), v1alpha1.ConditionReady).Reason }).Should(Equal("Verified"))
	a.sim.ResetCalls()

	sg := a.serverGroup(t, "shop-main-v000", 1, v1alpha1.TrafficEnabled)
	// An account missing altogether is AccountNotFound; one that leaves this namespace out is
	// AccountNotAllowed. The account is immutable on a group, so two groups show the two cases.
	missing := &v1alpha1.ServerGroup{ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "shop-main-v001"}, Spec: sg.Spec}
	missing.Spec.Account = "no-such-account"
	g.Expect(env.Client.Create(context.Background(), missing)).To(Succeed())
	notAllowed := &v1alpha1.ServerGroup{ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "shop-main-v002"}, Spec: sg.Spec}
	notAllowed.Spec.Account = other
	// Admitted without the webhook, which refuses it: the controller's check is for such groups.
	g.Expect(env.Client.Create(context.Background(), testenv.WithoutAdmission(notAllowed))).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := cond(getGroup(g, a.ns, notAllowed.Name), v1alpha1.ConditionReady)
		g.Expect(c.Reason).To(Equal("AccountNotAllowed"))
		g.Expect(c.Message).To(Equal("spec.account: namespace " + a.ns + " is not in the allowedNamespaces of CloudAccount " + other))
		c = cond(getGroup(g, a.ns, missing.Name), v1alpha1.ConditionReady)
		g.Expect(c.Reason).To(Equal("AccountNotFound"))
		g.Expect(c.Message).To(Equal("spec.account: CloudAccount no-such-account not found"))
	}).Should(Succeed())
	// The allowed group in the same namespace did reach the cloud; the other two made no call.
	g.Eventually(func() bool { _, ok := a.sim.Group(sg.Name); return ok }).Should(BeTrue())
	for _, name := range []string{missing.Name, notAllowed.Name} {
		_, ok := a.sim.Group(name)
		g.Expect(ok).To(BeFalse())
	}
	g.Expect(a.sim.Calls()["autoscaling:CreateAutoScalingGroup"]).To(Equal(1))

	// Allowing the namespace on the account lets the group through without touching the group.
	acc := getAccount(g, other)
	acc.Spec.AllowedNamespaces = []string{a.ns}
	g.Expect(env.Client.Update(context.Background(), acc)).To(Succeed())
	g.Eventually(func() bool { _, ok := a.sim.Group(notAllowed.Name); return ok }).Should(BeTrue())

	// A group that never reached the cloud is deleted without one.
	g.Expect(env.Client.Delete(context.Background(), missing)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(env.Client.Get(context.Background(), client.ObjectKeyFromObject(missing), &v1alpha1.ServerGroup{}))
	}).Should(BeTrue())
}

// A storm of throttling shows in the Ready condition, is ridden out with backoff, and leaves exactly one
// group behind once it passes.
func TestServerGroupThrottlingStorm(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	before := gather(g)
	a.sim.Inject(awssim.Fault{Service: "autoscaling", Kind: awssim.Throttle})
	sg := a.serverGroup(t, "shop-main-v000", 2, v1alpha1.TrafficEnabled)
	g.Eventually(func(g Gomega) {
		c := cond(getGroup(g, a.ns, sg.Name), v1alpha1.ConditionReady)
		g.Expect(c.Reason).To(Equal("Throttled"))
		g.Expect(c.Message).To(ContainSubstring("DescribeAutoScalingGroups"))
	}).Should(Succeed())
	// Many calls refused, retried by the SDK and then by the controller, and not one group made.
	g.Eventually(func() int { return a.sim.Calls()["autoscaling:DescribeAutoScalingGroups"] }).Should(BeNumerically(">=", 10))
	_, ok := a.sim.Group(sg.Name)
	g.Expect(ok).To(BeFalse())

	a.sim.ClearFaults()
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, sg.Name)
		g.Expect(current(sg, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
	}, "30s").Should(Succeed())
	g.Expect(a.sim.Calls()["autoscaling:CreateAutoScalingGroup"]).To(Equal(1))
	g.Expect(a.sim.Groups()).To(HaveLen(1))

	// Server errors in the middle of a change are ridden out the same way.
	a.sim.Inject(awssim.Fault{Service: "autoscaling", Action: "UpdateAutoScalingGroup", Kind: awssim.ServerError, Count: 8})
	patchGroup(t, a.ns, sg.Name, `{"spec":{"capacity":{"min":0,"desired":3,"max":10}}}`)
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, sg.Name)
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(sg.Status.Instances.Healthy).To(Equal(int32(3)))
	}, "30s").Should(Succeed())
	g.Expect(reasons(g, a.ns, sg.Name)).To(ContainElements("Throttled", "CloudUnavailable"))

	// /metrics tells the operations that were refused from those that went through.
	after := gather(g)
	metric := func(op, outcome string) float64 {
		k := `gennaker_cloud_requests_total{operation="` + op + `",outcome="` + outcome + `",provider="aws",service="Auto Scaling"}`
		return after[k] - before[k]
	}
	g.Expect(metric("DescribeAutoScalingGroups", "Throttled")).To(BeNumerically(">=", 2))
	g.Expect(metric("UpdateAutoScalingGroup", "CloudUnavailable")).To(BeNumerically(">=", 1))
	g.Expect(metric("CreateAutoScalingGroup", "OK")).To(BeNumerically(">=", 1))
}

// patchGroup sends a merge patch to a ServerGroup with kubectl, as a user would.
func patchGroup(t *testing.T, ns, name, body string) {
	t.Helper()
	if out, err := env.Kubectl("-n", ns, "patch", "servergroup", name, "--type", "merge", "-p", body); err != nil {
		t.Fatalf("kubectl patch: %v: %s", err, out)
	}
}

// reasons lists the reasons of the Events about an object.
func reasons(g Gomega, ns, name string) []string {
	var out []string
	for _, e := range events(g, ns, name) {
		out = append(out, e.Reason)
	}
	return out
}

// A controller that dies after creating the Auto Scaling group and before recording it (every status
// write of the first manager is lost) does not make a second one: the next manager finds it by name.
func TestServerGroupCreateSurvivesLostRecord(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, false)
	lossy := &losingWrites{resource: "servergroups", every: 1}
	m := a.manager()
	m.Config = rest.CopyConfig(env.Config)
	m.Config.Wrap(func(rt http.RoundTripper) http.RoundTripper { lossy.next = rt; return lossy })
	stop := env.StartManagerWith(t, m)

	sg := a.serverGroup(t, "shop-main-v000", 2, v1alpha1.TrafficEnabled)
	g.Eventually(func() int { return a.sim.Calls()["autoscaling:CreateAutoScalingGroup"] }).Should(Equal(1))
	g.Eventually(lossy.lost.Load).Should(BeNumerically(">=", 1))
	stop()
	g.Expect(getGroup(g, a.ns, sg.Name).Status.ProviderID).To(BeEmpty(), "the creation was never recorded")

	env.StartManagerWith(t, a.manager())
	g.Eventually(func(g Gomega) {
		sg := getGroup(g, a.ns, sg.Name)
		g.Expect(current(sg, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(current(sg, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
	}).Should(Succeed())
	g.Expect(a.sim.Calls()["autoscaling:CreateAutoScalingGroup"]).To(Equal(1))
	g.Expect(a.sim.Groups()).To(HaveLen(1))
	g.Expect(a.sim.LaunchTemplates()).To(HaveLen(1))
}
