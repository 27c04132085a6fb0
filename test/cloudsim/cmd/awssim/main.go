// Command awssim serves the cloudsim AWS test double (package
// github.com/gennaker/gennaker/test/cloudsim/aws) on a loopback address, for
// demos and shell scripts. It is not AWS.
//
// Point SDK clients at the printed URL with static credentials given by -key.
// The JSON admin API under /_sim/ (see aws.Sim.AdminHandler) inspects the sim
// and injects faults:
//
//	awssim -key AKIDDEMO:demo-secret -target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1 &
//	curl -s http://127.0.0.1:4566/_sim/groups
//	curl -s -XPOST http://127.0.0.1:4566/_sim/faults -d '{"service":"autoscaling","kind":"Throttle","count":3}'
//
// It listens only on loopback addresses: the sim accepts any signature and its
// admin API has no authentication at all.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	awssim "github.com/gennaker/gennaker/test/cloudsim/aws"
	"github.com/gennaker/gennaker/test/cloudsim/cmd/simcmd"
)

func main() { simcmd.Main("awssim", run) }

// run serves until ctx is done. It writes one line with the base URL to stdout
// once it is listening, so scripts can wait for and parse it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("awssim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:4566", "loopback `host:port` to listen on (port 0 picks a free one)")
	account := fs.String("account", awssim.DefaultAccountID, "AWS account ID of the simulated account")
	var keys, targetGroups, roles simcmd.ListFlag
	fs.Var(&keys, "key", "accepted credentials as `ID:SECRET` (repeatable, at least one)")
	fs.Var(&targetGroups, "target-group", "target group `ARN` to create (repeatable)")
	fs.Var(&roles, "role", "assumable role as `ARN` or ARN,EXTERNAL_ID (repeatable)")
	launch := fs.Duration("launch-delay", awssim.DefaultLaunchDelay, "how long new instances stay Pending (0 = none)")
	healthy := fs.Duration("target-healthy-delay", awssim.DefaultTargetHealthyDelay, "how long registered targets stay initial (0 = none)")
	terminate := fs.Duration("terminate-delay", awssim.DefaultTerminateDelay, "how long terminating instances are listed (0 = none)")
	del := fs.Duration("delete-delay", awssim.DefaultDeleteDelay, "how long deleted groups are listed as deleting (0 = none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if len(keys) == 0 {
		return errors.New("at least one -key ID:SECRET is required")
	}
	if err := simcmd.CheckLoopback(*addr); err != nil {
		return err
	}

	opts := awssim.Options{
		AccountID: *account,
		Keys:      map[string]string{},
		// The package reads a zero delay as "use the default"; on the
		// command line 0 means no delay, which is a negative Options value.
		LaunchDelay:        simcmd.Delay(*launch),
		TargetHealthyDelay: simcmd.Delay(*healthy),
		TerminateDelay:     simcmd.Delay(*terminate),
		DeleteDelay:        simcmd.Delay(*del),
	}
	for _, k := range keys {
		id, secret, ok := strings.Cut(k, ":")
		if !ok || id == "" || secret == "" {
			// Do not echo the value: it holds a secret.
			return errors.New("-key must be ID:SECRET")
		}
		opts.Keys[id] = secret
	}
	sim := awssim.New(opts)
	for _, arn := range targetGroups {
		sim.AddTargetGroup(arn)
	}
	for _, r := range roles {
		arn, ext, _ := strings.Cut(r, ",")
		sim.AddRole(arn, ext)
	}

	ln, err := simcmd.Listen(*addr)
	if err != nil {
		return err
	}

	fmt.Fprintf(stdout, "awssim listening on http://%s\n", ln.Addr())
	return simcmd.Serve(ctx, ln, awssim.AdminPrefix, sim.AdminHandler(), sim, nil)
}
