// Command manager runs the modelarts-operator controllers.
package main

import (
	"crypto/tls"
	"flag"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
	"github.com/cloudmirror-io/modelarts-operator/internal/controller"
	"github.com/cloudmirror-io/modelarts-operator/internal/lazylog"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
}

func main() {
	var (
		metricsAddr, probeAddr string
		pprofAddr              string
		secureMetrics          bool
		enableLeaderElection   bool
		enableHTTP2            bool
		opts                   controller.Options
		cloudTimeout           time.Duration
		kubeQPS                float64
		kubeBurst              int
		watchNamespaces        string
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "Address the metrics endpoint binds to, e.g. :8443 (https) or :8080 (http). \"0\" disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the health probe endpoint binds to.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false, "Enable leader election so only one manager is active.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS with authentication and authorization.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "0", "Address a net/http/pprof endpoint binds to, e.g. 127.0.0.1:6060, for profiling. \"0\" disables it.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false, "Enable HTTP/2 for the metrics server (off: HTTP/2 stream cancellation CVEs).")
	flag.DurationVar(&opts.StatusHeartbeat, "status-heartbeat", 5*time.Minute, "How old lastSyncTime may grow before an otherwise unchanged status is written.")
	flag.IntVar(&opts.MaxConcurrentReconciles, "max-concurrent-reconciles", 8, "Workers per controller.")
	flag.IntVar(&opts.MaxAuthorizations, "max-authorizations", controller.DefaultMaxAuthorizations, "Most authorization entries an AuthorizationSet's status holds.")
	flag.DurationVar(&cloudTimeout, "cloud-request-timeout", 30*time.Second, "Timeout of one cloud HTTP request.")
	// No client-side limit by default, as controller-runtime's own default:
	// the API server's Priority and Fairness paces every client, and a fixed
	// QPS here only made convergence wait while the API server sat idle.
	flag.Float64Var(&kubeQPS, "kube-api-qps", -1, "Client-side QPS toward the Kubernetes API server; negative: no client-side limit (the API server's Priority and Fairness paces requests).")
	flag.IntVar(&kubeBurst, "kube-api-burst", 100, "Client-side burst toward the Kubernetes API server (with a positive --kube-api-qps).")
	flag.StringVar(&watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to confine every cache and watch to (default: all namespaces). ClusterCloudAccounts need all namespaces.")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	// Lazy: controller-runtime's per-reconcile key-values are encoded only
	// for lines actually written.
	ctrl.SetLogger(lazylog.New(zap.New(zap.UseFlagOptions(&zapOpts))))
	setupLog := ctrl.Log.WithName("setup")
	for _, ns := range strings.Split(watchNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			opts.WatchNamespaces = append(opts.WatchNamespaces, ns)
		}
	}

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics, TLSOpts: tlsOpts}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	restConfig := ctrl.GetConfigOrDie()
	restConfig.QPS, restConfig.Burst = float32(kubeQPS), kubeBurst
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsOpts,
		HealthProbeBindAddress: probeAddr,
		PprofBindAddress:       pprofAddr,
		LeaderElection:         enableLeaderElection,
		LeaderElectionID:       "modelarts-operator.cloudmirror.io",
		// main exits as soon as the manager stops, so releasing the Lease
		// then is safe, and a rollout's new Pod need not wait out the lease.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         controller.CacheOptions(opts.WatchNamespaces...),
	})
	if err != nil {
		setupLog.Error(err, "unable to create manager")
		os.Exit(1)
	}

	clientset, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		setupLog.Error(err, "unable to create clientset")
		os.Exit(1)
	}
	opts.Pool = cloudclient.NewPool(cloudclient.Options{HTTPTimeout: cloudTimeout, Observe: controller.ObserveCloudRequest,
		ServiceAccountToken: controller.ServiceAccountTokens(clientset)})
	if err := controller.SetupWithManager(mgr, clientset, opts); err != nil {
		setupLog.Error(err, "unable to set up controllers")
		os.Exit(1)
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up ready check")
		os.Exit(1)
	}

	setupLog.Info("starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "problem running manager")
		os.Exit(1)
	}
}
