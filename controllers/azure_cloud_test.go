package controllers_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	azuresim "github.com/gennaker/gennaker/test/cloudsim/azure"
	"github.com/gennaker/gennaker/test/testenv"
)

// An Azure account is Ready once its client secret gets a token and the subscription is read; the
// secret is nowhere a user or an operator could read it.
func TestAzureAccountReadiness(t *testing.T) {
	g := testenv.NewWithT(t)
	z := setupAzure(t, true, azureSimOptions())
	g.Eventually(func(g Gomega) {
		acc := getAccount(g, z.account)
		c := cond(acc, v1alpha1.ConditionReady)
		g.Expect(c.Reason).To(Equal("Verified"))
		g.Expect(c.Message).To(ContainSubstring("client " + azureClient + " in subscription " + azureSubscription))
	}).Should(Succeed())
	g.Expect(z.sim.Calls()).To(HaveKeyWithValue("Subscriptions.Get", BeNumerically(">=", 1)))

	// A rotated secret that Entra refuses is AccessDenied, without an edit of the account.
	var secret corev1.Secret
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: z.ns, Name: "azure-credentials"}, &secret)).To(Succeed())
	secret.Data[credentialKey] = []byte("not-the-secret")
	g.Expect(env.Client.Update(context.Background(), &secret)).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := cond(getAccount(g, z.account), v1alpha1.ConditionReady)
		g.Expect(c.Reason).To(Equal("AccessDenied"))
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
	}).Should(Succeed())

	var accounts v1alpha1.CloudAccountList
	g.Expect(env.Client.List(context.Background(), &accounts)).To(Succeed())
	statuses, _ := json.Marshal(accounts)
	var evs eventsv1.EventList
	g.Expect(env.Client.List(context.Background(), &evs)).To(Succeed())
	evJSON, _ := json.Marshal(evs)
	for what, text := range map[string]string{"status": string(statuses), "events": string(evJSON), "logs": z.logs.String()} {
		g.Expect(text).NotTo(ContainSubstring(azureSecret), what)
		g.Expect(text).NotTo(ContainSubstring("not-the-secret"), what)
	}
}

// The manager is stopped while the scale set's creation is under way (status.operation holds the
// poller's resume token) and a new one started: it resumes the operation from the token, and the
// scale set is PUT once.
func TestAzureRestartMidOperation(t *testing.T) {
	g := testenv.NewWithT(t)
	opts := azureSimOptions()
	opts.OperationDelay = 3 * time.Second
	z := setupAzure(t, false, opts)
	stop := env.StartManagerWith(t, z.manager())
	sg := z.serverGroup(t, "shop-main-v000", 2, v1alpha1.TrafficEnabled)
	g.Eventually(func(g Gomega) {
		op := getGroup(g, z.ns, sg.Name).Status.Operation
		g.Expect(op).NotTo(BeNil())
		g.Expect(op.Action).To(Equal(v1alpha1.OperationCreate))
		g.Expect(op.ID).To(ContainSubstring(`"asyncURL"`), "the ID is the poller's resume token")
	}).Should(Succeed())
	stop()
	polls := z.sim.Calls()["Operations.Get"]

	env.StartManagerWith(t, z.manager())
	g.Eventually(func(g Gomega) {
		got := getGroup(g, z.ns, sg.Name)
		g.Expect(current(got, v1alpha1.ConditionReady, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(current(got, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
		g.Expect(got.Status.Operation).To(BeNil())
		g.Expect(got.Status.Traffic).To(Equal(v1alpha1.TrafficEnabled))
	}, "30s").Should(Succeed())
	g.Expect(z.sim.Calls()["Operations.Get"]).To(BeNumerically(">", polls), "the new manager polled the operation")
	g.Expect(z.sim.Calls()["VirtualMachineScaleSets.CreateOrUpdate"]).To(Equal(1))
	g.Expect(z.scaleSetNames()).To(Equal([]string{sg.Name}))
}

// Resource Manager answers the scale set's PUT with 429 and Retry-After: 1; the SDK waits that long
// before it tries again, the scale set is made once, and the ServerGroup never sees the throttling.
func TestAzureThrottlingHonoursRetryAfter(t *testing.T) {
	g := testenv.NewWithT(t)
	z := setupAzure(t, true, azureSimOptions())
	z.sim.Inject(azuresim.Fault{Op: "VirtualMachineScaleSets.CreateOrUpdate", Status: 429, RetryAfter: time.Second})
	sg := z.serverGroup(t, "shop-main-v000", 1, v1alpha1.TrafficEnabled)
	g.Eventually(func(g Gomega) {
		got := getGroup(g, z.ns, sg.Name)
		g.Expect(current(got, v1alpha1.ConditionHealthy, metav1.ConditionTrue)).To(BeTrue())
	}, "30s").Should(Succeed())
	times := z.sim.CallTimes("VirtualMachineScaleSets.CreateOrUpdate")
	g.Expect(times).To(HaveLen(2), "one throttled PUT and its retry")
	g.Expect(times[1].Sub(times[0])).To(BeNumerically(">=", time.Second), "the retry came before Retry-After")
	g.Expect(reasons(g, z.ns, sg.Name)).NotTo(ContainElement("Throttled"))
	g.Expect(z.scaleSetNames()).To(Equal([]string{sg.Name}))
}

// A scale set made outside Gennaker with a ServerGroup's name is NotOwned: looked at, never written to,
// and deleting the ServerGroup leaves it as it is.
func TestAzureForeignScaleSetUntouched(t *testing.T) {
	g := testenv.NewWithT(t)
	z := setupAzure(t, true, azureSimOptions())
	foreign := armcompute.VirtualMachineScaleSet{
		Location: to(azureRegion),
		Tags:     map[string]*string{"team": to("shop")},
		SKU:      &armcompute.SKU{Name: to("Standard_D2s_v5"), Capacity: to(int64(2))},
		Properties: &armcompute.VirtualMachineScaleSetProperties{
			UpgradePolicy: &armcompute.UpgradePolicy{Mode: to(armcompute.UpgradeModeManual)},
			VirtualMachineProfile: &armcompute.VirtualMachineScaleSetVMProfile{
				StorageProfile: &armcompute.VirtualMachineScaleSetStorageProfile{ImageReference: &armcompute.ImageReference{ID: to(azureImage(9))}},
				NetworkProfile: &armcompute.VirtualMachineScaleSetNetworkProfile{NetworkInterfaceConfigurations: []*armcompute.VirtualMachineScaleSetNetworkConfiguration{{
					Name: to("nic"),
					Properties: &armcompute.VirtualMachineScaleSetNetworkConfigurationProperties{IPConfigurations: []*armcompute.VirtualMachineScaleSetIPConfiguration{{
						Name: to("ip"),
						Properties: &armcompute.VirtualMachineScaleSetIPConfigurationProperties{
							Subnet:                          &armcompute.APIEntityReference{ID: to(azureSubnet)},
							LoadBalancerBackendAddressPools: []*armcompute.SubResource{{ID: to(azurePool)}},
						},
					}}},
				}}},
			},
		},
	}
	poller, err := z.scaleSets(t).BeginCreateOrUpdate(context.Background(), azureGroup, "shop-main-v000", foreign, nil)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = poller.PollUntilDone(context.Background(), &runtime.PollUntilDoneOptions{Frequency: 50 * time.Millisecond})
	g.Expect(err).NotTo(HaveOccurred())
	before, _ := z.sim.ScaleSet("shop-main-v000")
	z.sim.ResetCalls()

	sg := z.serverGroup(t, "shop-main-v000", 3, v1alpha1.TrafficDisabled)
	g.Eventually(func(g Gomega) {
		c := cond(getGroup(g, z.ns, sg.Name), v1alpha1.ConditionReady)
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonNotOwned))
		g.Expect(c.Message).To(Equal("the cloud server group shop-main-v000 is not this ServerGroup's: it has no Gennaker owner tags: " +
			"made outside Gennaker; nothing was changed; to take it over, annotate this ServerGroup delivery.gennaker.io/adopt=shop-main-v000"))
	}).Should(Succeed())
	g.Eventually(func() int { return z.sim.Calls()["VirtualMachineScaleSets.Get"] }).Should(BeNumerically(">=", 4))
	g.Expect(azureWrites(z.sim.Calls())).To(BeEmpty())

	g.Expect(env.Client.Delete(context.Background(), sg)).To(Succeed())
	g.Eventually(gone(sg)).Should(BeTrue())
	g.Expect(azureWrites(z.sim.Calls())).To(BeEmpty())
	after, ok := z.sim.ScaleSet("shop-main-v000")
	g.Expect(ok).To(BeTrue())
	g.Expect(after.Tags).To(Equal(before.Tags))
	g.Expect(after.Capacity).To(Equal(before.Capacity))
	g.Expect(after.Pools).To(Equal(before.Pools))
}

func to[T any](v T) *T { return &v }
