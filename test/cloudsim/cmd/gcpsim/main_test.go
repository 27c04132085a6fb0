package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/auth/credentials"
)

// The simulator serves on loopback, and the key it writes gets a token from it that its Compute API
// takes.
func TestServesOnLoopbackWithAKey(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	key := filepath.Join(t.TempDir(), "key.json")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-backend-service", "shop-web", "-key-out", key}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the URL line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "gcpsim listening on ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("unexpected first line %q", line)
	}

	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(key)
	creds, err := credentials.NewCredentialsFromJSON(credentials.ServiceAccount, b, &credentials.DetectOptions{Scopes: []string{"https://www.googleapis.com/auth/compute"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := creds.Token(ctx)
	if err != nil {
		t.Fatalf("token from the key: %v", err)
	}
	req, _ := http.NewRequest("GET", base+"/compute/v1/projects/gennaker-sim/global/backendServices/shop-web", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("backendServices.get with the key's token: %d", resp.StatusCode)
	}
	resp, err = http.Get(base + "/_sim/calls")
	if err != nil {
		t.Fatal(err)
	}
	calls, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(calls), `"oauth2.token": 1`) || !strings.Contains(string(calls), `"backendServices.get": 1`) {
		t.Fatalf("admin calls: %s", calls)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "0.0.0.0:0"},
		{"-addr", ":0"},
		{"-addr", "192.0.2.1:0"},
		{"-addr", "127.0.0.1:0", "extra"},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded, want refusal", args)
		}
	}
}
