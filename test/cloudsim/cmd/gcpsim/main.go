// Command gcpsim serves the cloudsim GCP Compute test double (package
// github.com/gennaker/gennaker/test/cloudsim/gcp) on a loopback address, for
// demos and shell scripts. It is not Google Cloud.
//
// Point SDK clients at the printed URL. -key-out writes a service-account
// JSON key of the first -service-account, with a fresh private key and the
// simulator's token endpoint as its token_uri, for a CloudAccount's Secret:
//
//	gcpsim -backend-service shop-web -key-out /tmp/gcp-sim-key.json &
//	kubectl create secret generic gcp-sim-credentials -n default --from-file=key.json=/tmp/gcp-sim-key.json
//	curl -s http://127.0.0.1:18092/_sim/groups
//	curl -s -XPOST http://127.0.0.1:18092/_sim/faults -d '{"method":"backendServices.update","kind":"ConcurrentChange","count":1}'
//
// It listens only on loopback addresses: the sim checks no JWT signature and its
// admin API has no authentication at all.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gennaker/gennaker/test/cloudsim/cmd/simcmd"
	gcpsim "github.com/gennaker/gennaker/test/cloudsim/gcp"
)

// DefaultServiceAccount is the service account the simulator knows when -service-account is not given.
const DefaultServiceAccount = "deployer@" + gcpsim.DefaultProject + ".iam.gserviceaccount.com"

func main() { simcmd.Main("gcpsim", run) }

// run serves until ctx is done. It writes one line with the base URL to stdout once it is listening
// (and the key file, if asked, is written), so scripts can wait for and parse it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gcpsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:18092", "loopback `host:port` to listen on (port 0 picks a free one)")
	var projects, accounts, impersonable, backends simcmd.ListFlag
	fs.Var(&projects, "project", "project `ID` the simulator knows (repeatable; default "+gcpsim.DefaultProject+")")
	fs.Var(&accounts, "service-account", "service account `EMAIL` whose keys the token endpoint accepts (repeatable; default "+DefaultServiceAccount+")")
	fs.Var(&impersonable, "impersonable", "service account `EMAIL` any caller may impersonate (repeatable)")
	fs.Var(&backends, "backend-service", "global backend service `NAME` to create in the first project (repeatable)")
	keyOut := fs.String("key-out", "", "write a service-account JSON key of the first service account to `PATH` (mode 0600)")
	boot := fs.Duration("boot-delay", gcpsim.DefaultBootDelay, "how long new instances take to run (0 = none)")
	healthy := fs.Duration("healthy-delay", gcpsim.DefaultHealthyDelay, "how long running backends take to pass health checks (0 = none)")
	stopDelay := fs.Duration("stop-delay", gcpsim.DefaultStopDelay, "how long deleted instances are listed (0 = none)")
	opDelay := fs.Duration("operation-delay", gcpsim.DefaultOperationDelay, "how long an operation nobody polls takes (0 = none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := simcmd.CheckLoopback(*addr); err != nil {
		return err
	}
	if len(accounts) == 0 {
		accounts = simcmd.ListFlag{DefaultServiceAccount}
	}
	sim := gcpsim.New(gcpsim.Options{
		Projects: projects,
		// The package reads a zero delay as "use the default"; on the command line 0 means none.
		BootDelay: simcmd.Delay(*boot), HealthyDelay: simcmd.Delay(*healthy), StopDelay: simcmd.Delay(*stopDelay), OperationDelay: simcmd.Delay(*opDelay),
	})
	for _, a := range accounts {
		sim.AddServiceAccount(a)
	}
	for _, a := range impersonable {
		sim.AllowImpersonation(a)
	}
	for _, b := range backends {
		sim.AddBackendService(b)
	}

	ln, err := simcmd.Listen(*addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	if *keyOut != "" {
		project := gcpsim.DefaultProject
		if len(projects) > 0 {
			project = projects[0]
		}
		if err := writeKey(*keyOut, accounts[0], project, url); err != nil {
			ln.Close()
			return err
		}
	}

	fmt.Fprintf(stdout, "gcpsim listening on %s\n", url)
	return simcmd.Serve(ctx, ln, gcpsim.AdminPrefix, sim.AdminHandler(), sim, nil)
}

// writeKey writes a service-account JSON key with a new RSA key, whose tokens come from the simulator.
func writeKey(path, email, project, url string) error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(map[string]string{
		"type": "service_account", "project_id": project, "private_key_id": "gcpsim",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "client_id": "0", "token_uri": url + "/token",
	}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}
