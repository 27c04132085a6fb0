package pipeline

import (
	"context"
	"time"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// runOtherTrigger runs trigger index of pl when it is not a cron trigger. A webhook trigger has nothing to
// do here (the endpoint starts its runs) and keeps only the calls whose runs were pruned.
func (r *Reconciler) runOtherTrigger(ctx context.Context, pl *v1alpha1.Pipeline, index int, prev *v1alpha1.TriggerStatus, now time.Time, out *triggerOutcome) {
	tr := &pl.Spec.Triggers[index]
	switch {
	case tr.Pipeline != nil:
		r.runPipelineTrigger(ctx, pl, index, prev, now, out)
	case tr.Image != nil:
		r.runImageTrigger(ctx, pl, index, prev, out)
	case tr.Maven != nil, tr.MachineImage != nil:
		r.runPolledTrigger(ctx, pl, index, prev, out)
	case tr.Webhook != nil:
		if st := keptWebhook(pl, index); st != nil {
			out.statuses = append(out.statuses, *st)
		}
	}
}
