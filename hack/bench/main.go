// Command bench measures the operator at scale: bin/manager (a separate
// process, so its CPU and RSS are its own) against a local control plane
// (envtest's kube-apiserver and etcd) and bin/cloudsim with simulated cloud
// latency. It prints a table and writes bin/bench/report.json.
//
// Run it with `make bench` (N=1000 objects per kind by default, `make bench
// N=200` for a quick run). Phases:
//
//  1. floor: a plain client does what converging costs at least (the cloud
//     GETs, Secret creates and status updates) at the operator's concurrency;
//  2. convergence: N DevEnvironmentTokens and N Workspaces are created at
//     once; the clock stops when all are Ready (token 0 renders a template
//     into its Secret, which a Deployment lists in reload-secrets);
//  3. steady state: over several refresh intervals with unchanged cloud data,
//     cloud calls, Kubernetes writes (the API server's own request counters,
//     Deployments included: a rollout there would be a write),
//     the operator's CPU seconds and its peak RSS;
//  4. unrelated Secrets: the operator is restarted on the same objects with
//     no unrelated Secrets, then with 5,000, and their peak RSS compared.
//
// The objects use an AK/SK account, an IAM password account and a workload
// identity account in turn, so the IAM token requests per password account
// and the IAM exchanges per workload identity account over the run are
// measured too.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/hack/internal/proc"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

const (
	benchDir       = "bin/bench"
	benchNS        = "bench"
	floorNS        = "bench-floor"
	createWorkers  = 32
	managerBinary  = "bin/manager"
	cloudsimBinary = "bin/cloudsim"
)

type config struct {
	n               int
	latency         time.Duration
	interval        time.Duration
	steadyIntervals float64
	unrelated       int
	unrelatedBytes  int
	workers         int
	managerArgs     string
	timeout         time.Duration
	out             string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.n, "n", 1000, "objects per kind (DevEnvironmentTokens and Workspaces)")
	flag.DurationVar(&cfg.latency, "latency", 20*time.Millisecond, "simulated cloud latency per request")
	flag.DurationVar(&cfg.interval, "interval", 0, "refreshInterval of every object (10s is the minimum; 0: 10s up to N=1000, 1m above, since 10,000 objects at 10s would ask 1000 syncs/s of 2 cores)")
	flag.Float64Var(&cfg.steadyIntervals, "steady-intervals", 4, "length of the steady-state window in refresh intervals (at least 3)")
	flag.IntVar(&cfg.unrelated, "unrelated-secrets", 5000, "unrelated Secrets for the RSS comparison (0 skips that phase)")
	flag.IntVar(&cfg.unrelatedBytes, "unrelated-secret-bytes", 1024, "data bytes per unrelated Secret")
	flag.IntVar(&cfg.workers, "workers", 0, "--max-concurrent-reconciles for the manager (0: the manager's default)")
	flag.StringVar(&cfg.managerArgs, "manager-args", "", "extra flags for bin/manager, space-separated")
	flag.StringVar(&managerEnv, "manager-env", "", "extra environment for bin/manager, space-separated KEY=value (e.g. GOMAXPROCS=1 GOGC=200)")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "how long convergence may take before the bench fails")
	flag.StringVar(&cfg.out, "out", filepath.Join(benchDir, "report.json"), "report file")
	flag.BoolVar(&tokensOnly, "tokens-only", false, "N DevEnvironmentTokens on one AK/SK account and no Workspaces")
	flag.Parse()
	if growthRequested() { // growth.go
		os.Exit(growthMain())
	}
	if cfg.interval == 0 {
		cfg.interval = 10 * time.Second
		if cfg.n > 1000 {
			cfg.interval = time.Minute
		}
	}
	if cfg.steadyIntervals < 3 {
		fmt.Fprintln(os.Stderr, "-steady-intervals must be at least 3")
		os.Exit(2)
	}
	ctrllog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	if err := run(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "\n[bench] FAILED: %v\n", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) {
	fmt.Printf("[bench] %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// flagDefault reads a flag's default from `bin/manager -h`.
func flagDefault(name string) string {
	out, _ := exec.Command(managerBinary, "-h").CombinedOutput()
	re := regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(name) + `\b.*\n\s+.*\(default ([^)]*)\)`)
	if m := re.FindStringSubmatch(string(out)); m != nil {
		return m[1]
	}
	return ""
}

func run(cfg config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(benchDir, 0o755); err != nil {
		return err
	}
	for _, b := range []string{managerBinary, cloudsimBinary} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%s missing: run `make build` first", b)
		}
	}
	workers := cfg.workers
	if workers == 0 {
		if _, err := fmt.Sscan(flagDefault("max-concurrent-reconciles"), &workers); err != nil || workers <= 0 {
			return fmt.Errorf("cannot read --max-concurrent-reconciles' default from %s -h", managerBinary)
		}
	}
	managerArgs := strings.Fields(cfg.managerArgs)
	if cfg.workers != 0 {
		managerArgs = append(managerArgs, fmt.Sprintf("--max-concurrent-reconciles=%d", cfg.workers))
	}
	rep := newReport(cfg, workers, managerArgs)

	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join("bin", "k8s")
	}
	step("control plane (kube-apiserver + etcd from %s)", assets)
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	restCfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	defer func() { _ = env.Stop() }()
	user, err := env.AddUser(envtest.User{Name: "bench-admin", Groups: []string{"system:masters"}}, restCfg)
	if err != nil {
		return err
	}
	kubeconfigBytes, err := user.KubeConfig()
	if err != nil {
		return err
	}
	kubeconfig, _ := filepath.Abs(filepath.Join(benchDir, "kubeconfig"))
	if err := os.WriteFile(kubeconfig, kubeconfigBytes, 0o600); err != nil {
		return err
	}

	jwks := filepath.Join(benchDir, "jwks.json")
	issuer, err := issuerKeys(ctx, restCfg, jwks)
	if err != nil {
		return err
	}
	fixture := filepath.Join(benchDir, "fixture.json")
	if err := writeFixture(fixture, cfg.n, issuer); err != nil {
		return err
	}
	simAddr, err := proc.FreePort()
	if err != nil {
		return err
	}
	adminAddr, err := proc.FreePort()
	if err != nil {
		return err
	}
	step("cloud simulator on %s, latency %s, %d dev-environment instances and %d workspaces", simAddr, cfg.latency, cfg.n, cfg.n)
	sim, err := proc.Start(benchDir, "cloudsim", cloudsimBinary, nil, "--listen", simAddr, "--admin-listen", adminAddr,
		"--fixture", fixture, "--jwks-file", jwks, "--latency", cfg.latency.String())
	if err != nil {
		return err
	}
	defer sim.Stop()
	if err := proc.WaitHTTP(ctx, "http://"+adminAddr+"/admin/healthz", 30*time.Second, sim); err != nil {
		return fmt.Errorf("%w (log: %s)", err, sim.LogPath)
	}
	admin := simAdmin(adminAddr)
	simURL := "http://" + simAddr

	scheme := kruntime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	benchCfg := rest.CopyConfig(user.Config())
	benchCfg.QPS, benchCfg.Burst = 5000, 10000
	c, err := client.New(benchCfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	clientset, err := kubernetes.NewForConfig(benchCfg)
	if err != nil {
		return err
	}
	for _, ns := range []string{benchNS, floorNS} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	if err := c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: floorNS, Name: benchSA}}); err != nil {
		return err
	}
	// Enough client-side cloud budget per account for every object to be
	// read once per interval, and for the convergence burst.
	rps := int32(min(10000, max(100, cfg.n)))

	// --- floor ---
	floorClient, err := newFloorClient(c, clientset, floorNS, cfg.n, workers, cloudConfigs(simURL, rps))
	if err != nil {
		return err
	}
	clearFloor := func() error {
		for _, o := range []client.Object{&v1alpha1.DevEnvironmentToken{}, &v1alpha1.Workspace{}, &corev1.Secret{}} {
			if err := c.DeleteAllOf(ctx, o, client.InNamespace(floorNS)); err != nil {
				return err
			}
		}
		// DeleteAllOf returns before the objects are gone.
		if err := waitEmpty(ctx, c, floorNS); err != nil {
			return err
		}
		return compactEtcd(ctx, env.ControlPlane.Etcd.URL.String())
	}
	step("floor (as before 2026-12-03): creating %s in %s (not timed), then converging them with a plain client, %d workers per kind", objectsOf(cfg.n), floorNS, workers)
	if err := createObjects(ctx, c, floorNS, cfg.n, cfg.interval, createWorkers); err != nil {
		return err
	}
	existing, err := floorClient.convergeExisting(ctx)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	rep.FloorExistingSeconds = existing.Seconds()
	step("floor (as before): %.2fs", existing.Seconds())
	if err := clearFloor(); err != nil {
		return err
	}
	step("floor: creating %s as the bench does and converging each as soon as it exists, %d workers per kind", objectsOf(cfg.n), workers)
	floorReq0, floorSec0, err := apiRequestsAndSeconds(ctx, clientset.RESTClient())
	if err != nil {
		return err
	}
	floorCPU0, err := readPhaseCPU()
	if err != nil {
		return err
	}
	floor, err := floorClient.createAndConverge(ctx, cfg.interval)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	floorCPU1, err := readPhaseCPU()
	if err != nil {
		return err
	}
	rep.setFloorCPU(floorCPU1.sub(floorCPU0))
	floorReq1, floorSec1, err := apiRequestsAndSeconds(ctx, clientset.RESTClient())
	if err != nil {
		return err
	}
	rep.FloorAPIMeanMillis = meanMillis(floorReq1.sub(floorReq0).writes(), floorSec1.sub(floorSec0))
	rep.FloorSeconds = floor.Seconds()
	step("floor: %.2fs", floor.Seconds())
	if err := clearFloor(); err != nil {
		return err
	}
	if err := admin.resetCounters(); err != nil {
		return err
	}

	// --- convergence ---
	for _, o := range append(accountObjects(benchNS, simURL, rps), reloadDeployment(benchNS)) {
		if err := c.Create(ctx, o); err != nil {
			return err
		}
	}
	tracker, err := startTracker(ctx, benchCfg, scheme, objectCount(cfg.n))
	if err != nil {
		return err
	}
	step("starting the operator (%s %s, log %s/manager.log)", managerBinary, strings.Join(managerArgs, " "), benchDir)
	mgr, err := startManager(ctx, "manager", kubeconfig, managerArgs)
	if err != nil {
		return err
	}
	defer mgr.Stop()
	if err := waitAccountsReady(ctx, c, mgr); err != nil {
		return err
	}
	cpu0, err := readProc(mgr.Pid())
	if err != nil {
		return err
	}
	step("convergence: creating %d objects at once", objectCount(cfg.n))
	conv0, convSec0, err := apiRequestsAndSeconds(ctx, clientset.RESTClient())
	if err != nil {
		return err
	}
	ownRequests0, err := mgr.apiRequests(ctx)
	if err != nil {
		return err
	}
	convCPU0, err := readPhaseCPU()
	if err != nil {
		return err
	}
	start := time.Now()
	created := make(chan error, 1)
	go func() {
		err := createObjects(ctx, c, benchNS, cfg.n, cfg.interval, createWorkers)
		rep.CreateSeconds = time.Since(start).Seconds()
		created <- err
	}()
	if err := tracker.waitAllReady(ctx, cfg.timeout, mgr, start); err != nil {
		return err
	}
	if err := <-created; err != nil {
		return err
	}
	converged := tracker.lastReady().Sub(start)
	rep.TokensConvergedSeconds = tracker.lastReadyOf("*v1alpha1.DevEnvironmentToken/").Sub(start).Seconds()
	rep.ConvergenceSeconds = converged.Seconds()
	rep.ConvergenceOverFloor = rep.ConvergenceSeconds / rep.FloorSeconds
	rep.ConvergenceOverFloorExisting = rep.ConvergenceSeconds / rep.FloorExistingSeconds
	cpu1, err := readProc(mgr.Pid())
	if err != nil {
		return err
	}
	rep.ConvergenceCPUSeconds = cpu1.cpuSeconds - cpu0.cpuSeconds
	convCPU1, err := readPhaseCPU()
	if err != nil {
		return err
	}
	rep.setConvergenceCPU(convCPU1.sub(convCPU0))
	conv1, convSec1, err := apiRequestsAndSeconds(ctx, clientset.RESTClient())
	if err != nil {
		return err
	}
	ownRequests1, err := mgr.apiRequests(ctx)
	if err != nil {
		return err
	}
	rep.OperatorConvergenceRequests = ownRequests1 - ownRequests0
	rep.APIRequestsPerConvergedObject = rep.OperatorConvergenceRequests / float64(objectCount(cfg.n))
	rep.ConvergenceAPIRequests = conv1.sub(conv0)
	// Per account and per rollout, not per object: the accounts' need
	// recounts (at most one status write a second each) and token 0's rollout.
	rep.OperatorAccountAndRolloutRequests = rep.ConvergenceAPIRequests["PUT cloudaccounts/status"] +
		rep.ConvergenceAPIRequests["PATCH deployments"] + rep.ConvergenceAPIRequests["POST events"]
	rep.ObjectAPIRequestsPerConvergedObject = (rep.OperatorConvergenceRequests - rep.OperatorAccountAndRolloutRequests) / float64(objectCount(cfg.n))
	rep.ConvergenceAPIMeanMillis = meanMillis(conv1.sub(conv0).writes(), convSec1.sub(convSec0))
	step("convergence: all %d Ready after %.2fs (creating them took %.2fs)", objectCount(cfg.n), converged.Seconds(), rep.CreateSeconds)

	// --- steady state ---
	settle := cfg.interval / 2
	window := time.Duration(cfg.steadyIntervals * float64(cfg.interval))
	step("steady state: settling %s, then measuring for %s (%.1f refresh intervals)", settle, window, cfg.steadyIntervals)
	if err := sleep(ctx, settle); err != nil {
		return err
	}
	sim0, err := admin.counts()
	if err != nil {
		return err
	}
	w0, err := apiWrites(ctx, clientset.RESTClient())
	if err != nil {
		return err
	}
	ev0, hb0 := tracker.updates(), tracker.heartbeats()
	p0, err := readProc(mgr.Pid())
	if err != nil {
		return err
	}
	if err := sleep(ctx, window); err != nil {
		return err
	}
	if mgr.Exited() {
		return fmt.Errorf("the manager exited during the steady window (see %s)", mgr.LogPath)
	}
	p1, err := readProc(mgr.Pid())
	if err != nil {
		return err
	}
	sim1, err := admin.counts()
	if err != nil {
		return err
	}
	w1, err := apiWrites(ctx, clientset.RESTClient())
	if err != nil {
		return err
	}
	ev1, hb1 := tracker.updates(), tracker.heartbeats()
	objectIntervals := float64(objectCount(cfg.n)) * cfg.steadyIntervals
	cloudCalls := (sim1.total(cloudsim.APIWorkspace) + sim1.total(cloudsim.APIDevEnvToken)) -
		(sim0.total(cloudsim.APIWorkspace) + sim0.total(cloudsim.APIDevEnvToken))
	writes := w1.sub(w0)
	rep.SteadyWindowSeconds = window.Seconds()
	rep.SteadyCloudCalls = cloudCalls
	rep.SteadyCloudCallsPerObjectInterval = float64(cloudCalls) / objectIntervals
	rep.SteadyWrites = writes.objectWrites()
	rep.SteadyWritesPerObjectInterval = writes.objectWrites() / objectIntervals
	rep.SteadyWritesByResource = writes.writes()
	rep.SteadyHeartbeatWrites = float64(hb1 - hb0)
	rep.SteadyWritesOtherThanHeartbeats = max(rep.SteadyWrites-rep.SteadyHeartbeatWrites, 0)
	if cloudCalls > 0 {
		rep.SteadyCPUMillisPerSync = 1000 * (p1.cpuSeconds - p0.cpuSeconds) / float64(cloudCalls)
	}
	rep.SteadyWatchEvents = ev1 - ev0
	rep.SteadyCPUSeconds = p1.cpuSeconds - p0.cpuSeconds
	rep.SteadyCPUCoresAvg = rep.SteadyCPUSeconds / window.Seconds()
	rep.SteadyIAMTokenRequests = sim1.total(cloudsim.APIIAMToken) - sim0.total(cloudsim.APIIAMToken)
	rep.ManagerRSSMiBEnd = p1.rssMiB
	rep.PeakRSSMiB = p1.hwmMiB
	rep.IAMTokenRequests = sim1.total(cloudsim.APIIAMToken)
	rep.IAMTokensIssued = sim1.IssuedTokens
	rep.PasswordAccounts = 1
	rep.IAMTokenRequestsPerAccount = float64(rep.IAMTokenRequests) / float64(rep.PasswordAccounts)
	rep.WorkloadIdentityAccounts = 1
	rep.IAMExchanges = sim1.total(cloudsim.APIIAMIDToken)
	rep.IAMExchangesPerWorkloadAccount = float64(rep.IAMExchanges) / float64(rep.WorkloadIdentityAccounts)
	rep.CloudCallsTotal = map[string]int{}
	for api, v := range sim1.APIs {
		rep.CloudCallsTotal[api] = v.Total
	}
	step("steady state: %d cloud calls, %.0f status/Secret writes, %.2f CPU s; peak RSS %.1f MiB",
		cloudCalls, rep.SteadyWrites, rep.SteadyCPUSeconds, rep.PeakRSSMiB)
	mgr.Stop()

	// --- restart, then unrelated Secrets ---
	beats0 := tracker.heartbeats()
	base, err := restartRSS(ctx, cfg, "restart-baseline", kubeconfig, managerArgs, admin, clientset.RESTClient(), rep)
	if err != nil {
		return err
	}
	// At 1 m intervals the 5 m heartbeat can fall due during the restart.
	rep.RestartHeartbeatWrites = float64(tracker.heartbeats() - beats0)
	rep.RestartWritesOtherThanHeartbeats = max(rep.RestartWrites-rep.RestartHeartbeatWrites, 0)
	tracker.stop()
	if cfg.unrelated > 0 {
		step("creating %d unrelated Secrets (%d bytes each, unlabelled) in %s", cfg.unrelated, cfg.unrelatedBytes, benchNS)
		payload := []byte(strings.Repeat("x", cfg.unrelatedBytes))
		if err := parallel(cfg.unrelated, createWorkers, func(i int) error {
			return c.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: benchNS, Name: fmt.Sprintf("unrelated-%06d", i),
					Labels: map[string]string{"app": "someone-else"}},
				Data: map[string][]byte{"data": payload},
			})
		}); err != nil {
			return err
		}
		with, err := restartRSS(ctx, cfg, "restart-unrelated", kubeconfig, managerArgs, admin, clientset.RESTClient(), nil)
		if err != nil {
			return err
		}
		rep.RSSRestartNoneMiB = base
		rep.RSSRestartUnrelatedMiB = with
		rep.RSSGrowthUnrelatedSecretsPct = 100 * (with - base) / base
	}

	rep.print()
	data, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(cfg.out, append(data, '\n'), 0o644); err != nil {
		return err
	}
	step("wrote %s", cfg.out)
	if failed := rep.failedTargets(); len(failed) > 0 {
		return fmt.Errorf("targets missed: %s (the report is written)", strings.Join(failed, ", "))
	}
	return nil
}

// apiRequestsAndSeconds reads the API server's request counts and summed
// durations.
func apiRequestsAndSeconds(ctx context.Context, rc rest.Interface) (writeCounts, writeCounts, error) {
	requests, err := apiWrites(ctx, rc)
	if err != nil {
		return nil, nil, err
	}
	seconds, err := apiSeconds(ctx, rc)
	return requests, seconds, err
}

// waitEmpty waits until ns holds no token, workspace or Secret any more.
func waitEmpty(ctx context.Context, c client.Client, ns string) error {
	for {
		var tokens v1alpha1.DevEnvironmentTokenList
		var workspaces v1alpha1.WorkspaceList
		var secrets corev1.SecretList
		for _, l := range []client.ObjectList{&tokens, &workspaces, &secrets} {
			if err := c.List(ctx, l, client.InNamespace(ns)); err != nil {
				return err
			}
		}
		if len(tokens.Items)+len(workspaces.Items)+len(secrets.Items) == 0 {
			return nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// managerEnv is -manager-env: extra environment for every manager started.
var managerEnv string

// manager is a running bin/manager with its metrics served over plain HTTP
// on loopback, so the bench can count the operator's own API requests.
type manager struct {
	*proc.Process
	metricsURL string
}

func startManager(ctx context.Context, name, kubeconfig string, args []string) (*manager, error) {
	probe, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	metrics, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	all := append([]string{"--health-probe-bind-address", probe, "--metrics-bind-address", metrics, "--metrics-secure=false"}, args...)
	p, err := proc.Start(benchDir, name, managerBinary, append([]string{"KUBECONFIG=" + kubeconfig}, strings.Fields(managerEnv)...), all...)
	if err != nil {
		return nil, err
	}
	if err := proc.WaitHTTP(ctx, "http://"+probe+"/readyz", 60*time.Second, p); err != nil {
		p.Stop()
		return nil, fmt.Errorf("%w (log: %s)", err, p.LogPath)
	}
	return &manager{Process: p, metricsURL: "http://" + metrics + "/metrics"}, nil
}

// apiRequests is the operator's own count of its requests to the API server
// (client-go's rest_client_requests_total, every code and method).
func (m *manager) apiRequests(ctx context.Context) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.metricsURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", m.metricsURL, resp.Status)
	}
	var total float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "rest_client_requests_total{") {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(line[strings.LastIndexByte(line, '}')+1:]), 64); err == nil {
			total += v
		}
	}
	return total, sc.Err()
}

func waitAccountsReady(ctx context.Context, c client.Client, mgr *manager) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		ready := 0
		for _, name := range accounts {
			var a v1alpha1.CloudAccount
			if err := c.Get(ctx, client.ObjectKey{Namespace: benchNS, Name: name}, &a); err != nil {
				return err
			}
			if meta.IsStatusConditionTrue(a.Status.Conditions, v1alpha1.ConditionReady) {
				ready++
			}
		}
		if ready == len(accounts) {
			return nil
		}
		if mgr.Exited() || time.Now().After(deadline) {
			return fmt.Errorf("CloudAccounts not Ready (see %s)", mgr.LogPath)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// restartRSS starts a fresh manager on the converged objects, waits until it
// has read every object from the cloud once and one more refresh interval
// has passed, and returns its peak RSS (VmHWM) in MiB.
func restartRSS(ctx context.Context, cfg config, name, kubeconfig string, args []string, admin simAdmin, rc rest.Interface, rep *report) (float64, error) {
	step("%s: starting a fresh manager", name)
	before, err := admin.counts()
	if err != nil {
		return 0, err
	}
	w0, err := apiWrites(ctx, rc)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	mgr, err := startManager(ctx, name, kubeconfig, args)
	if err != nil {
		return 0, err
	}
	defer mgr.Stop()
	deadline := time.Now().Add(cfg.timeout)
	// Cloud calls per second since the process started: a restart must not
	// read every object at once.
	var (
		perSecond []int
		resynced  time.Duration
		last      int
	)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		now, err := admin.counts()
		if err != nil {
			return 0, err
		}
		calls := now.total(cloudsim.APIWorkspace) + now.total(cloudsim.APIDevEnvToken) -
			before.total(cloudsim.APIWorkspace) - before.total(cloudsim.APIDevEnvToken)
		if len(perSecond) < 60 {
			perSecond = append(perSecond, calls-last)
			last = calls
		}
		if resynced == 0 && calls >= objectCount(cfg.n) {
			resynced = time.Since(start)
		}
		if resynced > 0 && (rep == nil || len(perSecond) >= 60) {
			break
		}
		if mgr.Exited() || time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: only %d of %d objects read after %s (see %s)", name, calls, objectCount(cfg.n), time.Since(start), mgr.LogPath)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
	if err := sleep(ctx, cfg.interval); err != nil {
		return 0, err
	}
	if rep != nil {
		rep.RestartCallsPerSecond = perSecond
		rep.RestartCallsFirstMinute, rep.RestartPeakCallsPerSecond = 0, 0
		for _, n := range perSecond {
			rep.RestartCallsFirstMinute += n
			rep.RestartPeakCallsPerSecond = max(rep.RestartPeakCallsPerSecond, n)
		}
		rep.SteadyCallsPerSecond = float64(objectCount(cfg.n)) / cfg.interval.Seconds()
	}
	st, err := readProc(mgr.Pid())
	if err != nil {
		return 0, err
	}
	if rep != nil {
		w1, err := apiWrites(ctx, rc)
		if err != nil {
			return 0, err
		}
		rep.RestartResyncSeconds = resynced.Seconds()
		rep.RestartWrites = w1.sub(w0).objectWrites()
	}
	step("%s: every object re-read after %.2fs; peak RSS %.1f MiB", name, resynced.Seconds(), st.hwmMiB)
	return st.hwmMiB, nil
}

// tracker watches the bench namespace: when each object turned Ready, and how
// many changes the objects and the operator's Secrets saw.
type tracker struct {
	cancel  context.CancelFunc
	want    int
	mu      sync.Mutex
	readyAt map[string]time.Time
	last    time.Time
	done    chan struct{}
	events  atomic.Int64
	// beats are object updates that moved only the sync-time heartbeat.
	beats atomic.Int64
}

func startTracker(ctx context.Context, cfg *rest.Config, scheme *kruntime.Scheme, want int) (*tracker, error) {
	ctx, cancel := context.WithCancel(ctx)
	ca, err := cache.New(cfg, cache.Options{
		Scheme:            scheme,
		DefaultNamespaces: map[string]cache.Config{benchNS: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.SelectorFromSet(labels.Set{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue})},
		},
	})
	if err != nil {
		cancel()
		return nil, err
	}
	t := &tracker{cancel: cancel, want: want, readyAt: map[string]time.Time{}, done: make(chan struct{})}
	for _, o := range []client.Object{&v1alpha1.DevEnvironmentToken{}, &v1alpha1.Workspace{}, &corev1.Secret{}} {
		inf, err := ca.GetInformer(ctx, o)
		if err != nil {
			cancel()
			return nil, err
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc: t.observe,
			UpdateFunc: func(oldObj, newObj any) {
				if oldObj.(client.Object).GetResourceVersion() != newObj.(client.Object).GetResourceVersion() {
					t.events.Add(1)
					if heartbeatOnly(oldObj, newObj) {
						t.beats.Add(1)
					}
				}
				t.observe(newObj)
			},
		}); err != nil {
			cancel()
			return nil, err
		}
	}
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		cancel()
		return nil, fmt.Errorf("bench watch cache did not sync")
	}
	return t, nil
}

func (t *tracker) observe(obj any) {
	m, ok := obj.(v1alpha1.Mirrored)
	if !ok {
		return
	}
	if !meta.IsStatusConditionTrue(m.Sync().Conditions, v1alpha1.ConditionReady) {
		return
	}
	key := fmt.Sprintf("%T/%s", obj, m.GetName())
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, seen := t.readyAt[key]; seen {
		return
	}
	t.readyAt[key] = now
	t.last = now
	if len(t.readyAt) == t.want {
		close(t.done)
	}
}

// lastReadyOf is when the last object whose key has prefix turned Ready.
func (t *tracker) lastReadyOf(prefix string) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	var last time.Time
	for k, at := range t.readyAt {
		if strings.HasPrefix(k, prefix) && at.After(last) {
			last = at
		}
	}
	return last
}

func (t *tracker) updates() int64 { return t.events.Load() }

func (t *tracker) heartbeats() int64 { return t.beats.Load() }

// heartbeatOnly says whether an object's update changed nothing but the
// heartbeat (lastSyncTime, lastSuccessfulSyncTime), so that steady-state
// writes are counted apart from heartbeats.
func heartbeatOnly(oldObj, newObj any) bool {
	o, ok1 := oldObj.(v1alpha1.Mirrored)
	n, ok2 := newObj.(v1alpha1.Mirrored)
	if !ok1 || !ok2 {
		return false
	}
	strip := func(m v1alpha1.Mirrored) v1alpha1.Mirrored {
		m = m.DeepCopyObject().(v1alpha1.Mirrored)
		m.SetResourceVersion("")
		m.SetManagedFields(nil)
		m.Sync().LastSyncTime, m.Sync().LastSuccessfulSyncTime = nil, nil
		return m
	}
	return equality.Semantic.DeepEqual(strip(o), strip(n))
}

func (t *tracker) lastReady() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

func (t *tracker) waitAllReady(ctx context.Context, timeout time.Duration, mgr *manager, start time.Time) error {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	deadline := time.After(timeout)
	for {
		select {
		case <-t.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			t.mu.Lock()
			n := len(t.readyAt)
			t.mu.Unlock()
			return fmt.Errorf("only %d of %d objects Ready after %s (see %s)", n, t.want, timeout, mgr.LogPath)
		case <-tick.C:
			if mgr.Exited() {
				return fmt.Errorf("the manager exited (see %s)", mgr.LogPath)
			}
			t.mu.Lock()
			n := len(t.readyAt)
			t.mu.Unlock()
			step("convergence: %d/%d Ready after %.0fs", n, t.want, time.Since(start).Seconds())
		}
	}
}

func (t *tracker) stop() { t.cancel() }

// machine describes where the numbers come from.
func machine() map[string]string {
	m := map[string]string{"cpus": fmt.Sprint(runtime.NumCPU()), "go": runtime.Version(), "os": runtime.GOOS + "/" + runtime.GOARCH}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu_model"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				m["memory"] = strings.Join(strings.Fields(strings.TrimPrefix(line, "MemTotal:")), " ")
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(data))
	}
	return m
}
