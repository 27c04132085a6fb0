package bench

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	gcpcloud "github.com/gennaker/gennaker/controllers/cloud/gcp"
	gcpsim "github.com/gennaker/gennaker/test/cloudsim/gcp"
)

// BenchmarkServerGroupGCP is BenchmarkServerGroup on the GCP Compute simulator (test/cloudsim/gcp) with
// no delays: instances run and are healthy in the backend service at the first look, and every
// operation has ended by the next request. A group is then three operations (the instance template's
// insert, the group's, the backend service's update) and its deletion three more; the floor polls each
// at once, the controller on its next reconcile. BENCH_SG_N as for AWS.
//
//	go test ./test/bench -run '^$' -bench 'ServerGroupGCP' -benchtime 1x
func BenchmarkServerGroupGCP(b *testing.B) {
	key := gcpBenchKey(b)
	benchmarkServerGroup(b, func() (*sgCloud, func()) {
		sim := gcpsim.New(gcpsim.Options{Projects: []string{gcpBenchProject},
			BootDelay: -1, HealthyDelay: -1, StopDelay: -1, OperationDelay: -1})
		sim.AddServiceAccount(gcpBenchAccount)
		sim.AddBackendService(gcpBenchBackend)
		srv := httptest.NewServer(sim)
		creds, err := json.Marshal(map[string]string{
			"type": "service_account", "project_id": gcpBenchProject, "private_key_id": "0123456789abcdef",
			"private_key": key, "client_email": gcpBenchAccount, "token_uri": srv.URL + "/token",
		})
		if err != nil {
			b.Fatal(err)
		}
		return gcpCloud(sim, srv.URL, creds), srv.Close
	})
}

// The simulated GCP project of the benchmark.
const (
	gcpBenchProject = "gennaker-bench"
	gcpBenchAccount = "bench@gennaker-bench.iam.gserviceaccount.com"
	gcpBenchBackend = "bench-web"
	gcpBenchRegion  = "europe-west1"
)

// gcpBenchKey is a service-account private key; the auth library signs its token requests with it.
func gcpBenchKey(b *testing.B) string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		b.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// gcpCloud is the GCP simulator at endpoint, with a service-account key of it.
func gcpCloud(sim *gcpsim.Sim, endpoint string, creds []byte) *sgCloud {
	return &sgCloud{
		name: "GCP", about: "one backend service, on the GCP Compute simulator", kind: v1alpha1.ProviderGCP,
		provider: func() cloud.Provider { return &gcpcloud.Provider{MaxBackoff: 20 * time.Millisecond} },
		account: func(name, secretNamespace string, allowed ...string) *v1alpha1.CloudAccount {
			return &v1alpha1.CloudAccount{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: v1alpha1.CloudAccountSpec{
					Provider: v1alpha1.ProviderGCP,
					Credentials: v1alpha1.Credentials{
						Source:    v1alpha1.CredentialSourceSecret,
						SecretRef: &v1alpha1.SecretKeyRef{Namespace: secretNamespace, Name: "gcp-credentials", Key: "key.json"},
					},
					GCP:               &v1alpha1.GCPAccount{Project: gcpBenchProject, Endpoint: v1alpha1.Endpoint(endpoint)},
					AllowedNamespaces: allowed,
				},
			}
		},
		secret: func(ns string) *corev1.Secret {
			return &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gcp-credentials"},
				Data:       map[string][]byte{"key.json": creds},
			}
		},
		creds: creds, region: gcpBenchRegion,
		spec: func(c *v1alpha1.CloudServerGroup) {
			c.GCP = &v1alpha1.GCPServerGroup{
				Image: "projects/debian-cloud/global/images/family/debian-12", MachineType: "e2-small",
				BackendServices: []string{gcpBenchBackend},
			}
		},
		calls: sim.Calls, resetCalls: sim.ResetCalls,
		left: func() (int, int) { return len(sim.Groups()), len(sim.Templates()) },
	}
}
