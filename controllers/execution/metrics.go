package execution

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// Metrics, on controller-runtime's registry so that the manager's /metrics serves them beside
// controller_runtime_reconcile_errors_total (reconcile errors by controller) and the workqueue's.
var (
	executions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gennaker_executions_total",
		Help: "Executions that entered each phase.",
	}, []string{"phase"})
	stageDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "gennaker_stage_duration_seconds",
		Help: "Time from a stage's start to its end, by stage type and final phase.",
		// 10 ms to about 5.7 days: a zero wait to a judgment left over a weekend.
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 12),
	}, []string{"type", "phase"})
	judgmentWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gennaker_judgment_wait_seconds",
		Help:    "Time a manual judgment waited for its decision, by decision.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 10),
	}, []string{"decision"})
	stageErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gennaker_stage_errors_total",
		Help: "Transient stage errors (an API or remote call refused for now) that made a reconcile retry, by namespace.",
	}, []string{"namespace"})
)

func init() {
	metrics.Registry.MustRegister(executions, stageDuration, judgmentWait, stageErrors)
}

// observeStage records a stage that finished.
func observeStage(t engine.Transition) {
	switch t.To {
	case v1alpha1.StageNotStarted, v1alpha1.StageRunning, v1alpha1.StageWaitingForJudgment:
		return
	}
	stageDuration.WithLabelValues(t.Type, string(t.To)).Observe(t.Duration.Seconds())
	if t.From == v1alpha1.StageWaitingForJudgment {
		decision := v1alpha1.DecisionContinue
		if t.To != v1alpha1.StageSucceeded {
			decision = v1alpha1.DecisionStop
		}
		if t.To != v1alpha1.StageCanceled {
			judgmentWait.WithLabelValues(string(decision)).Observe(t.Duration.Seconds())
		}
	}
}
