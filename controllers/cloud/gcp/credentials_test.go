package gcp_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

// bearer is an HTTP client that sends a token the sim issued, for a team's own SDK calls.
func (e *env) bearer() *http.Client {
	return &http.Client{Transport: tokenTransport{e: e}}
}

type tokenTransport struct{ e *env }

func (tt tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer team-token")
	return http.DefaultTransport.RoundTrip(r)
}

// Verify gets a token with the service-account key from its token_uri and reads the project.
func TestVerifyWithAServiceAccountKey(t *testing.T) {
	e := newEnv(t)
	id, err := e.client().Verify(e.ctx)
	if err != nil || id != clientEmail {
		t.Fatalf("Verify = %q, %v", id, err)
	}
	if calls := e.sim.Calls(); calls["oauth2.token"] != 1 || calls["projects.get"] != 1 {
		t.Fatalf("calls %v", calls)
	}
}

// A key the token endpoint does not know is AccessDenied; a Secret that holds no key is refused by
// Connect naming what is wrong and nothing of its content.
func TestRefusedCredentials(t *testing.T) {
	e := newEnv(t)
	c, err := e.p.Connect(e.ctx, e.account(""), cloud.NewCredentials(serviceAccountKey(t, e.url, "stranger@elsewhere.iam.gserviceaccount.com")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(e.ctx); cloud.ReasonOf(err) != cloud.AccessDenied {
		t.Fatalf("unknown key: %v (reason %s), want AccessDenied", err, cloud.ReasonOf(err))
	}
	for name, secret := range map[string]string{
		"not JSON":      "aws_access_key_id = AKID\nsecret-do-not-echo",
		"not a key":     `{"type":"authorized_user","client_secret":"secret-do-not-echo"}`,
		"no client key": `{"type":"service_account","client_email":"a@b.c","private_key_id":"secret-do-not-echo"}`,
	} {
		_, err := e.p.Connect(e.ctx, e.account(""), cloud.NewCredentials([]byte(secret)))
		if cloud.ReasonOf(err) != cloud.InvalidRequest || strings.Contains(err.Error(), "secret-do-not-echo") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// impersonateServiceAccount gets a token of that account from IAM Credentials with the key's token.
func TestImpersonation(t *testing.T) {
	e := newEnv(t)
	const target = "deploy-prod@shop-prod-1234.iam.gserviceaccount.com"
	c, err := e.p.Connect(e.ctx, e.account(target), cloud.NewCredentials(serviceAccountKey(t, e.url, clientEmail)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(e.ctx); cloud.ReasonOf(err) != cloud.AccessDenied {
		t.Fatalf("impersonation not granted: %v (reason %s), want AccessDenied", err, cloud.ReasonOf(err))
	}
	e.sim.AllowImpersonation(target)
	c, _ = e.p.Connect(e.ctx, e.account(target), cloud.NewCredentials(serviceAccountKey(t, e.url, clientEmail)))
	if id, err := c.Verify(e.ctx); err != nil || id != target {
		t.Fatalf("Verify = %q, %v", id, err)
	}
	if n := e.sim.Calls()["iamcredentials.generateAccessToken"]; n != 2 {
		t.Fatalf("%d generateAccessToken calls", n)
	}
}

// A Workload account uses Application Default Credentials: here, as on a laptop, the key file named by
// GOOGLE_APPLICATION_CREDENTIALS (on GKE, the metadata server's workload identity).
func TestWorkloadUsesApplicationDefaultCredentials(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "adc.json")
	if err := os.WriteFile(path, serviceAccountKey(t, e.url, clientEmail), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
	acc := e.account("")
	acc.Spec.Credentials.Source = v1alpha1.CredentialSourceWorkload
	c, err := e.p.Connect(e.ctx, acc, cloud.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := c.Verify(e.ctx); err != nil || id != "Application Default Credentials" {
		t.Fatalf("Verify = %q, %v", id, err)
	}
	if e.sim.Calls()["oauth2.token"] != 1 {
		t.Fatalf("calls %v", e.sim.Calls())
	}
}

// The endpoint and the key's token_uri get a token or a signed assertion: https, or plain http to a
// loopback address only, checked by Connect naming the field.
func TestConnectRefusesPlainHTTPBeyondLoopback(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		endpoint, tokenURI, field string
	}{
		{endpoint: "http://compute.example.com", tokenURI: e.url + "/token", field: "spec.gcp.endpoint"},
		{endpoint: "ftp://127.0.0.1/", tokenURI: e.url + "/token", field: "spec.gcp.endpoint"},
		{endpoint: e.url, tokenURI: "http://oauth2.example.com/token", field: "token_uri"},
		{endpoint: e.url, tokenURI: "http://10.0.0.1/token", field: "token_uri"},
		{endpoint: "https://compute.example.com", tokenURI: "https://oauth2.example.com/token"},
		{endpoint: "http://localhost:8080", tokenURI: "http://[::1]:9000/token"},
	} {
		acc := e.account("")
		acc.Spec.GCP.Endpoint = v1alpha1.Endpoint(tc.endpoint)
		key := serviceAccountKey(t, "unused", clientEmail)
		var m map[string]string
		if err := json.Unmarshal(key, &m); err != nil {
			t.Fatal(err)
		}
		m["token_uri"] = tc.tokenURI
		key, _ = json.Marshal(m)
		_, err := e.p.Connect(e.ctx, acc, cloud.NewCredentials(key))
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("endpoint %s, token_uri %s: %v; want accepted", tc.endpoint, tc.tokenURI, err)
		case tc.field != "" && (cloud.ReasonOf(err) != cloud.InvalidRequest || !strings.Contains(err.Error(), tc.field)):
			t.Errorf("endpoint %s, token_uri %s: %v; want InvalidRequest naming %s", tc.endpoint, tc.tokenURI, err, tc.field)
		}
	}
}
