package controllers_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
	"github.com/gennaker/gennaker/controllers/cloud"
	azurecloud "github.com/gennaker/gennaker/controllers/cloud/azure"
	azuresim "github.com/gennaker/gennaker/test/cloudsim/azure"
	"github.com/gennaker/gennaker/test/testenv"
)

// The simulated Azure account of the Azure tests.
const (
	azureSubscription = "5e1e0000-0000-4000-8000-000000000001"
	azureTenant       = "7e7a0000-0000-4000-8000-000000000002"
	azureClient       = "c1e70000-0000-4000-8000-000000000003"
	// azureSecret is distinctive, so a test can search status, Events and logs for it.
	azureSecret   = "gnkr-AZURE-SECRET-do-not-leak-51c0"
	azureGroup    = "shop"
	azureRegion   = "westeurope"
	azurePool     = "/subscriptions/" + azureSubscription + "/resourceGroups/net/providers/Microsoft.Network/loadBalancers/shop-web/backendAddressPools/web"
	azureSubnet   = "/subscriptions/" + azureSubscription + "/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/shop/subnets/web"
	azureImageFmt = "/subscriptions/" + azureSubscription + "/resourceGroups/images/providers/Microsoft.Compute/images/shop-%d"
)

// azureEnv is a namespace, an Azure Resource Manager simulator (over TLS: MSAL wants an https
// authority), a Secret with the client secret and a CloudAccount allowing the namespace.
type azureEnv struct {
	ns      string
	account string
	sim     *azuresim.Sim
	srv     *httptest.Server
	logs    *syncBuffer
}

// azureSimOptions are the delays of the Azure tests: a few hundred milliseconds, like the AWS tests'.
func azureSimOptions() azuresim.Options {
	return azuresim.Options{
		SubscriptionID: azureSubscription, TenantID: azureTenant, ResourceGroups: []string{azureGroup},
		Clients:        map[string]string{azureClient: azureSecret},
		ProvisionDelay: 300 * time.Millisecond,
		HealthyDelay:   300 * time.Millisecond,
		DeleteDelay:    200 * time.Millisecond,
		OperationDelay: 200 * time.Millisecond,
	}
}

// setupAzure prepares an azureEnv in a namespace of its own; start says whether to start the manager.
func setupAzure(t *testing.T, start bool, opts azuresim.Options) *azureEnv {
	t.Helper()
	z := setupAzureIn(t, env.Namespace(t), &syncBuffer{}, opts)
	if start {
		env.StartManagerWith(t, z.manager())
	}
	return z
}

// setupAzureIn prepares an azureEnv in namespace ns, whose manager logs to logs.
func setupAzureIn(t *testing.T, ns string, logs *syncBuffer, opts azuresim.Options) *azureEnv {
	t.Helper()
	sim := azuresim.New(opts)
	sim.AddBackendPool(azurePool)
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	z := &azureEnv{ns: ns, account: ns + "-azure", sim: sim, srv: srv, logs: logs}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "azure-credentials"},
		Data:       map[string][]byte{credentialKey: []byte(azureSecret)},
	}
	if err := env.Client.Create(context.Background(), s); err != nil {
		t.Fatalf("creating secret: %v", err)
	}
	acc := &v1alpha1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Name: z.account},
		Spec: v1alpha1.CloudAccountSpec{
			Provider: v1alpha1.ProviderAzure,
			Credentials: v1alpha1.Credentials{
				Source:    v1alpha1.CredentialSourceSecret,
				SecretRef: &v1alpha1.SecretKeyRef{Namespace: ns, Name: "azure-credentials", Key: credentialKey},
			},
			Azure: &v1alpha1.AzureAccount{
				SubscriptionID: azureSubscription, TenantID: azureTenant, ClientID: azureClient, ResourceGroup: azureGroup,
				Endpoint: v1alpha1.Endpoint(srv.URL),
			},
			AllowedNamespaces: []string{ns},
		},
	}
	if err := env.Client.Create(context.Background(), acc); err != nil {
		t.Fatalf("creating account %s: %v", z.account, err)
	}
	t.Cleanup(func() { deleteAccount(acc) })
	return z
}

// provider is the Azure provider of the tests' managers: it trusts the simulator's certificate and
// retries quickly.
func (z *azureEnv) provider() *azurecloud.Provider {
	return &azurecloud.Provider{HTTPClient: z.srv.Client(), AuthorityHost: z.srv.URL, RetryDelay: 20 * time.Millisecond, MaxRetryDelay: 2 * time.Second}
}

// manager runs the manager with the Azure provider only, polling often like the AWS tests' manager.
func (z *azureEnv) manager() testenv.Manager {
	return testenv.Manager{
		Controllers: controllers.Options{
			Providers:        map[v1alpha1.Provider]cloud.Provider{v1alpha1.ProviderAzure: z.provider()},
			ServerGroupPoll:  100 * time.Millisecond,
			CloudMaxBackoff:  500 * time.Millisecond,
			CloudSlowBackoff: 200 * time.Millisecond,
		},
		Log: z.logs,
	}
}

// deployTarget is a deploy stage's cluster for the Azure account, with strategy and its options.
func (z *azureEnv) deployTarget(strategy, options string) string {
	return `
      - account: ` + z.account + `
        region: ` + azureRegion + `
        stack: main
        capacity: {min: 3, max: 5, desired: 3}
        strategy: ` + strategy + `
        ` + options + `
        azure:
          imageID: "${ parameters.image }"
          vmSize: Standard_D2s_v5
          backendAddressPoolIDs: [` + azurePool + `]
          subnetID: ` + azureSubnet
}

// serverGroup makes a ServerGroup of cluster shop-main in the account.
func (z *azureEnv) serverGroup(t *testing.T, name string, desired int32, traffic v1alpha1.Traffic) *v1alpha1.ServerGroup {
	t.Helper()
	sg := &v1alpha1.ServerGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: z.ns, Name: name},
		Spec: v1alpha1.ServerGroupSpec{
			Application: "shop", Stack: "main", Account: z.account, Region: azureRegion,
			Capacity: v1alpha1.Capacity{Min: 0, Max: 10, Desired: desired},
			Traffic:  traffic,
			CloudServerGroup: v1alpha1.CloudServerGroup{Azure: &v1alpha1.AzureServerGroup{
				ImageID: "/subscriptions/" + azureSubscription + "/resourceGroups/images/providers/Microsoft.Compute/images/shop-1",
				VMSize:  "Standard_D2s_v5", BackendAddressPoolIDs: []string{azurePool}, SubnetID: azureSubnet,
			}},
		},
	}
	if err := env.Client.Create(context.Background(), sg); err != nil {
		t.Fatalf("creating server group %s: %v", name, err)
	}
	return sg
}

// scaleSets is the SDK client of a team with its own tools: what it does, the operator did not.
func (z *azureEnv) scaleSets(t *testing.T) *armcompute.VirtualMachineScaleSetsClient {
	t.Helper()
	opts := policy.ClientOptions{
		Cloud: azcloud.Configuration{
			ActiveDirectoryAuthorityHost: z.srv.URL + "/",
			Services: map[azcloud.ServiceName]azcloud.ServiceConfiguration{
				azcloud.ResourceManager: {Endpoint: z.srv.URL, Audience: "https://management.core.windows.net/"},
			},
		},
		Transport: z.srv.Client(),
	}
	cred, err := azidentity.NewClientSecretCredential(azureTenant, azureClient, azureSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := armcompute.NewVirtualMachineScaleSetsClient(azureSubscription, azcore.TokenCredential(cred), &arm.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// scaleSetNames lists the simulator's scale sets that are not being deleted.
func (z *azureEnv) scaleSetNames() []string {
	var out []string
	for _, v := range z.sim.ScaleSets() {
		if v.ProvisioningState != "Deleting" {
			out = append(out, v.Name)
		}
	}
	return out
}

// poolHealthy counts the healthy instances in the load balancer's backend pool, whatever their scale set.
func (z *azureEnv) poolHealthy() int {
	_, h := z.sim.PoolMembers(azurePool)
	return h
}

// azureWrites keeps the calls that change something.
func azureWrites(calls map[string]int) map[string]int {
	out := map[string]int{}
	for _, op := range []string{"VirtualMachineScaleSets.CreateOrUpdate", "VirtualMachineScaleSets.Update", "VirtualMachineScaleSets.Delete", "VirtualMachineScaleSets.UpdateInstances"} {
		if n := calls[op]; n > 0 {
			out[op] = n
		}
	}
	return out
}
