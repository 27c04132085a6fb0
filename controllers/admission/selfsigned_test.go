package admission

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"
)

// TestConfigurationsMatchManifests holds the self-signed mode's configurations to what controller-gen
// makes of the markers (config/webhook/manifests.yaml): the same webhooks, paths, rules and failure
// policies, only reached by url instead of through the Service.
func TestConfigurationsMatchManifests(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "webhook", "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var wantM admissionregistrationv1.MutatingWebhookConfiguration
	var wantV admissionregistrationv1.ValidatingWebhookConfiguration
	for _, doc := range strings.Split(string(data), "\n---\n") {
		switch {
		case strings.Contains(doc, "kind: MutatingWebhookConfiguration"):
			err = yaml.Unmarshal([]byte(doc), &wantM)
		case strings.Contains(doc, "kind: ValidatingWebhookConfiguration"):
			err = yaml.Unmarshal([]byte(doc), &wantV)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	m, v := Configurations("https://127.0.0.1:9443", []byte("CA"))
	for i := range wantM.Webhooks {
		wantM.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{}
	}
	for i := range wantV.Webhooks {
		wantV.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{}
	}
	paths := map[string]string{}
	for i := range m.Webhooks {
		paths[m.Webhooks[i].Name] = *m.Webhooks[i].ClientConfig.URL
		m.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{}
	}
	for i := range v.Webhooks {
		paths[v.Webhooks[i].Name] = *v.Webhooks[i].ClientConfig.URL
		v.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{}
	}
	if d := cmp.Diff(wantM.Webhooks, m.Webhooks); d != "" {
		t.Errorf("mutating webhooks differ from config/webhook (-manifests +Configurations):\n%s", d)
	}
	if d := cmp.Diff(wantV.Webhooks, v.Webhooks); d != "" {
		t.Errorf("validating webhooks differ from config/webhook (-manifests +Configurations):\n%s", d)
	}
	for _, h := range hooks {
		if got, want := paths[h.name], "https://127.0.0.1:9443"+h.path; got != want {
			t.Errorf("%s: url %s, want %s", h.name, got, want)
		}
	}
	if !strings.Contains(string(data), "path: "+PathMutateExecution) || !strings.Contains(string(data), "path: "+PathValidateServerGroup) {
		t.Errorf("the markers' paths are not the handlers' paths")
	}
}

// TestSelfSigned: the serving certificate is for 127.0.0.1 and localhost and is signed by the CA
// returned as the caBundle.
func TestSelfSigned(t *testing.T) {
	dir := t.TempDir()
	ca, err := SelfSigned(dir)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		t.Fatal("the caBundle holds no certificate")
	}
	for _, name := range []string{"127.0.0.1", "localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestSelfSignedKeyPrivate: the key is written readable by its owner only, even over a tls.key that was
// there, world-readable, before.
func TestSelfSignedKeyPrivate(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := SelfSigned(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("tls.key has mode %o, want 600", mode)
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")); err != nil {
		t.Errorf("the new pair does not load: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("the folder holds %d files, want tls.crt and tls.key only", len(entries))
	}
}
