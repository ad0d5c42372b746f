// Package e2e runs the operator's managers in-process against one envtest
// control plane and the cloud simulator, to test what a single manager
// cannot show: a restart in the middle of converging many objects, and
// failover between two managers with leader election. Each manager runs as
// its own user, bound to the RBAC in config/rbac, so these tests also prove
// that the generated role is sufficient.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
	"github.com/cloudmirror-io/modelarts-operator/internal/controller"
	"github.com/cloudmirror-io/modelarts-operator/internal/testutil"
)

const (
	// managerNamespace holds the leader-election Lease, as in a real install.
	managerNamespace = "modelarts-operator-system"
	leaderElectionID = "modelarts-operator.cloudmirror.io"
	// Short leader-election timings keep failover tests quick.
	leaseDuration = 4 * time.Second
	renewDeadline = 3 * time.Second
	retryPeriod   = 500 * time.Millisecond
)

var (
	testEnv   *envtest.Environment
	adminCfg  *rest.Config
	k8s       client.Client
	scheme    = runtime.NewScheme()
	sim       *cloudsim.Server
	simServer *httptest.Server
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// managerLogs collects every manager's log at debug level, to be scanned
// for secret values once the tests have run.
var managerLogs testutil.LogBuffer

// scanLogs fails the run if a manager logged nothing (the scan would prove
// nothing) or logged a credential or token the simulator holds. It names the
// value's kind, never the value.
func scanLogs() error {
	logs := managerLogs.String()
	if logs == "" {
		return fmt.Errorf("the managers logged nothing, so the leak scan proves nothing")
	}
	secrets := map[string]string{
		"secret key": cloudsim.DefaultSecretKey, "password": cloudsim.DefaultPassword,
		"dev-environment token": cloudsim.DefaultDevEnvToken, "credential secret key": cloudsim.DefaultCredentialSK,
		"ROMA app key": cloudsim.DefaultRomaAppKey,
	}
	for what, value := range secrets {
		if strings.Contains(logs, value) {
			return fmt.Errorf("a manager logged the %s", what)
		}
	}
	return nil
}

func run(m *testing.M) (code int) {
	logf.SetLogger(zap.New(zap.WriteTo(&managerLogs), zap.Level(zapcore.DebugLevel)))
	defer func() {
		if err := scanLogs(); err != nil && code == 0 {
			fmt.Fprintln(os.Stderr, "leak scan:", err)
			code = 1
		}
	}()
	must(clientgoscheme.AddToScheme(scheme))
	must(v1alpha1.AddToScheme(scheme))
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		testEnv.BinaryAssetsDirectory = filepath.Join("..", "..", "bin", "k8s")
	}
	var err error
	adminCfg, err = testEnv.Start()
	must(err)
	defer func() { _ = testEnv.Stop() }()
	adminCfg.QPS, adminCfg.Burst = 1000, 2000
	k8s, err = client.New(adminCfg, client.Options{Scheme: scheme})
	must(err)
	must(installRBAC())

	sim = cloudsim.New(cloudsim.DefaultFixture())
	simServer = httptest.NewServer(sim)
	defer func() { sim.Close(); simServer.Close() }()
	return m.Run()
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// installRBAC creates the manager's ClusterRole and leader-election Role
// from config/rbac, as the installer does.
func installRBAC() error {
	ctx := context.Background()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: managerNamespace}}); err != nil {
		return err
	}
	var role rbacv1.ClusterRole
	if err := readYAML(filepath.Join("..", "..", "config", "rbac", "role.yaml"), &role); err != nil {
		return err
	}
	if err := k8s.Create(ctx, &role); err != nil {
		return err
	}
	var le rbacv1.Role
	if err := readYAML(filepath.Join("..", "..", "config", "rbac", "leader_election_role.yaml"), &le); err != nil {
		return err
	}
	le.Namespace = managerNamespace
	return k8s.Create(ctx, &le)
}

func readYAML(path string, into any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(raw, into)
}

// managerUser adds an envtest user bound to exactly the manager's roles.
func managerUser(t *testing.T, name string) *rest.Config {
	t.Helper()
	ctx := context.Background()
	user, err := testEnv.AddUser(envtest.User{Name: name}, adminCfg)
	if err != nil {
		t.Fatal(err)
	}
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}}
	if err := k8s.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subject,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "manager-role"}}); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: managerNamespace, Name: name}, Subjects: subject,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "leader-election-role"}}); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(user.Config())
	cfg.QPS, cfg.Burst = 1000, 2000
	return cfg
}

// runningManager is one in-process operator.
type runningManager struct {
	name    string
	mgr     ctrl.Manager
	cancel  context.CancelFunc
	done    chan struct{}
	err     error
	writes  atomic.Int64 // mutating API requests other than the Lease and Events
	events  atomic.Int64 // Events recorded (asynchronously, so counted apart)
	stopped atomic.Bool
	// leaseCut makes every Lease request fail, as a partition between the
	// manager and the API server would, while other requests still pass.
	leaseCut atomic.Bool
}

type managerOptions struct {
	leaderElection bool
	releaseOnStop  bool
}

// startManager runs the operator as user name (its UserAgent too, which is
// the field manager of everything it writes).
func startManager(t *testing.T, name string, o managerOptions) *runningManager {
	t.Helper()
	rm := &runningManager{name: name, done: make(chan struct{})}
	cfg := managerUser(t, name)
	cfg.UserAgent = name
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			lease := strings.Contains(req.URL.Path, "/leases")
			if lease && rm.leaseCut.Load() {
				return nil, errors.New("the Lease is out of reach (test partition)")
			}
			switch {
			case req.Method == http.MethodGet || lease:
			case strings.HasSuffix(req.URL.Path, "/events") || strings.Contains(req.URL.Path, "/events/"):
				rm.events.Add(1)
			default:
				rm.writes.Add(1)
			}
			return rt.RoundTrip(req)
		})
	})
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		LeaderElection:                o.leaderElection,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionNamespace:       managerNamespace,
		LeaderElectionReleaseOnCancel: o.releaseOnStop,
		LeaseDuration:                 ptr.To(leaseDuration),
		RenewDeadline:                 ptr.To(renewDeadline),
		RetryPeriod:                   ptr.To(retryPeriod),
		// Several managers in one process register the same controller names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:      controller.CacheOptions(),
	})
	if err != nil {
		t.Fatal(err)
	}
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pool := cloudclient.NewPool(cloudclient.Options{HTTPTimeout: 3 * time.Second})
	if err := controller.SetupWithManager(mgr, clientset, controller.Options{
		Pool: pool, StatusHeartbeat: 5 * time.Minute, MaxConcurrentReconciles: 8,
	}); err != nil {
		t.Fatal(err)
	}
	rm.mgr = mgr
	ctx, cancel := context.WithCancel(context.Background())
	rm.cancel = cancel
	go func() {
		defer close(rm.done)
		rm.err = mgr.Start(ctx)
	}()
	t.Cleanup(rm.stop)
	return rm
}

// stop cancels the manager and waits for it to return.
func (rm *runningManager) stop() {
	if rm.stopped.Swap(true) {
		return
	}
	rm.cancel()
	select {
	case <-rm.done:
	case <-time.After(30 * time.Second):
		panic(fmt.Sprintf("manager %s did not stop within 30s", rm.name))
	}
}

// exited says whether the manager has returned from Start by itself or by stop.
func (rm *runningManager) exited() bool {
	select {
	case <-rm.done:
		return true
	default:
		return false
	}
}

func (rm *runningManager) elected() bool {
	select {
	case <-rm.mgr.Elected():
		return true
	default:
		return false
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// newNamespace creates a namespace with a Ready-able AK/SK account "acct"
// (client-side budget raised so hundreds of objects do not queue on it).
func newNamespace(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "creds"}, Data: map[string][]byte{
		v1alpha1.CredentialAccessKey: []byte(cloudsim.DefaultAccessKey),
		v1alpha1.CredentialSecretKey: []byte(cloudsim.DefaultSecretKey),
	}}); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, &v1alpha1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "acct"},
		Spec: v1alpha1.CloudAccountSpec{
			CloudConnection: v1alpha1.CloudConnection{
				Region: "cn-north-4", ProjectID: cloudsim.DefaultProjectID,
				Endpoints:         &v1alpha1.CloudEndpoints{IAM: simServer.URL, ModelArts: simServer.URL, ROMA: simServer.URL},
				AllowInsecureHTTP: true,
				RequestsPerSecond: ptr.To[int32](5000), Burst: ptr.To[int32](5000),
			},
			CredentialsSecretRef: &v1alpha1.LocalObjectReference{Name: "creds"},
		},
	}); err != nil {
		t.Fatal(err)
	}
}

// createTokens creates n DevEnvironmentTokens tok-000… in ns, in parallel.
func createTokens(t *testing.T, ns string, n int) []string {
	t.Helper()
	names := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		names[i] = fmt.Sprintf("tok-%03d", i)
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- k8s.Create(context.Background(), &v1alpha1.DevEnvironmentToken{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: v1alpha1.DevEnvironmentTokenSpec{
					MirrorSpec: v1alpha1.MirrorSpec{AccountRef: v1alpha1.AccountReference{Name: "acct"}},
					InstanceID: cloudsim.DefaultDevEnvInstance,
				},
			})
		}(names[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// readyTokens counts the DevEnvironmentTokens in ns that are Ready and Synced.
func readyTokens(t *testing.T, ns string) int {
	t.Helper()
	var list v1alpha1.DevEnvironmentTokenList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range list.Items {
		if readyAndSynced(o.Status.Conditions) {
			n++
		}
	}
	return n
}

// readyAndSynced says whether conditions report the object Ready and Synced.
func readyAndSynced(conds []metav1.Condition) bool {
	return meta.IsStatusConditionTrue(conds, v1alpha1.ConditionReady) && meta.IsStatusConditionTrue(conds, v1alpha1.ConditionSynced)
}

// managedSecrets counts the operator's Secrets in ns holding a token.
func managedSecrets(t *testing.T, ns string) int {
	t.Helper()
	var list corev1.SecretList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns),
		client.MatchingLabels{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range list.Items {
		if len(s.Data["token"]) > 0 {
			n++
		}
	}
	return n
}

// eventually polls cond every 100ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
