package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	azuresim "github.com/gennaker/gennaker/test/cloudsim/azure"
)

// The simulator serves TLS with the certificate it writes, and the real SDK gets a token from it and
// reads from it.
func TestServesOnLoopback(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	caFile := filepath.Join(t.TempDir(), "ca", "ca.pem")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-client", "c1:demo-secret", "-ca-file", caFile}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the URL line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "azuresim listening on ")
	if !ok || !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("unexpected first line %q", line)
	}
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatal("the CA file holds no certificate")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second}

	opts := policy.ClientOptions{
		Cloud: azcloud.Configuration{ActiveDirectoryAuthorityHost: base + "/", Services: map[azcloud.ServiceName]azcloud.ServiceConfiguration{
			azcloud.ResourceManager: {Endpoint: base, Audience: "https://management.core.windows.net/"}}},
		Transport: hc,
	}
	cred, err := azidentity.NewClientSecretCredential(azuresim.DefaultTenantID, "c1", "demo-secret",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	sets, err := armcompute.NewVirtualMachineScaleSetsClient(azuresim.DefaultSubscriptionID, cred, &arm.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sets.Get(ctx, azuresim.DefaultResourceGroup, "web", nil)
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Fatalf("get of a missing scale set: %v", err)
	}
	resp, err := hc.Get(base + "/_sim/calls")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"VirtualMachineScaleSets.Get":1`) || !strings.Contains(string(body), `"Token":1`) {
		t.Fatalf("admin calls: %s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "0.0.0.0:0", "-client", "A:B"},
		{"-addr", ":0", "-client", "A:B"},
		{"-addr", "192.0.2.1:0", "-client", "A:B"},
		{"-addr", "127.0.0.1:0"},
		{"-addr", "127.0.0.1:0", "-client", "no-secret"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil {
			t.Errorf("run(%q) succeeded, want refusal", args)
		} else if strings.Contains(err.Error(), "no-secret") {
			t.Errorf("error echoes the -client value: %v", err)
		}
	}
}
