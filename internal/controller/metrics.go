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
	syncsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "modelarts_operator_syncs_total",
		Help: "Syncs of mirrored objects by kind and result (success or a condition reason).",
	}, []string{"kind", "result"})
	lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "modelarts_operator_last_successful_sync_timestamp_seconds",
		Help: "Unix time of each object's last successful sync (status only carries a heartbeat).",
	}, []string{"kind", "namespace", "name"})
	rolloutsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "modelarts_operator_rollouts_total",
		Help: "Workload rollouts triggered by a sync that changed a Secret they list in reload-secrets, by workload kind.",
	}, []string{"kind"})
)

func init() {
	metrics.Registry.MustRegister(cloudRequests, cloudRequestDuration, syncsTotal, lastSuccess, rolloutsTotal)
}

// ObserveCloudRequest is the cloud client's metrics hook.
func ObserveCloudRequest(api cloudclient.API, outcome string, d time.Duration) {
	cloudRequests.WithLabelValues(string(api), outcome).Inc()
	cloudRequestDuration.WithLabelValues(string(api)).Observe(d.Seconds())
}
