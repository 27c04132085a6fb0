package cloud

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// requests counts the cloud API operations the providers make, on controller-runtime's registry, so that
// /metrics shows what a release costs in API calls and when a cloud starts refusing them.
var requests = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "gennaker_cloud_requests_total",
	Help: "Cloud API operations, after the SDK's retries, by provider, service, operation and outcome (OK or the reason of the error).",
}, []string{"provider", "service", "operation", "outcome"})

func init() { metrics.Registry.MustRegister(requests) }

// ObserveRequest records one cloud API operation; err is the SDK's error, classified by classify.
func ObserveRequest(provider, service, operation string, err error, classify func(error) Reason) {
	outcome := "OK"
	if err != nil {
		outcome = string(classify(err))
	}
	requests.WithLabelValues(provider, service, operation, outcome).Inc()
}
