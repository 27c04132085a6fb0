package bench

import (
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	azurecloud "github.com/gennaker/gennaker/controllers/cloud/azure"
	azuresim "github.com/gennaker/gennaker/test/cloudsim/azure"
)

// BenchmarkServerGroupAzure is BenchmarkServerGroup on the Azure Resource Manager simulator
// (test/cloudsim/azure, over TLS) with no delays: instances are provisioned and healthy at the first
// look, and every operation has ended by the next request. A group taking traffic is then one operation
// (the scale set's PUT, with the backend pool in its model) and its deletion one more; the floor polls
// each at once, the controller on its next reconcile. BENCH_SG_N as for AWS.
//
//	go test ./test/bench -run '^$' -bench 'ServerGroupAzure' -benchtime 1x
func BenchmarkServerGroupAzure(b *testing.B) {
	benchmarkServerGroup(b, func() (*sgCloud, func()) {
		sim := azuresim.New(azuresim.Options{
			SubscriptionID: azureBenchSubscription, TenantID: azureBenchTenant, ResourceGroups: []string{azureBenchGroup},
			Clients:        map[string]string{azureBenchClient: azureBenchSecret},
			ProvisionDelay: -1, HealthyDelay: -1, DeleteDelay: -1, OperationDelay: -1,
		})
		sim.AddBackendPool(azureBenchPool)
		srv := httptest.NewTLSServer(sim)
		return azureCloud(sim, srv), srv.Close
	})
}

// The simulated Azure subscription of the benchmark.
const (
	azureBenchSubscription = "be4c0000-0000-4000-8000-000000000001"
	azureBenchTenant       = "be4c0000-0000-4000-8000-000000000002"
	azureBenchClient       = "be4c0000-0000-4000-8000-000000000003"
	azureBenchSecret       = "gnkr-bench-azure-secret"
	azureBenchGroup        = "bench"
	azureBenchRegion       = "westeurope"
	azureBenchPool         = "/subscriptions/" + azureBenchSubscription + "/resourceGroups/net/providers/Microsoft.Network/loadBalancers/bench/backendAddressPools/web"
)

// azureCloud is the Azure simulator behind srv, whose certificate the provider trusts.
func azureCloud(sim *azuresim.Sim, srv *httptest.Server) *sgCloud {
	return &sgCloud{
		name: "Azure", about: "one backend pool, on the Azure Resource Manager simulator", kind: v1alpha1.ProviderAzure,
		provider: func() cloud.Provider {
			return &azurecloud.Provider{HTTPClient: srv.Client(), AuthorityHost: srv.URL, RetryDelay: 20 * time.Millisecond}
		},
		account: func(name, secretNamespace string, allowed ...string) *v1alpha1.CloudAccount {
			return &v1alpha1.CloudAccount{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: v1alpha1.CloudAccountSpec{
					Provider: v1alpha1.ProviderAzure,
					Credentials: v1alpha1.Credentials{
						Source:    v1alpha1.CredentialSourceSecret,
						SecretRef: &v1alpha1.SecretKeyRef{Namespace: secretNamespace, Name: "azure-credentials", Key: "clientSecret"},
					},
					Azure: &v1alpha1.AzureAccount{
						SubscriptionID: azureBenchSubscription, TenantID: azureBenchTenant, ClientID: azureBenchClient,
						ResourceGroup: azureBenchGroup, Endpoint: v1alpha1.Endpoint(srv.URL),
					},
					AllowedNamespaces: allowed,
				},
			}
		},
		secret: func(ns string) *corev1.Secret {
			return &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "azure-credentials"},
				Data:       map[string][]byte{"clientSecret": []byte(azureBenchSecret)},
			}
		},
		creds: []byte(azureBenchSecret), region: azureBenchRegion,
		spec: func(c *v1alpha1.CloudServerGroup) {
			c.Azure = &v1alpha1.AzureServerGroup{
				ImageID:               "/subscriptions/" + azureBenchSubscription + "/resourceGroups/images/providers/Microsoft.Compute/images/bench",
				VMSize:                "Standard_D2s_v5",
				BackendAddressPoolIDs: []string{azureBenchPool},
				SubnetID:              "/subscriptions/" + azureBenchSubscription + "/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/bench/subnets/web",
			}
		},
		calls: sim.Calls, resetCalls: sim.ResetCalls,
		left: func() (int, int) { return len(sim.ScaleSets()), 0 },
	}
}
