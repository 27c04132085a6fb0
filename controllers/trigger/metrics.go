package trigger

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metrics, on controller-runtime's registry, so that the manager's /metrics serves them.
var (
	runsStarted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gennaker_trigger_runs_total",
		Help: "Runs started by a Pipeline's triggers, by namespace, pipeline, trigger (its name, or its index) and type.",
	}, []string{"namespace", "pipeline", "trigger", "type"})
	webhookRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gennaker_trigger_webhook_refusals_total",
		Help: "Webhook trigger calls refused, by HTTP status code.",
	}, []string{"code"})
	imageLooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gennaker_trigger_image_looks_total",
		Help: "Looks at a container repository by the image triggers' pollers (one serves every trigger watching it), by repository and result: ok, error or throttled (429).",
	}, []string{"repository", "result"})
	looks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gennaker_trigger_looks_total",
		Help: "What each polled trigger (image, maven, machineImage) saw of its source's looks (one look serves every trigger sharing the source), by namespace, pipeline, trigger, type and result: ok, error or throttled.",
	}, []string{"namespace", "pipeline", "trigger", "type", "result"})
)

func init() {
	metrics.Registry.MustRegister(runsStarted, webhookRefusals, imageLooks, looks)
}
