// Package cli is the kubectl gennaker plugin: one file per command, on cobra and cli-runtime so that
// --kubeconfig, --context, --as, -n and -o behave as they do in kubectl.
//
// Commands read and write Gennaker's resources only through the API server, as the user: judgments are
// merge patches of spec.judgments that the admission webhooks stamp with who decided and refuse when the
// user may not decide, and their refusal is shown as the error.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Options are what every command shares. The clock and the streams are injected so that tests are
// deterministic.
type Options struct {
	genericiooptions.IOStreams
	// Config reaches the cluster: the kubeconfig flags, kubectl's own.
	Config *genericclioptions.ConfigFlags
	// Clock gives durations and ages.
	Clock clock.PassiveClock
	// NoColor turns color off; it is off anyway when Out is not a terminal.
	NoColor bool

	// newClient makes the client; nil means one from Config.
	newClient func(*rest.Config) (client.WithWatch, error)
}

// NewOptions are Options for a real terminal and the wall clock.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{
		IOStreams: streams,
		Config:    genericclioptions.NewConfigFlags(true),
		Clock:     clock.RealClock{},
	}
}

// NewCommand is kubectl gennaker and its subcommands.
func NewCommand(o *Options) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-gennaker",
		Short: "Drive Gennaker pipelines: start runs, watch them, approve their judgments",
		Long: `kubectl gennaker starts Gennaker pipeline runs, draws them as a tree, approves or rejects their
manual judgments and lists runs, waiting judgments and server groups.

It talks to the cluster as kubectl does, with the same --kubeconfig, --context, --as and -n flags.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl gennaker"},
	}
	root.SetVersionTemplate("kubectl gennaker {{.Version}}\n")
	o.Config.AddFlags(root.PersistentFlags())
	root.PersistentFlags().BoolVar(&o.NoColor, "no-color", false, "plain text, also on a terminal")
	root.AddCommand(
		newStartCommand(o),
		newGetCommand(o),
		newJudgeCommand(o, judgeApprove),
		newJudgeCommand(o, judgeReject),
		newSkipWaitCommand(o),
		newCancelCommand(o),
		newListCommand(o),
		newPendingCommand(o),
		newServerGroupsCommand(o),
		newVersionCommand(o),
	)
	root.SetOut(o.Out)
	root.SetErr(o.ErrOut)
	root.SetIn(o.In)
	return root
}

// Main runs the plugin with args and returns the process's exit code: errors are one line on stderr.
func Main(ctx context.Context, o *Options, args []string) int {
	cmd := NewCommand(o)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		if ctx.Err() != nil {
			// Interrupted (Ctrl-C on a watch): the user knows; exit as a shell does, without an error line.
			return 130
		}
		fmt.Fprintln(o.ErrOut, "error: "+oneLine(err))
		var exit exitError
		if errors.As(err, &exit) {
			return exit.code
		}
		return 1
	}
	return 0
}

// exitError is a failure whose exit code is not 1: a watched run that failed.
type exitError struct {
	msg  string
	code int
}

func (e exitError) Error() string { return e.msg }

// color says whether to paint output.
func (o *Options) color() bool {
	if o.NoColor || os.Getenv("NO_COLOR") != "" {
		return false
	}
	return isTerminal(o.Out)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
