// Command kubectl-gennaker is the kubectl plugin of Gennaker: kubectl gennaker start, get --watch,
// approve, list, pending and servergroups. Put it on the PATH and kubectl finds it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/gennaker/gennaker/cmd/kubectl-gennaker/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.NewOptions(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}), os.Args[1:])
	stop()
	os.Exit(code)
}
