package controllers_test

import (
	"testing"

	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// TestMetrics runs a judged pipeline and reads the operator's metrics from the registry /metrics serves.
func TestMetrics(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	before := gather(g)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: measured}
spec:
  application: shop
  stages:
  - {name: gate, manualJudgment: {}}
  - {name: pause, dependsOn: [gate], wait: {duration: 0s}}
`)
	run(t, ns, "measured", "measured", nil)
	waitStagePhase(g, ns, "measured", "gate", v1alpha1.StageWaitingForJudgment)
	patch(t, ns, "measured", `{"spec":{"judgments":{"gate":{"decision":"Continue"}}}}`)
	waitPhase(g, ns, "measured", v1alpha1.ExecutionSucceeded)

	g.Eventually(func(g Gomega) {
		after := gather(g)
		g.Expect(after[`gennaker_executions_total{phase="Succeeded"}`] - before[`gennaker_executions_total{phase="Succeeded"}`]).To(BeNumerically(">=", 1))
		g.Expect(after[`gennaker_stage_duration_seconds_count{phase="Succeeded",type="wait"}`] - before[`gennaker_stage_duration_seconds_count{phase="Succeeded",type="wait"}`]).To(BeNumerically(">=", 1))
		g.Expect(after[`gennaker_judgment_wait_seconds_count{decision="Continue"}`] - before[`gennaker_judgment_wait_seconds_count{decision="Continue"}`]).To(BeNumerically(">=", 1))
		g.Expect(after).To(HaveKey(`controller_runtime_reconcile_errors_total{controller="execution"}`))
	}).Should(Succeed())
}

// gather reads every metric of the registry as "name{label="value",...}" -> value (counts for histograms).
func gather(g Gomega) map[string]float64 {
	families, err := metrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			if f.GetType() == dto.MetricType_HISTOGRAM {
				name += "_count"
			}
			out[name+labels(m)] = value(m)
		}
	}
	return out
}

func labels(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	s := "{"
	for i, l := range m.GetLabel() {
		if i > 0 {
			s += ","
		}
		s += l.GetName() + `="` + l.GetValue() + `"`
	}
	return s + "}"
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}
