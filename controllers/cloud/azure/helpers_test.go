package azure_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	azureprovider "github.com/gennaker/gennaker/controllers/cloud/azure"
	azuresim "github.com/gennaker/gennaker/test/cloudsim/azure"
)

const (
	subscription = "11111111-2222-3333-4444-555555555555"
	tenant       = "99999999-8888-7777-6666-555555555555"
	clientID     = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	// secretValue is distinctive, so a test can look for it in errors.
	secretValue = "gnkr-AZURE-SECRET-do-not-leak-3c1d"
	// wrongSecret is a secret Entra refuses, as distinctive: an error about it must not carry it either.
	wrongSecret   = "gnkr-AZURE-WRONG-SECRET-must-not-leak-7f2e"
	resourceGroup = "shop-rg"
	region        = "westeurope"
	poolA         = "/subscriptions/" + subscription + "/resourceGroups/net/providers/Microsoft.Network/loadBalancers/web/backendAddressPools/a"
	poolB         = "/subscriptions/" + subscription + "/resourceGroups/net/providers/Microsoft.Network/loadBalancers/web/backendAddressPools/b"
	subnet        = "/subscriptions/" + subscription + "/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/web"
	image         = "/subscriptions/" + subscription + "/resourceGroups/images/providers/Microsoft.Compute/images/web-1"

	provisionDelay = 10 * time.Second
	healthyDelay   = 20 * time.Second
	deleteDelay    = 30 * time.Second
	operationDelay = 5 * time.Second
)

// env is a simulator behind a TLS httptest server (MSAL wants https for the authority) and a Client
// connected to it through the real SDK.
type env struct {
	t        *testing.T
	ctx      context.Context
	clock    *azuresim.Clock
	sim      *azuresim.Sim
	srv      *httptest.Server
	provider *azureprovider.Provider
	client   cloud.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	// The clock starts at the real time: azidentity judges a token's expiry by the real clock.
	clock := azuresim.NewClock(time.Now().UTC().Truncate(time.Second))
	sim := azuresim.New(azuresim.Options{
		SubscriptionID: subscription, TenantID: tenant, ResourceGroups: []string{resourceGroup},
		Clients:        map[string]string{clientID: secretValue},
		ProvisionDelay: provisionDelay, HealthyDelay: healthyDelay, DeleteDelay: deleteDelay, OperationDelay: operationDelay,
		Now: clock.Now,
	})
	sim.AddBackendPool(poolA)
	sim.AddBackendPool(poolB)
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	e := &env{
		t: t, ctx: context.Background(), clock: clock, sim: sim, srv: srv,
		provider: &azureprovider.Provider{HTTPClient: srv.Client(), AuthorityHost: srv.URL, RetryDelay: time.Millisecond, MaxRetryDelay: 2 * time.Second},
	}
	e.client = e.connect(account(srv.URL), cloud.NewCredentials([]byte(secretValue)))
	return e
}

func account(endpoint string) *v1alpha1.CloudAccount {
	return &v1alpha1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "azure-test"},
		Spec: v1alpha1.CloudAccountSpec{
			Provider: v1alpha1.ProviderAzure,
			Azure: &v1alpha1.AzureAccount{
				SubscriptionID: subscription, TenantID: tenant, ClientID: clientID, ResourceGroup: resourceGroup,
				Cloud: v1alpha1.AzurePublic, Endpoint: v1alpha1.Endpoint(endpoint),
			},
		},
	}
}

func (e *env) connect(acct *v1alpha1.CloudAccount, creds cloud.Credentials) cloud.Client {
	e.t.Helper()
	c, err := e.provider.Connect(e.ctx, acct, creds)
	if err != nil {
		e.t.Fatalf("Connect: %v", err)
	}
	return c
}

// serverGroup is a group of the application web in pool A.
func serverGroup(name string, traffic v1alpha1.Traffic, desired int32) *v1alpha1.ServerGroup {
	return &v1alpha1.ServerGroup{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "team-a", Name: name, UID: types.UID("uid-" + name),
			Labels: map[string]string{v1alpha1.LabelCluster: "web-main"},
		},
		Spec: v1alpha1.ServerGroupSpec{
			Application: "web", Stack: "main", Account: "azure-test", Region: region,
			Capacity: v1alpha1.Capacity{Min: 1, Max: 10, Desired: desired},
			Traffic:  traffic,
			CloudServerGroup: v1alpha1.CloudServerGroup{Azure: &v1alpha1.AzureServerGroup{
				ImageID: image, VMSize: "Standard_D2s_v5", BackendAddressPoolIDs: []string{poolA}, SubnetID: subnet,
			}},
		},
	}
}

func (e *env) observe(sg *v1alpha1.ServerGroup) cloud.Observation {
	e.t.Helper()
	o, err := e.client.Observe(e.ctx, sg)
	if err != nil {
		e.t.Fatalf("Observe %s: %v", sg.Name, err)
	}
	return o
}

// finish checks op until it is done, moving the clock on by a second between checks, and returns how it
// ended.
func (e *env) finish(sg *v1alpha1.ServerGroup, op *v1alpha1.CloudOperation) error {
	e.t.Helper()
	if op == nil {
		return nil
	}
	for range 120 {
		done, err := e.client.Operation(e.ctx, sg, *op)
		if done {
			return err
		}
		if err != nil {
			e.t.Fatalf("checking %s: %v", op.Action, err)
		}
		e.clock.Advance(time.Second)
	}
	e.t.Fatalf("%s never ended", op.Action)
	return nil
}

// do runs a call that may start an operation and sees it through.
func (e *env) do(what string, sg *v1alpha1.ServerGroup, op *v1alpha1.CloudOperation, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s %s: %v", what, sg.Name, err)
	}
	if err := e.finish(sg, op); err != nil {
		e.t.Fatalf("%s %s: the operation failed: %v", what, sg.Name, err)
	}
}

func (e *env) scaleSet(name string) azuresim.ScaleSetView {
	e.t.Helper()
	v, ok := e.sim.ScaleSet(name)
	if !ok {
		e.t.Fatalf("the sim has no scale set %s", name)
	}
	return v
}

// writes returns the calls that change something.
func writes(calls map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range calls {
		if strings.HasSuffix(k, ".CreateOrUpdate") || strings.HasSuffix(k, ".Update") || strings.HasSuffix(k, ".Delete") || strings.HasSuffix(k, ".UpdateInstances") {
			out[k] = v
		}
	}
	return out
}

func wantReason(t *testing.T, what string, err error, want cloud.Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %s", what, want)
	}
	if got := cloud.ReasonOf(err); got != want {
		t.Fatalf("%s: reason %s, want %s (%v)", what, got, want, err)
	}
	if strings.Contains(err.Error(), secretValue) || strings.Contains(err.Error(), wrongSecret) {
		t.Fatalf("%s: the error carries the client secret: %v", what, err)
	}
}

func azuresimFault(op string, status int, code string, failOperation bool) azuresim.Fault {
	return azuresim.Fault{Op: op, Status: status, Code: code, FailOperation: failOperation}
}

// azuresimNew is a second simulator that also accepts the federated tokens given.
func azuresimNew(e *env, federated map[string]string) *httptest.Server {
	sim := azuresim.New(azuresim.Options{
		SubscriptionID: subscription, TenantID: tenant, ResourceGroups: []string{resourceGroup},
		Clients: map[string]string{clientID: secretValue}, Federated: federated,
	})
	srv := httptest.NewTLSServer(sim)
	e.t.Cleanup(srv.Close)
	return srv
}

// connectTo connects to another simulator's server with acct's settings.
func (e *env) connectTo(srv *httptest.Server, acct *v1alpha1.CloudAccount) cloud.Client {
	e.t.Helper()
	a := acct.DeepCopy()
	a.Spec.Azure.Endpoint = v1alpha1.Endpoint(srv.URL)
	p := &azureprovider.Provider{HTTPClient: srv.Client(), AuthorityHost: srv.URL, RetryDelay: time.Millisecond}
	c, err := p.Connect(e.ctx, a, cloud.Credentials{})
	if err != nil {
		e.t.Fatalf("Connect: %v", err)
	}
	return c
}
