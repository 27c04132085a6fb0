package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func newCancelCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:     "cancel EXECUTION",
		Short:   "Cancel a run: running stages are told to stop and nothing new starts",
		Example: `  kubectl gennaker cancel demo-x7k2p`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.session()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			ex, err := s.execution(ctx, args[0])
			if err != nil {
				return err
			}
			switch {
			case finished(ex.Status.Phase):
				return fmt.Errorf("%s has already ended (%s)", ex.Name, ex.Status.Phase)
			case ex.Spec.Cancel:
				return fmt.Errorf("%s is already being canceled", ex.Name)
			}
			if err := s.client.Patch(ctx, ex, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancel":true}}`))); err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.Out, "%s canceled\n", ex.Name)
			return err
		},
	}
}
