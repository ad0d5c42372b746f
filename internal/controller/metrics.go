package controller

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/manager"
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
	rolloutsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "modelarts_operator_rollouts_total",
		Help: "Workload rollouts triggered by a sync that changed a Secret they list in reload-secrets, by workload kind.",
	}, []string{"kind"})
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
	metrics.Registry.MustRegister(cloudRequests, cloudRequestDuration, syncsTotal, objectCollector{},
		rolloutsTotal, syncLateness, accountBudget, accountNeed, accountReadiness, accountCredentialsExpiry)
}

// ObserveCloudRequest is the cloud client's metrics hook.
func ObserveCloudRequest(api cloudclient.API, outcome string, d time.Duration) {
	cloudRequests.WithLabelValues(string(api), outcome).Inc()
	cloudRequestDuration.WithLabelValues(string(api)).Observe(d.Seconds())
}

// Objects and their staleness are counted when Prometheus scrapes, from the
// sync records the reconcilers keep anyway: a series per object would cost
// about 1.3 KB of memory per object (docs/performance.md), so an object has
// one only while it is stale.
var (
	objectsDesc = prometheus.NewDesc("modelarts_operator_objects",
		"Mirrored objects the operator syncs (paused ones are not), by kind and namespace.",
		[]string{"kind", "namespace"}, nil)
	staleObjectDesc = prometheus.NewDesc("modelarts_operator_stale_object_age_seconds",
		"Seconds since the last successful sync of each object that has not synced for over twice its refresh interval "+
			"(counted from when this process first saw it, if it has not synced since); absent for objects that are not stale.",
		[]string{"kind", "namespace", "name"}, nil)
)

// staleAfterIntervals is how many refresh intervals without a successful
// sync make an object stale.
const staleAfterIntervals = 2

// recordSource is a reconciler whose records the collector reads.
type recordSource interface {
	kindName() string
	// eachAge calls f, under the reconciler's lock, for each object it
	// syncs: how long ago the object last synced (or was first seen) and
	// its refresh interval.
	eachAge(f func(key types.NamespacedName, age, interval time.Duration))
}

// recordSources holds the reconcilers of every running manager (one in the
// operator; envtest specs start more, and stop them).
var recordSources sync.Map // recordSource → struct{}

// publishRecords makes r's records visible to the collector while its
// manager runs (as the leader: standbys hold no records).
func publishRecords(mgr manager.Manager, r recordSource) error {
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		recordSources.Store(r, struct{}{})
		<-ctx.Done()
		recordSources.Delete(r)
		return nil
	}))
}

type objectCollector struct{}

func (objectCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- objectsDesc
	ch <- staleObjectDesc
}

func (objectCollector) Collect(ch chan<- prometheus.Metric) {
	type nsKey struct{ kind, namespace string }
	type objKey struct {
		kind string
		key  types.NamespacedName
	}
	counts := map[nsKey]int{}
	stale := map[objKey]time.Duration{}
	recordSources.Range(func(source, _ any) bool {
		kind := source.(recordSource).kindName()
		source.(recordSource).eachAge(func(key types.NamespacedName, age, interval time.Duration) {
			counts[nsKey{kind, key.Namespace}]++
			if age > staleAfterIntervals*interval {
				k := objKey{kind, key}
				stale[k] = max(stale[k], age)
			}
		})
		return true
	})
	for k, age := range stale {
		ch <- prometheus.MustNewConstMetric(staleObjectDesc, prometheus.GaugeValue, age.Seconds(), k.kind, k.key.Namespace, k.key.Name)
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(objectsDesc, prometheus.GaugeValue, float64(n), k.kind, k.namespace)
	}
}

// observeSuccess counts a successful sync: how late it came after the
// object's previous one (prev, zero if none since this process started).
func observeSuccess(kind string, prev, now time.Time, interval time.Duration) {
	if !prev.IsZero() {
		syncLateness.WithLabelValues(kind).Observe(lateness(now.Sub(prev), interval).Seconds())
	}
}

// lateness is how much longer than interval, its jitter and the rounding
// to a refresh slot a gap between two successful syncs was: 0 for an
// on-time or early (sync-now, spec change) sync.
func lateness(gap, interval time.Duration) time.Duration {
	return max(gap-time.Duration(float64(interval)*(1+jitterFraction))-refreshSlot/2, 0)
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
