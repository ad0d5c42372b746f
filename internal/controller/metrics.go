package controller

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// The alerts in charts/modelarts-operator/files/alerts.yaml and the dashboard
// in config/grafana are built on these; docs/monitoring.md describes them.
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
	// The account labels let PromQL sum what an account's objects need
	// (1/interval each) against the account's budget. Accounts are named by
	// account_namespace (empty for a ClusterCloudAccount) and account.
	refreshIntervalSeconds = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "modelarts_operator_refresh_interval_seconds",
		Help: "Each synced object's refresh interval, with the account it uses (account_namespace is empty for a ClusterCloudAccount).",
	}, []string{"kind", "namespace", "name", "account_namespace", "account"})
	// Measured between successive successes, so it includes what delays the
	// next sync: queueing, the account's rate limiter, failed attempts.
	syncLateness = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "modelarts_operator_sync_lateness_seconds",
		Help:    "How much later than its refresh interval (plus jitter) each successful sync came after the object's previous one; 0 when on time.",
		Buckets: []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800},
	}, []string{"kind"})
	accountBudget = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "modelarts_operator_account_budget_requests_per_second",
		Help: "Each account's client-side budget for cloud calls (spec.requestsPerSecond or the default).",
	}, []string{"account_namespace", "account"})
	accountNeed = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "modelarts_operator_account_required_requests_per_second",
		Help: "What each account's objects need: the sum of 1/refreshInterval over those that make cloud calls (status.requiredRequestsPerMinute / 60, unrounded).",
	}, []string{"account_namespace", "account"})
	accountReadiness = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "modelarts_operator_account_ready",
		Help: "1 if an account's credentials are usable (its Ready condition), else 0.",
	}, []string{"account_namespace", "account"})
	accountCredentialsExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "modelarts_operator_account_credentials_expiry_timestamp_seconds",
		Help: "Unix time at which an account's IAM token or temporary AK/SK expires (status.tokenExpiresAt).",
	}, []string{"account_namespace", "account"})
)

func init() {
	metrics.Registry.MustRegister(cloudRequests, cloudRequestDuration, syncsTotal, lastSuccess,
		rolloutsTotal, refreshIntervalSeconds, syncLateness, accountBudget, accountNeed, accountReadiness, accountCredentialsExpiry)
}

// ObserveCloudRequest is the cloud client's metrics hook.
func ObserveCloudRequest(api cloudclient.API, outcome string, d time.Duration) {
	cloudRequests.WithLabelValues(string(api), outcome).Inc()
	cloudRequestDuration.WithLabelValues(string(api)).Observe(d.Seconds())
}

type objectSeriesKey struct{ kind, namespace, name string }

// objectSeries is what the metrics remember of an object: the account label
// its interval series carries, so that a changed accountRef replaces the
// series instead of leaving the old one behind (and counting against the
// old account), and its last success, to measure lateness.
type objectSeries struct {
	account     types.NamespacedName
	lastSuccess time.Time
}

var seriesOf = struct {
	sync.Mutex
	m map[objectSeriesKey]objectSeries
}{m: map[objectSeriesKey]objectSeries{}}

// observeSuccess records an object's successful sync: when, how late after
// the previous one, and at which interval its next one is due.
func observeSuccess(kind string, obj v1alpha1.Mirrored, interval time.Duration, now time.Time) {
	k := objectSeriesKey{kind, obj.GetNamespace(), obj.GetName()}
	account := accountKeyOf(obj)
	lastSuccess.WithLabelValues(k.kind, k.namespace, k.name).Set(float64(now.Unix()))

	seriesOf.Lock()
	defer seriesOf.Unlock()
	prev, ok := seriesOf.m[k]
	if ok && prev.account != account {
		refreshIntervalSeconds.DeleteLabelValues(k.kind, k.namespace, k.name, prev.account.Namespace, prev.account.Name)
	}
	if ok {
		syncLateness.WithLabelValues(kind).Observe(lateness(now.Sub(prev.lastSuccess), interval).Seconds())
	}
	seriesOf.m[k] = objectSeries{account: account, lastSuccess: now}
	refreshIntervalSeconds.WithLabelValues(k.kind, k.namespace, k.name, account.Namespace, account.Name).Set(interval.Seconds())
}

// lateness is how much longer than interval and its jitter a gap between
// two successful syncs was: 0 for an on-time or early (sync-now, spec
// change) sync.
func lateness(gap, interval time.Duration) time.Duration {
	return max(gap-time.Duration(float64(interval)*(1+jitterFraction)), 0)
}

// forgetObject drops the series of an object that is gone or paused.
func forgetObject(kind string, key types.NamespacedName) {
	k := objectSeriesKey{kind, key.Namespace, key.Name}
	lastSuccess.DeleteLabelValues(k.kind, k.namespace, k.name)

	seriesOf.Lock()
	defer seriesOf.Unlock()
	if s, ok := seriesOf.m[k]; ok {
		refreshIntervalSeconds.DeleteLabelValues(k.kind, k.namespace, k.name, s.account.Namespace, s.account.Name)
		delete(seriesOf.m, k)
	}
}

// observeAccount publishes an account's budget, readiness and credentials
// expiry as its status (just computed) describes them; key's namespace is
// empty for a ClusterCloudAccount.
func observeAccount(key types.NamespacedName, conn v1alpha1.CloudConnection, status *v1alpha1.CloudAccountStatus) {
	accountBudget.WithLabelValues(key.Namespace, key.Name).Set(budgetRequestsPerSecond(conn))
	ready := 0.0
	if meta.IsStatusConditionTrue(status.Conditions, v1alpha1.ConditionReady) {
		ready = 1
	}
	accountReadiness.WithLabelValues(key.Namespace, key.Name).Set(ready)
	if t := status.TokenExpiresAt; t != nil {
		accountCredentialsExpiry.WithLabelValues(key.Namespace, key.Name).Set(float64(t.Unix()))
	} else {
		accountCredentialsExpiry.DeleteLabelValues(key.Namespace, key.Name)
	}
}

// forgetAccount drops the series of a deleted account.
func forgetAccount(key types.NamespacedName) {
	accountBudget.DeleteLabelValues(key.Namespace, key.Name)
	accountNeed.DeleteLabelValues(key.Namespace, key.Name)
	accountReadiness.DeleteLabelValues(key.Namespace, key.Name)
	accountCredentialsExpiry.DeleteLabelValues(key.Namespace, key.Name)
}
