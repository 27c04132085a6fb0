package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// BenchmarkJudgment measures the latency from a judgment to the next stage: BENCH_JUDGMENTS (100) runs of
// [gate: manualJudgment] → [after: wait 1h] wait for their judgment; then, one run at a time, a merge
// patch of spec.judgments.gate (as kubectl patch sends) and the time until the watch shows `after`
// Running. The latency includes the patch's round trip, the manager's watch, queue, reconcile and status
// write, and the benchmark's watch. It runs twice: with the admission webhooks off (a namespace they
// ignore) and on (stamping who judged, checking approvers), so that the difference is what admission adds;
// the patch's own round trip is reported apart.
func BenchmarkJudgment(b *testing.B) {
	b.Run("admission=off", func(b *testing.B) { benchmarkJudgment(b, env.NamespaceWithoutAdmission(b)) })
	b.Run("admission=on", func(b *testing.B) { benchmarkJudgment(b, env.Namespace(b)) })
}

func benchmarkJudgment(b *testing.B, ns string) {
	n := judgments(b)
	ctx := context.Background()
	defer cleanup(b, []client.Object{&v1alpha1.Execution{}, &eventsv1.Event{}, &v1alpha1.Pipeline{}}, ns)
	createPipeline(b, ns, "judged", []v1alpha1.Stage{
		{Name: "gate", StageType: v1alpha1.StageType{ManualJudgment: &v1alpha1.ManualJudgmentStage{Instructions: "go?"}}},
		{Name: "after", DependsOn: []string{"gate"}, StageType: v1alpha1.StageType{Wait: &v1alpha1.WaitStage{Duration: "1h"}}},
	})
	var count counter
	stop := env.StartManagerWithConfig(b, count.config(env.Config))
	defer stop()

	waiting := map[string]bool{}
	running := map[string]time.Time{}
	tr := track(b, ns, func(ex *v1alpha1.Execution, at time.Time) {
		for _, st := range ex.Status.Stages {
			switch {
			case st.Name == "gate" && st.Phase == v1alpha1.StageWaitingForJudgment:
				waiting[ex.Name] = true
			case st.Name == "after" && st.Phase == v1alpha1.StageRunning:
				if _, seen := running[ex.Name]; !seen {
					running[ex.Name] = at
				}
			}
		}
	})
	defer tr.stop()
	runs := names("judged", n)
	if err := within(creators, runs, func(name string) error {
		return env.Client.Create(ctx, newExecution(ns, name, "judged"))
	}); err != nil {
		b.Fatalf("creating executions: %v", err)
	}
	if !tr.wait(2*time.Minute, func() bool { return len(waiting) == n }) {
		b.Fatalf("not every run came to wait for its judgment: %d of %d", len(waiting), n)
	}

	before := count.snapshot()
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"judgments":{"gate":{"decision":"Continue"}}}}`))
	latencies := make([]time.Duration, 0, n)
	patches := make([]time.Duration, 0, n)
	for _, name := range runs {
		start := time.Now()
		if err := env.Client.Patch(ctx, newExecution(ns, name, ""), patch); err != nil {
			b.Fatalf("judging %s: %v", name, err)
		}
		patches = append(patches, time.Since(start))
		var at time.Time
		if !tr.wait(30*time.Second, func() bool { at = running[name]; return !at.IsZero() }) {
			b.Fatalf("stage after of %s did not start within 30s of its judgment", name)
		}
		latencies = append(latencies, at.Sub(start))
	}
	c := count.snapshot().since(before)
	drainEvents(&count, before, ns, math.MaxInt) // before the manager stops: see sampleStatus
	slices.Sort(latencies)
	slices.Sort(patches)
	var sum time.Duration
	for _, l := range latencies {
		sum += l
	}
	p50, p99, worst := percentile(latencies, 50), percentile(latencies, 99), latencies[len(latencies)-1]
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(ms(worst), "max-ms")
	b.ReportMetric(ms(percentile(patches, 50)), "patch-p50-ms")
	b.ReportMetric(ms(percentile(patches, 99)), "patch-p99-ms")
	b.ReportMetric(float64(c.sum(writesTo(ns, "executions", "executions/status")))/float64(n), "writes/judgment")

	fmt.Printf("\nJudgment latency (merge patch of spec.judgments.gate → watch shows stage after Running), %d judgments one at a time, load %s\n", n, loadavg())
	fmt.Printf("  p50 %.1f ms, p99 %.1f ms, max %.1f ms, mean %.1f ms, min %.1f ms\n",
		ms(p50), ms(p99), ms(worst), ms(sum/time.Duration(n)), ms(latencies[0]))
	fmt.Printf("  the patch alone (its round trip, admission included): p50 %.1f ms, p99 %.1f ms\n",
		ms(percentile(patches, 50)), ms(percentile(patches, 99)))
	fmt.Printf("  manager requests in the namespace while judging (Events still on their way left out): %s\n\n", describe(c, ns))
}
