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
	"os"
	"path/filepath"
	"strings"
	"time"

	azuresim "github.com/gennaker/gennaker/test/cloudsim/azure"
	"github.com/gennaker/gennaker/test/cloudsim/cmd/simcmd"
)

func main() { simcmd.Main("azuresim", run) }

// run serves until ctx is done. It writes one line with the base URL to stdout once it is listening,
// so scripts can wait for and parse it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("azuresim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:18093", "loopback `host:port` to listen on (port 0 picks a free one)")
	subscription := fs.String("subscription", azuresim.DefaultSubscriptionID, "the subscription `ID`")
	tenant := fs.String("tenant", azuresim.DefaultTenantID, "the Entra tenant `ID`")
	caFile := fs.String("ca-file", "", "write the serving certificate (PEM) to this `file`, for clients to trust")
	var clients, groups, pools simcmd.ListFlag
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
	if err := simcmd.CheckLoopback(*addr); err != nil {
		return err
	}
	opts := azuresim.Options{
		SubscriptionID: *subscription, TenantID: *tenant, ResourceGroups: groups,
		Clients: map[string]string{},
		// The package reads a zero delay as "use the default"; on the command line 0 means none.
		ProvisionDelay: simcmd.Delay(*provision), HealthyDelay: simcmd.Delay(*healthy),
		DeleteDelay: simcmd.Delay(*del), OperationDelay: simcmd.Delay(*operation),
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

	ln, err := simcmd.Listen(*addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "azuresim listening on https://%s\n", ln.Addr())
	return simcmd.Serve(ctx, ln, azuresim.AdminPrefix, sim.AdminHandler(), sim,
		&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
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
