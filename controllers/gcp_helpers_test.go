package controllers_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
	"github.com/gennaker/gennaker/controllers/cloud"
	gcpcloud "github.com/gennaker/gennaker/controllers/cloud/gcp"
	gcpsim "github.com/gennaker/gennaker/test/cloudsim/gcp"
	"github.com/gennaker/gennaker/test/testenv"
)

// The simulated GCP project of the GCP tests.
const (
	gcpProject        = "gennaker-sim"
	gcpServiceAccount = "deployer@gennaker-sim.iam.gserviceaccount.com"
	gcpRegion         = "europe-west1"
	gcpBackend        = "shop-web"
	// gcpTeamToken is the bearer token of a team's own SDK calls.
	gcpTeamToken = "team-token-gnkr"
)

var (
	gcpKeyOnce sync.Once
	gcpKeyPEM  string
)

// gcpPrivateKey is one RSA key for the package: the auth library signs its token requests with it.
func gcpPrivateKey(t *testing.T) string {
	gcpKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := x509.MarshalPKCS8PrivateKey(k)
		gcpKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b}))
	})
	return gcpKeyPEM
}

// gcpEnv is a namespace, a Compute Engine simulator, a Secret with a service-account key whose token_uri
// is the simulator's, and a CloudAccount allowing the namespace.
type gcpEnv struct {
	ns      string
	account string
	sim     *gcpsim.Sim
	srv     *httptest.Server
	logs    *syncBuffer
}

// gcpSimOptions are the delays of the GCP tests: a few hundred milliseconds, like the AWS tests'.
func gcpSimOptions() gcpsim.Options {
	return gcpsim.Options{
		Projects:       []string{gcpProject},
		Tokens:         []string{gcpTeamToken},
		BootDelay:      300 * time.Millisecond,
		HealthyDelay:   300 * time.Millisecond,
		StopDelay:      100 * time.Millisecond,
		OperationDelay: 200 * time.Millisecond,
	}
}

// setupGCP prepares a gcpEnv in a namespace of its own; start says whether to start the manager.
func setupGCP(t *testing.T, start bool, opts gcpsim.Options) *gcpEnv {
	t.Helper()
	p := setupGCPIn(t, env.Namespace(t), &syncBuffer{}, opts)
	if start {
		env.StartManagerWith(t, p.manager())
	}
	return p
}

// setupGCPIn prepares a gcpEnv in namespace ns, whose manager logs to logs.
func setupGCPIn(t *testing.T, ns string, logs *syncBuffer, opts gcpsim.Options) *gcpEnv {
	t.Helper()
	sim := gcpsim.New(opts)
	sim.AddServiceAccount(gcpServiceAccount)
	sim.AddBackendService(gcpBackend)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	p := &gcpEnv{ns: ns, account: ns + "-gcp", sim: sim, srv: srv, logs: logs}
	key, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": gcpProject, "private_key_id": "0123456789abcdef",
		"private_key": gcpPrivateKey(t), "client_email": gcpServiceAccount, "client_id": "1234567890",
		"token_uri": srv.URL + "/token",
	})
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gcp-credentials"},
		Data:       map[string][]byte{credentialKey: key},
	}
	if err := env.Client.Create(context.Background(), s); err != nil {
		t.Fatalf("creating secret: %v", err)
	}
	acc := &v1alpha1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Name: p.account},
		Spec: v1alpha1.CloudAccountSpec{
			Provider: v1alpha1.ProviderGCP,
			Credentials: v1alpha1.Credentials{
				Source:    v1alpha1.CredentialSourceSecret,
				SecretRef: &v1alpha1.SecretKeyRef{Namespace: ns, Name: "gcp-credentials", Key: credentialKey},
			},
			GCP:               &v1alpha1.GCPAccount{Project: gcpProject, Endpoint: v1alpha1.Endpoint(srv.URL)},
			AllowedNamespaces: []string{ns},
		},
	}
	if err := env.Client.Create(context.Background(), acc); err != nil {
		t.Fatalf("creating account %s: %v", p.account, err)
	}
	t.Cleanup(func() { deleteAccount(acc) })
	return p
}

// provider is the GCP provider of the tests' managers: it retries quickly.
func (p *gcpEnv) provider() *gcpcloud.Provider {
	return &gcpcloud.Provider{HTTPClient: p.srv.Client(), MaxBackoff: 20 * time.Millisecond}
}

// manager runs the manager with the GCP provider only, polling often like the AWS tests' manager.
func (p *gcpEnv) manager() testenv.Manager {
	return testenv.Manager{
		Controllers: controllers.Options{
			Providers:        map[v1alpha1.Provider]cloud.Provider{v1alpha1.ProviderGCP: p.provider()},
			ServerGroupPoll:  100 * time.Millisecond,
			CloudMaxBackoff:  500 * time.Millisecond,
			CloudSlowBackoff: 200 * time.Millisecond,
		},
		Log: p.logs,
	}
}

// deployTarget is a deploy stage's cluster for the GCP account, with strategy and its options.
func (p *gcpEnv) deployTarget(strategy, options string) string {
	return `
      - account: ` + p.account + `
        region: ` + gcpRegion + `
        stack: main
        capacity: {min: 3, max: 5, desired: 3}
        strategy: ` + strategy + `
        ` + options + `
        gcp:
          image: "${ parameters.image }"
          machineType: e2-small
          backendServices: [` + gcpBackend + `]`
}

// gcpPipeline deploys the shop-main cluster to GCP with a strategy; the image is the run's parameter.
func gcpPipeline(p *gcpEnv, name, strategy, options, timeout string) string {
	return `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: ` + name + `}
spec:
  application: shop
  limitConcurrent: true
  parameters: [{name: image, required: true}]
  stages:
  - name: deploy
    timeout: ` + timeout + `
    deploy:
      clusters:` + p.deployTarget(strategy, options) + "\n"
}

// migNames lists the simulator's managed instance groups.
func (p *gcpEnv) migNames() []string {
	var out []string
	for _, v := range p.sim.Groups() {
		out = append(out, v.Name)
	}
	sort.Strings(out)
	return out
}

// backends lists the groups (by name) that are backends of the backend service.
func (p *gcpEnv) backends() []string {
	bs, _ := p.sim.BackendService(gcpBackend)
	var out []string
	for _, g := range bs.Groups {
		out = append(out, g[strings.LastIndex(g, "/")+1:])
	}
	sort.Strings(out)
	return out
}

// teamClients are a team's own SDK clients of the simulator: what they do, the operator did not.
func (p *gcpEnv) teamOptions() []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(p.srv.URL), option.WithHTTPClient(&http.Client{Transport: bearer{}})}
}

type bearer struct{}

func (bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+gcpTeamToken)
	return http.DefaultTransport.RoundTrip(r)
}

// handMadeMIG makes an instance template and a regional group of 2 from it, as a team would, and makes
// it a backend of the backend service.
func (p *gcpEnv) handMadeMIG(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	tc, err := compute.NewInstanceTemplatesRESTClient(ctx, p.teamOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	o, err := tc.Insert(ctx, &computepb.InsertInstanceTemplateRequest{Project: gcpProject, InstanceTemplateResource: &computepb.InstanceTemplate{
		Name: proto.String(name + "-tpl"), Properties: &computepb.InstanceProperties{MachineType: proto.String("e2-small")}}})
	if err != nil || o.Poll(ctx) != nil {
		t.Fatalf("team template: %v", err)
	}
	mc, err := compute.NewRegionInstanceGroupManagersRESTClient(ctx, p.teamOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	o, err = mc.Insert(ctx, &computepb.InsertRegionInstanceGroupManagerRequest{Project: gcpProject, Region: gcpRegion,
		InstanceGroupManagerResource: &computepb.InstanceGroupManager{Name: proto.String(name), TargetSize: proto.Int32(2),
			InstanceTemplate: proto.String("global/instanceTemplates/" + name + "-tpl"), Description: proto.String("made by the shop team")}})
	if err != nil || o.Poll(ctx) != nil {
		t.Fatalf("team group: %v", err)
	}
	g, err := mc.Get(ctx, &computepb.GetRegionInstanceGroupManagerRequest{Project: gcpProject, Region: gcpRegion, InstanceGroupManager: name})
	if err != nil {
		t.Fatal(err)
	}
	bc, err := compute.NewBackendServicesRESTClient(ctx, p.teamOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := bc.Get(ctx, &computepb.GetBackendServiceRequest{Project: gcpProject, BackendService: gcpBackend})
	if err != nil {
		t.Fatal(err)
	}
	bs.Backends = append(bs.Backends, &computepb.Backend{Group: g.InstanceGroup, BalancingMode: proto.String("UTILIZATION")})
	if _, err := bc.Update(ctx, &computepb.UpdateBackendServiceRequest{Project: gcpProject, BackendService: gcpBackend, BackendServiceResource: bs}); err != nil {
		t.Fatal(err)
	}
}

// gcpWrites keeps the calls that change something.
func gcpWrites(calls map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range calls {
		if _, verb, _ := strings.Cut(k, "."); verb == "insert" || verb == "delete" || verb == "resize" || verb == "update" || verb == "patch" {
			out[k] = v
		}
	}
	return out
}

// gcpServerGroup makes a ServerGroup of cluster shop-main in the GCP account.
func (p *gcpEnv) serverGroup(t *testing.T, name string, desired int32, traffic v1alpha1.Traffic) *v1alpha1.ServerGroup {
	t.Helper()
	sg := &v1alpha1.ServerGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.ns, Name: name},
		Spec: v1alpha1.ServerGroupSpec{
			Application: "shop", Stack: "main", Account: p.account, Region: gcpRegion,
			Capacity: v1alpha1.Capacity{Min: 0, Max: 10, Desired: desired},
			Traffic:  traffic,
			CloudServerGroup: v1alpha1.CloudServerGroup{GCP: &v1alpha1.GCPServerGroup{
				Image: "projects/debian-cloud/global/images/family/debian-12", MachineType: "e2-small",
				BackendServices: []string{gcpBackend},
			}},
		},
	}
	if err := env.Client.Create(context.Background(), sg); err != nil {
		t.Fatalf("creating server group %s: %v", name, err)
	}
	return sg
}
