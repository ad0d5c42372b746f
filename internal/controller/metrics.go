package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

var (
	cloudRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "modelarts_operator_cloud_requests_total",
		Help: "Cloud HTTP requests by API and outcome (success or a condition reason).",
	}, []string{"api", "outcome"})
	cloudRequestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "modelarts_operator_cloud_request_duration_seconds",
		Help:    "Latency of cloud HTTP requests by API.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
	}, []string{"api"})
)

func init() {
	metrics.Registry.MustRegister(cloudRequests, cloudRequestDuration)
}

// ObserveCloudRequest is the cloud client's metrics hook.
func ObserveCloudRequest(api cloudclient.API, outcome string, d time.Duration) {
	cloudRequests.WithLabelValues(string(api), outcome).Inc()
	cloudRequestDuration.WithLabelValues(string(api)).Observe(d.Seconds())
}
