// Command azuresim serves the cloudsim Azure Resource Manager test double (package
// github.com/gennaker/gennaker/test/cloudsim/azure) on a loopback address, for demos and shell scripts.
// It is not Azure.
//
// It serves TLS only: azidentity's MSAL takes only an https authority, and the simulator is its own
// authority (token endpoint) as well as Resource Manager. The certificate is made at start for
// 127.0.0.1, ::1 and localhost; -ca-file writes it in PEM, to be trusted by the clients (for the
// manager: SSL_CERT_DIR naming its directory beside the system's, e.g.
// SSL_CERT_DIR=/etc/ssl/certs:$DEV_DIR/azuresim-ca). A CloudAccount points at it with
// spec.azure.endpoint: https://127.0.0.1:18093 and a Secret holding the client's secret. The JSON
// admin API under /_sim/ (see azure.Sim.AdminHandler) inspects it and injects faults:
//
//	azuresim -client 00000000-0000-4000-8000-0000000000c1:demo-secret -backend-pool /subscriptions/.../backendAddressPools/web -ca-file /tmp/azuresim-ca/ca.pem &
//	curl -s --cacert /tmp/azuresim-ca/ca.pem https://127.0.0.1:18093/_sim/scalesets
//	curl -s --cacert /tmp/azuresim-ca/ca.pem -XPOST https://127.0.0.1:18093/_sim/faults -d '{"op":"VirtualMachineScaleSets.Update","status":429,"retryAfter":1000000000}'
//
// It listens only on loopback addresses: its admin API has no authentication at all.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	azuresim "github.com/gennaker/gennaker/test/cloudsim/azure"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "azuresim:", err)
		os.Exit(1)
	}
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// run serves until ctx is done. It writes one line with the base URL to stdout once it is listening,
// so scripts can wait for and parse it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("azuresim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:18093", "loopback `host:port` to listen on (port 0 picks a free one)")
	subscription := fs.String("subscription", azuresim.DefaultSubscriptionID, "the subscription `ID`")
	tenant := fs.String("tenant", azuresim.DefaultTenantID, "the Entra tenant `ID`")
	caFile := fs.String("ca-file", "", "write the serving certificate (PEM) to this `file`, for clients to trust")
	var clients, groups, pools listFlag
	fs.Var(&clients, "client", "accepted client credentials as `CLIENT_ID:SECRET` (repeatable, at least one)")
	fs.Var(&groups, "resource-group", "resource group `name` that exists (repeatable; default "+azuresim.DefaultResourceGroup+")")
	fs.Var(&pools, "backend-pool", "load balancer backend pool resource `ID` to make (repeatable)")
	provision := fs.Duration("provision-delay", azuresim.DefaultProvisionDelay, "how long new instances stay Creating (0 = none)")
	healthy := fs.Duration("healthy-delay", azuresim.DefaultHealthyDelay, "how long provisioned instances' vmHealth stays Initializing (0 = none)")
	del := fs.Duration("delete-delay", azuresim.DefaultDeleteDelay, "how long deleted instances and scale sets stay Deleting (0 = none)")
	operation := fs.Duration("operation-delay", azuresim.DefaultOperationDelay, "how long PUT, PATCH and manualupgrade operations stay InProgress (0 = none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if len(clients) == 0 {
		return errors.New("at least one -client CLIENT_ID:SECRET is required")
	}
	if err := checkLoopback(*addr); err != nil {
		return err
	}
	opts := azuresim.Options{
		SubscriptionID: *subscription, TenantID: *tenant, ResourceGroups: groups,
		Clients: map[string]string{},
		// The package reads a zero delay as "use the default"; on the command line 0 means none.
		ProvisionDelay: flagDelay(*provision), HealthyDelay: flagDelay(*healthy),
		DeleteDelay: flagDelay(*del), OperationDelay: flagDelay(*operation),
	}
	for _, c := range clients {
		id, secret, ok := strings.Cut(c, ":")
		if !ok || id == "" || secret == "" {
			// Do not echo the value: it holds a secret.
			return errors.New("-client must be CLIENT_ID:SECRET")
		}
		opts.Clients[id] = secret
	}
	sim := azuresim.New(opts)
	for _, p := range pools {
		sim.AddBackendPool(p)
	}
	cert, certPEM, err := selfSigned()
	if err != nil {
		return err
	}
	if *caFile != "" {
		if err := os.MkdirAll(filepath.Dir(*caFile), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(*caFile, certPEM, 0o644); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// Names like "localhost" are checked again once resolved.
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		ln.Close()
		return fmt.Errorf("refusing to serve on non-loopback address %s", ln.Addr())
	}
	mux := http.NewServeMux()
	mux.Handle(azuresim.AdminPrefix, sim.AdminHandler())
	mux.Handle("/", sim)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	fmt.Fprintf(stdout, "azuresim listening on https://%s\n", ln.Addr())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// selfSigned makes a serving certificate for the loopback names, valid for a week.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "azuresim (a test double, not Azure)"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func flagDelay(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// checkLoopback refuses listen addresses that are not plainly loopback, before anything is bound.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bad -addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing -addr %q: only loopback addresses (127.0.0.1, ::1, localhost) are allowed", addr)
	}
	return nil
}
