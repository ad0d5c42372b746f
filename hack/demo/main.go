// Command demo runs the whole product on an embedded default: a local control
// plane (the kube-apiserver and etcd the tests use), the cloud simulator and
// the operator, as separate processes; applies config/samples; waits until
// every object is Ready; and prints what a user would look at.
//
// Run it with `make demo`. DEMO_HOLD=1 keeps everything running until Ctrl-C;
// DEMO_TIMEOUT (default 2m) bounds the wait for Ready.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/hack/internal/proc"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

const (
	namespace   = "demo"
	demoDir     = "bin/demo"
	simAddr     = "127.0.0.1:8443" // config/samples point their endpoints here
	simAdmin    = "127.0.0.1:8444"
	probeAddr   = "127.0.0.1:18081"
	metricsAddr = "127.0.0.1:18080"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "\n[demo] FAILED: %v\n", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("[demo] "+format+"\n", args...) }

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(demoDir, 0o755); err != nil {
		return err
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join("bin", "k8s")
	}
	kubectl := filepath.Join(assets, "kubectl")

	step("1/8 starting the control plane (kube-apiserver + etcd from %s) and installing the CRDs", assets)
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	defer func() {
		step("stopping the control plane")
		_ = env.Stop()
	}()
	user, err := env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		return err
	}
	kubeconfigBytes, err := user.KubeConfig()
	if err != nil {
		return err
	}
	kubeconfig, _ := filepath.Abs(filepath.Join(demoDir, "kubeconfig"))
	if err := os.WriteFile(kubeconfig, kubeconfigBytes, 0o600); err != nil {
		return err
	}

	step("2/8 starting the cloud simulator on http://%s (admin http://%s), trusting this control plane's ServiceAccount tokens", simAddr, simAdmin)
	fixture, jwks, err := trustControlPlane(ctx, cfg)
	if err != nil {
		return err
	}
	sim, err := proc.Start(demoDir, "cloudsim", filepath.Join("bin", "cloudsim"), nil,
		"--listen", simAddr, "--admin-listen", simAdmin, "--fixture", fixture, "--jwks-file", jwks)
	if err != nil {
		return err
	}
	defer sim.Stop()
	if err := proc.WaitHTTP(ctx, "http://"+simAdmin+"/admin/healthz", 20*time.Second, sim); err != nil {
		return fmt.Errorf("cloud simulator did not come up: %w (log: %s)", err, sim.LogPath)
	}

	step("3/8 starting the operator (bin/manager, logs in %s/manager.log)", demoDir)
	mgr, err := proc.Start(demoDir, "manager", filepath.Join("bin", "manager"), []string{"KUBECONFIG=" + kubeconfig},
		"--health-probe-bind-address", probeAddr, "--metrics-bind-address", metricsAddr, "--metrics-secure=false")
	if err != nil {
		return err
	}
	defer mgr.Stop()
	if err := proc.WaitHTTP(ctx, "http://"+probeAddr+"/readyz", 60*time.Second, mgr); err != nil {
		return fmt.Errorf("operator did not become ready: %w (log: %s)", err, mgr.LogPath)
	}

	step("4/8 applying config/samples to namespace %q", namespace)
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	for _, o := range []client.Object{
		// The label lets the sample ClusterCloudAccount "shared" serve this namespace.
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{"modelarts.cloudmirror.io/account": "shared"}}},
		// envtest runs no controller-manager, which would create it.
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "default"}},
	} {
		if err := c.Create(ctx, o); err != nil {
			return err
		}
	}
	kc := func(args ...string) error {
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd.Run()
	}
	if err := kc("apply", "-n", namespace, "-k", filepath.Join("config", "samples")); err != nil {
		return fmt.Errorf("kubectl apply -k config/samples: %w", err)
	}
	for _, f := range []string{"pod_mounting_token.yaml", "deployment_reload.yaml"} {
		if err := kc("apply", "-n", namespace, "-f", filepath.Join("config", "samples", f)); err != nil {
			return fmt.Errorf("kubectl apply config/samples/%s: %w", f, err)
		}
	}

	timeout := 2 * time.Minute
	if v := os.Getenv("DEMO_TIMEOUT"); v != "" {
		if timeout, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("DEMO_TIMEOUT: %w", err)
		}
	}
	step("5/8 waiting up to %s for every object to be Ready", timeout)
	if err := waitReady(ctx, c, timeout); err != nil {
		return err
	}

	step("6/8 kubectl get modelarts -o wide")
	if err := kc("get", "modelarts", "-n", namespace, "-o", "wide"); err != nil {
		return err
	}
	fmt.Println()
	if err := printConditions(ctx, c); err != nil {
		return err
	}

	step("7/8 the operator's Secrets (keys only; values stay secret)")
	if err := printSecretKeys(ctx, c); err != nil {
		return err
	}

	step("8/8 rotating the dev-environment token: the templated Secret follows and the Deployment that opted in rolls")
	if err := showRollout(ctx, c, timeout); err != nil {
		return err
	}

	fmt.Printf("\n[demo] explore further:\n  kubectl --kubeconfig %s -n %s get modelarts -o wide\n", kubeconfig, namespace)
	fmt.Printf("[demo] simulator admin API (faults, token rotation): http://%s/admin/requests\n", simAdmin)
	if os.Getenv("DEMO_HOLD") == "1" {
		step("DEMO_HOLD=1: running until Ctrl-C")
		<-ctx.Done()
	}
	step("all objects Ready; stopping everything the demo started")
	return nil
}

// demoObjects lists every object of the operator's kinds in the namespace.
func demoObjects(ctx context.Context, c client.Client) ([]client.Object, error) {
	lists := []client.ObjectList{&v1alpha1.CloudAccountList{}, &v1alpha1.WorkspaceList{}, &v1alpha1.AuthorizationSetList{},
		&v1alpha1.ServiceAppAuthList{}, &v1alpha1.RomaAppList{}, &v1alpha1.DevEnvironmentTokenList{}}
	var out []client.Object
	for _, l := range append(lists, &v1alpha1.ClusterCloudAccountList{}) {
		if err := c.List(ctx, l, client.InNamespace(namespace)); err != nil {
			return nil, err
		}
		items, err := meta.ExtractList(l)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			out = append(out, it.(client.Object))
		}
	}
	return out, nil
}

// conditionsOf returns o's conditions in a stable order: Ready, Synced, then
// the rest by type.
func conditionsOf(o client.Object) []metav1.Condition {
	var conds []metav1.Condition
	if a, ok := o.(*v1alpha1.CloudAccount); ok {
		conds = append(conds, a.Status.Conditions...)
	} else if a, ok := o.(*v1alpha1.ClusterCloudAccount); ok {
		conds = append(conds, a.Status.Conditions...)
	} else {
		conds = append(conds, o.(v1alpha1.Mirrored).Sync().Conditions...)
	}
	rank := func(t string) string {
		switch t {
		case v1alpha1.ConditionReady:
			return "0"
		case v1alpha1.ConditionSynced:
			return "1"
		}
		return "2" + t
	}
	sort.Slice(conds, func(i, j int) bool { return rank(conds[i].Type) < rank(conds[j].Type) })
	return conds
}

func label(o client.Object) string {
	kind := fmt.Sprintf("%T", o)
	return kind[strings.LastIndex(kind, ".")+1:] + "/" + o.GetName()
}

func waitReady(ctx context.Context, c client.Client, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		objs, err := demoObjects(ctx, c)
		if err != nil {
			return err
		}
		var notReady []client.Object
		for _, o := range objs {
			if !meta.IsStatusConditionTrue(conditionsOf(o), v1alpha1.ConditionReady) {
				notReady = append(notReady, o)
			}
		}
		// Four CloudAccounts (AK/SK, password, workload identity, instance
		// metadata), a ClusterCloudAccount and nine mirrored objects.
		if len(objs) >= 14 && len(notReady) == 0 {
			step("all %d objects are Ready", len(objs))
			return nil
		}
		if time.Now().After(deadline) {
			fmt.Println("[demo] objects not Ready:")
			for _, o := range notReady {
				fmt.Printf("  %s\n", label(o))
				for _, cond := range conditionsOf(o) {
					fmt.Printf("    %s=%s reason=%s: %s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
				}
			}
			return fmt.Errorf("%d of %d objects not Ready after %s (operator log: %s/manager.log)", len(notReady), len(objs), timeout, demoDir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func printConditions(ctx context.Context, c client.Client) error {
	objs, err := demoObjects(ctx, c)
	if err != nil {
		return err
	}
	fmt.Println("[demo] conditions:")
	for _, o := range objs {
		var parts []string
		for _, cond := range conditionsOf(o) {
			parts = append(parts, fmt.Sprintf("%s=%s (%s)", cond.Type, cond.Status, cond.Reason))
		}
		fmt.Printf("  %-45s %s\n", label(o), strings.Join(parts, "  "))
	}
	return nil
}

func printSecretKeys(ctx context.Context, c client.Client) error {
	var secrets corev1.SecretList
	if err := c.List(ctx, &secrets, client.InNamespace(namespace),
		client.MatchingLabels{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue}); err != nil {
		return err
	}
	if len(secrets.Items) == 0 {
		return errors.New("the operator wrote no Secrets")
	}
	for _, s := range secrets.Items {
		keys := make([]string, 0, len(s.Data))
		for k := range s.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		owner := "-"
		if ref := metav1.GetControllerOf(&s); ref != nil {
			owner = ref.Kind + "/" + ref.Name
		}
		fmt.Printf("  Secret %-24s owner %-36s type %-8s keys: %s\n", s.Name, owner, s.Type, strings.Join(keys, ", "))
	}
	return nil
}

// showRollout rotates the token in the simulator, asks for a sync now, and
// waits until the Deployment listing notebook-env in reload-secrets carries a
// new secrets-digest on its pod template (no kubelet here: the annotation is
// what starts a rolling restart in a real cluster).
func showRollout(ctx context.Context, c client.Client, timeout time.Duration) error {
	digestOf := func() (string, error) {
		var d appsv1.Deployment
		err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "notebook-client"}, &d)
		return d.Spec.Template.Annotations[v1alpha1.AnnotationSecretsDigest], err
	}
	before, err := digestOf()
	if err != nil {
		return err
	}
	url := fmt.Sprintf("http://%s/admin/devenv/%s/%s/rotate", simAdmin, cloudsim.DefaultProjectID, cloudsim.DefaultDevEnvInstance)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("rotating the token: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("rotating the token: HTTP %d", resp.StatusCode)
	}
	var tok v1alpha1.DevEnvironmentToken
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "notebook-env"}, &tok); err != nil {
		return err
	}
	patch := client.MergeFrom(tok.DeepCopy())
	metav1.SetMetaDataAnnotation(&tok.ObjectMeta, v1alpha1.AnnotationSyncNow, time.Now().Format(time.RFC3339))
	if err := c.Patch(ctx, &tok, patch); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		after, err := digestOf()
		if err != nil {
			return err
		}
		if after != "" && after != before {
			step("Deployment/notebook-client pod template: %s=%s", v1alpha1.AnnotationSecretsDigest, after)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the Deployment notebook-client was not rolled within %s after the token rotated (operator log: %s/manager.log)", timeout, demoDir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// trustControlPlane writes the simulator's fixture, with an IAM identity
// provider for the control plane's ServiceAccount issuer that maps
// demo/modelarts-demo to the project, and the issuer's public keys
// (/openid/v1/jwks), as a real IAM would be configured for a CCE cluster.
func trustControlPlane(ctx context.Context, cfg *rest.Config) (fixturePath, jwksPath string, err error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", "", err
	}
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/.well-known/openid-configuration").DoRaw(ctx)
	if err != nil {
		return "", "", fmt.Errorf("OpenID discovery: %w", err)
	}
	var disco struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(raw, &disco); err != nil {
		return "", "", err
	}
	jwks, err := cs.CoreV1().RESTClient().Get().AbsPath("/openid/v1/jwks").DoRaw(ctx)
	if err != nil {
		return "", "", fmt.Errorf("reading /openid/v1/jwks: %w", err)
	}
	jwksPath = filepath.Join(demoDir, "jwks.json")
	if err := os.WriteFile(jwksPath, jwks, 0o644); err != nil {
		return "", "", err
	}
	f := cloudsim.DefaultFixture()
	f.IdentityProviders = []cloudsim.IdentityProvider{{ID: "demo-cce-oidc", Issuer: disco.Issuer, ClientID: "sts.demo.example",
		Subjects: map[string][]string{"system:serviceaccount:" + namespace + ":modelarts-demo": {cloudsim.DefaultProjectID}}}}
	fixturePath = filepath.Join(demoDir, "fixture.json")
	return fixturePath, jwksPath, f.Save(fixturePath)
}
