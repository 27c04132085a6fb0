package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestServesOnLoopback(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{
			"-addr", "127.0.0.1:0",
			"-key", "AKIDDEMO:demo-secret",
			"-target-group", "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1",
		}, pw, io.Discard)
		pw.Close()
	}()

	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the URL line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "awssim listening on ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("unexpected first line %q", line)
	}

	// The AWS handler answers (here: a refusal, as the request is unsigned)...
	resp, err := http.PostForm(base+"/", url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "MissingAuthenticationToken") {
		t.Fatalf("unsigned request: %d %s", resp.StatusCode, body)
	}
	// ...and so does the admin API, which saw that call.
	resp, err = http.Get(base + "/_sim/calls")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"sts:GetCallerIdentity": 1`) {
		t.Fatalf("admin calls: %d %s", resp.StatusCode, body)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "0.0.0.0:0", "-key", "A:B"},
		{"-addr", ":0", "-key", "A:B"},
		{"-addr", "192.0.2.1:0", "-key", "A:B"},
		{"-addr", "127.0.0.1:0"},
		{"-addr", "127.0.0.1:0", "-key", "no-secret"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil {
			t.Errorf("run(%q) succeeded, want refusal", args)
		} else if strings.Contains(err.Error(), "no-secret") {
			t.Errorf("error echoes the -key value: %v", err)
		}
	}
}
