package gcp_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	gcpcloud "github.com/gennaker/gennaker/controllers/cloud/gcp"
	gcpsim "github.com/gennaker/gennaker/test/cloudsim/gcp"
)

const (
	project       = "shop-prod-1234"
	clientEmail   = "deployer@shop-prod-1234.iam.gserviceaccount.com"
	region        = "europe-west1"
	bootDelay     = 10 * time.Second
	healthyDelay  = 20 * time.Second
	stopDelay     = 5 * time.Second
	backendName   = "shop-web"
	privateKeyTag = "PRIVATE KEY"
)

var (
	keyOnce sync.Once
	keyPEM  string
)

// privateKey is one RSA key for the whole package: generating one takes a while.
func privateKey(t *testing.T) string {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: privateKeyTag, Bytes: b}))
	})
	return keyPEM
}

// serviceAccountKey is a service-account JSON key whose token_uri is the simulator's.
func serviceAccountKey(t *testing.T, url, email string) []byte {
	b, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": project, "private_key_id": "0123456789abcdef",
		"private_key": privateKey(t), "client_email": email, "client_id": "1234567890",
		"token_uri": url + "/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type env struct {
	t     *testing.T
	ctx   context.Context
	sim   *gcpsim.Sim
	clock *gcpsim.Clock
	url   string
	p     *gcpcloud.Provider
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := gcpsim.NewClock(time.Now().UTC().Truncate(time.Second))
	sim := gcpsim.New(gcpsim.Options{Projects: []string{project}, BootDelay: bootDelay, HealthyDelay: healthyDelay,
		StopDelay: stopDelay, OperationDelay: time.Hour, Now: clk.Now, Tokens: []string{"team-token"}})
	sim.AddServiceAccount(clientEmail)
	sim.AddBackendService(backendName)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &env{t: t, ctx: context.Background(), sim: sim, clock: clk, url: srv.URL,
		p: &gcpcloud.Provider{HTTPClient: srv.Client(), MaxBackoff: 5 * time.Millisecond, IAMCredentialsEndpoint: srv.URL}}
}

func (e *env) account(impersonate string) *v1alpha1.CloudAccount {
	return &v1alpha1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "gcp-sim"},
		Spec: v1alpha1.CloudAccountSpec{
			Provider: v1alpha1.ProviderGCP,
			GCP:      &v1alpha1.GCPAccount{Project: project, Endpoint: v1alpha1.Endpoint(e.url), ImpersonateServiceAccount: impersonate},
		},
	}
}

// client connects with the service account's key.
func (e *env) client() cloud.Client {
	e.t.Helper()
	c, err := e.p.Connect(e.ctx, e.account(""), cloud.NewCredentials(serviceAccountKey(e.t, e.url, clientEmail)))
	if err != nil {
		e.t.Fatalf("Connect: %v", err)
	}
	return c
}

// serverGroup is a ServerGroup of cluster shop-main, regional, made from an image.
func serverGroup(name string, desired int32) *v1alpha1.ServerGroup {
	return &v1alpha1.ServerGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, UID: types.UID("uid-" + name),
			Labels: map[string]string{v1alpha1.LabelCluster: "shop-main"}},
		Spec: v1alpha1.ServerGroupSpec{
			Application: "shop", Stack: "main", Account: "gcp-sim", Region: region,
			Capacity: v1alpha1.Capacity{Min: 0, Max: 10, Desired: desired},
			Traffic:  v1alpha1.TrafficDisabled,
			CloudServerGroup: v1alpha1.CloudServerGroup{GCP: &v1alpha1.GCPServerGroup{
				Image: "projects/debian-cloud/global/images/family/debian-12", MachineType: "e2-small",
				BackendServices: []string{backendName},
			}},
		},
	}
}

// settle polls an operation until it has ended, moving the sim clock on when it waits for instances.
func (e *env) settle(c cloud.Client, sg *v1alpha1.ServerGroup, op *v1alpha1.CloudOperation) error {
	e.t.Helper()
	if op == nil {
		return nil
	}
	for i := range 10 {
		done, err := c.Operation(e.ctx, sg, *op)
		if done {
			return err
		}
		if err != nil {
			e.t.Fatalf("Operation %s: %v", op.ID, err)
		}
		if i > 0 {
			e.clock.Advance(stopDelay)
		}
	}
	e.t.Fatalf("operation %s never ended", op.ID)
	return nil
}

// must settles what a call returned and fails the test on any error.
func (e *env) must(c cloud.Client, sg *v1alpha1.ServerGroup) func(*v1alpha1.CloudOperation, error) {
	return func(op *v1alpha1.CloudOperation, err error) {
		e.t.Helper()
		if err != nil {
			e.t.Fatalf("%v", err)
		}
		if err := e.settle(c, sg, op); err != nil {
			e.t.Fatalf("operation failed: %v", err)
		}
	}
}

// create runs Create until the group exists.
func (e *env) create(c cloud.Client, sg *v1alpha1.ServerGroup) {
	e.t.Helper()
	for range 3 {
		e.must(c, sg)(c.Create(e.ctx, sg))
		if o, err := c.Observe(e.ctx, sg); err == nil && o.Exists {
			return
		}
	}
	e.t.Fatalf("group %s was not created", sg.Name)
}
