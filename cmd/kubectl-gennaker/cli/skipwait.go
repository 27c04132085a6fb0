package cli

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

func newSkipWaitCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:     "skip-wait EXECUTION STAGE",
		Short:   "End a running wait stage now, as if its duration had passed",
		Example: `  kubectl gennaker skip-wait demo-x7k2p soak`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.session()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			name, stage := args[0], args[1]
			ex, err := s.execution(ctx, name)
			if err != nil {
				return err
			}
			spec, ok := stageSpec(stagesOf(ex, nil), stage)
			switch {
			case !ok:
				return fmt.Errorf("%s has no stage %s", name, stage)
			case spec.Wait == nil:
				return fmt.Errorf("stage %s of %s is a %s stage, not a wait", stage, name, spec.Type())
			case slices.Contains(ex.Spec.SkipWaits, stage):
				return fmt.Errorf("stage %s of %s is already skipped", stage, name)
			}
			if phase := stageStatus(ex, stage).Phase; phase != v1alpha1.StageRunning {
				return fmt.Errorf("stage %s of %s is not waiting: it is %s", stage, name, phase)
			}
			// spec.skipWaits is a set that a merge patch replaces whole: the patch carries the list read
			// and the resourceVersion it was read at, so a name added meanwhile is not lost.
			body, err := json.Marshal(map[string]any{
				"metadata": map[string]any{"resourceVersion": ex.ResourceVersion},
				"spec":     map[string]any{"skipWaits": append(slices.Clone(ex.Spec.SkipWaits), stage)},
			})
			if err != nil {
				return err
			}
			if err := s.client.Patch(ctx, ex, client.RawPatch(types.MergePatchType, body)); err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.Out, "%s skipped on %s\n", stage, name)
			return err
		},
	}
}
