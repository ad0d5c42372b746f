// Package chart checks the Helm chart against config/, so the two install
// paths never drift: `helm lint`, and `helm template` compared object by object
// with `kustomize build config/default` (what dist/install.yaml holds).
package chart

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/cloudmirror-io/modelarts-operator/internal/testutil"
)

const (
	chartDir  = "../../charts/modelarts-operator"
	release   = "modelarts-operator"
	namespace = "modelarts-operator-system"
)

// tool finds a binary the Makefile installs into bin/ (make helm, make kustomize).
func tool(t *testing.T, env, name string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		path, _ = filepath.Abs(filepath.Join("..", "..", "bin", name))
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s not found at %s: run `make %s` (make test does)", name, path, name)
	}
	return path
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

func decode(t *testing.T, raw []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testutil.DecodeObjects(raw)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func helmTemplate(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	base := []string{"template", release, chartDir, "--namespace", namespace, "--include-crds"}
	return decode(t, run(t, tool(t, "HELM", "helm"), append(base, args...)...))
}

func key(o *unstructured.Unstructured) string { return o.GetKind() + "/" + o.GetName() }

func index(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	m := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		m[key(o)] = o
	}
	return m
}

func field(t *testing.T, o *unstructured.Unstructured, path ...string) any {
	t.Helper()
	v, found, err := unstructured.NestedFieldNoCopy(o.Object, path...)
	if err != nil || !found {
		t.Fatalf("%s has no %s", key(o), strings.Join(path, "."))
	}
	return v
}

func TestLint(t *testing.T) {
	run(t, tool(t, "HELM", "helm"), "lint", "--strict", chartDir)
}

// TestRendersWhatConfigHolds: with its defaults, the chart installs the same
// CRDs, RBAC, Service and hardened Deployment as kustomize build config/default.
func TestRendersWhatConfigHolds(t *testing.T) {
	kustomized := index(decode(t, run(t, tool(t, "KUSTOMIZE", "kustomize"), "build", "../../config/default")))
	rendered := index(helmTemplate(t))

	for k, want := range kustomized {
		if want.GetKind() == "Namespace" {
			continue // helm installs into a namespace the user creates (--create-namespace)
		}
		got, ok := rendered[k]
		if !ok {
			t.Errorf("the chart renders no %s", k)
			continue
		}
		var paths [][]string
		switch want.GetKind() {
		case "CustomResourceDefinition":
			paths = [][]string{{"spec"}}
		case "ClusterRole", "Role":
			paths = [][]string{{"rules"}}
		case "ClusterRoleBinding", "RoleBinding":
			paths = [][]string{{"roleRef"}, {"subjects"}}
		case "Service":
			paths = [][]string{{"spec", "ports"}}
		case "ServiceAccount":
			if got.GetNamespace() != want.GetNamespace() {
				t.Errorf("%s: namespace %q, want %q", k, got.GetNamespace(), want.GetNamespace())
			}
		case "Deployment":
			compareDeployments(t, want, got)
		default:
			t.Errorf("%s: no comparison for kind %s; add one", k, want.GetKind())
		}
		for _, p := range paths {
			if w, g := field(t, want, p...), field(t, got, p...); !equality.Semantic.DeepEqual(normalize(t, w), normalize(t, g)) {
				t.Errorf("%s: %s differs between config/ and the chart\nconfig: %v\nchart:  %v", k, strings.Join(p, "."), w, g)
			}
		}
	}
	for k := range rendered {
		if _, ok := kustomized[k]; !ok {
			t.Errorf("the chart renders %s, which config/default does not", k)
		}
	}
}

// normalize makes port numbers comparable (kustomize keeps YAML ints, helm may not).
func normalize(t *testing.T, v any) any {
	t.Helper()
	raw, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := yaml.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func container(t *testing.T, d *unstructured.Unstructured) map[string]any {
	t.Helper()
	cs := field(t, d, "spec", "template", "spec", "containers").([]any)
	if len(cs) != 1 {
		t.Fatalf("%s has %d containers, want 1", key(d), len(cs))
	}
	return cs[0].(map[string]any)
}

func compareDeployments(t *testing.T, want, got *unstructured.Unstructured) {
	for _, p := range [][]string{
		{"spec", "replicas"},
		{"spec", "template", "spec", "securityContext"},
		{"spec", "template", "spec", "serviceAccountName"},
		{"spec", "template", "spec", "terminationGracePeriodSeconds"},
		{"spec", "template", "metadata", "annotations"},
	} {
		if w, g := field(t, want, p...), field(t, got, p...); !equality.Semantic.DeepEqual(normalize(t, w), normalize(t, g)) {
			t.Errorf("Deployment %s differs: config %v, chart %v", strings.Join(p, "."), w, g)
		}
	}
	wc, gc := container(t, want), container(t, got)
	for _, k := range []string{"name", "command", "securityContext", "livenessProbe", "readinessProbe", "resources", "ports"} {
		if !equality.Semantic.DeepEqual(normalize(t, wc[k]), normalize(t, gc[k])) {
			t.Errorf("manager container %s differs: config %v, chart %v", k, wc[k], gc[k])
		}
	}
	gotArgs := gc["args"].([]any)
	for _, a := range wc["args"].([]any) {
		if !slices.Contains(gotArgs, a) {
			t.Errorf("the chart's manager lacks argument %v that config/manager passes", a)
		}
	}
	selector := field(t, got, "spec", "selector", "matchLabels").(map[string]any)
	for k, v := range field(t, want, "spec", "selector", "matchLabels").(map[string]any) {
		if selector[k] != v {
			t.Errorf("the chart's selector lacks %s=%v", k, v)
		}
	}
}

// TestEveryManagerFlagHasAValue: each flag bin/manager takes is rendered from
// values (zap's other logging flags go through manager.extraArgs).
func TestEveryManagerFlagHasAValue(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "manager")
	run(t, "go", "build", "-o", bin, "../../cmd")
	var help bytes.Buffer
	cmd := exec.Command(bin, "--help")
	cmd.Stdout, cmd.Stderr = &help, &help
	_ = cmd.Run() // --help exits non-zero
	flags := regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)`).FindAllStringSubmatch(help.String(), -1)
	if len(flags) < 10 {
		t.Fatalf("found only %d flags in bin/manager --help:\n%s", len(flags), help.String())
	}
	args := fmt.Sprint(container(t, index(helmTemplate(t))["Deployment/modelarts-operator-controller-manager"])["args"])
	for _, f := range flags {
		name := f[1]
		if name == "kubeconfig" || (strings.HasPrefix(name, "zap-") && name != "zap-log-level") {
			continue
		}
		if !strings.Contains(args, "--"+name) {
			t.Errorf("flag --%s has no value in the chart (values.yaml manager.*)", name)
		}
	}
}

func TestValuesReachTheManager(t *testing.T) {
	objs := index(helmTemplate(t, "--set", "manager.maxConcurrentReconciles=7", "--set", "manager.leaderElect=false",
		"--set", "replicaCount=3", "--set", "image.tag=v9", "--set", "manager.extraArgs={--zap-devel}"))
	d := objs["Deployment/modelarts-operator-controller-manager"]
	c := container(t, d)
	args := fmt.Sprint(c["args"])
	for _, want := range []string{"--max-concurrent-reconciles=7", "--zap-devel"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %s lack %s", args, want)
		}
	}
	if strings.Contains(args, "--leader-elect") {
		t.Errorf("args %s still elect a leader", args)
	}
	if c["image"] != "ghcr.io/cloudmirror-io/modelarts-operator:v9" {
		t.Errorf("image %v", c["image"])
	}
	if r := field(t, d, "spec", "replicas"); fmt.Sprint(r) != "3" {
		t.Errorf("replicas %v", r)
	}
}

// TestOptionalMonitoring: ServiceMonitor, PrometheusRule (the alerts of
// files/alerts.yaml) and the metrics-reader binding render when enabled.
func TestOptionalMonitoring(t *testing.T) {
	if objs := index(helmTemplate(t)); objs["ServiceMonitor/modelarts-operator-controller-manager"] != nil || objs["PrometheusRule/modelarts-operator-alerts"] != nil {
		t.Fatal("monitoring objects render by default")
	}
	objs := index(helmTemplate(t, "--set", "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true",
		"--set", "serviceMonitor.readers[0].name=prometheus", "--set", "serviceMonitor.readers[0].namespace=monitoring"))
	sm := objs["ServiceMonitor/modelarts-operator-controller-manager"]
	if sm == nil {
		t.Fatal("no ServiceMonitor")
	}
	if ep := field(t, sm, "spec", "endpoints").([]any)[0].(map[string]any); ep["scheme"] != "https" || ep["port"] != "https" || ep["honorLabels"] != true {
		t.Errorf("ServiceMonitor endpoint %v", ep)
	}
	rule := objs["PrometheusRule/modelarts-operator-alerts"]
	if rule == nil {
		t.Fatal("no PrometheusRule")
	}
	raw, err := os.ReadFile(filepath.Join(chartDir, "files", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var alerts map[string]any
	if err := yaml.Unmarshal(raw, &alerts); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(normalize(t, alerts["groups"]), normalize(t, field(t, rule, "spec", "groups"))) {
		t.Error("the PrometheusRule's groups differ from files/alerts.yaml")
	}
	binding := objs["ClusterRoleBinding/modelarts-operator-metrics-reader-rolebinding"]
	if binding == nil {
		t.Fatal("no metrics-reader binding for serviceMonitor.readers")
	}
	subject := field(t, binding, "subjects").([]any)[0].(map[string]any)
	if subject["name"] != "prometheus" || subject["namespace"] != "monitoring" {
		t.Errorf("metrics-reader subject %v", subject)
	}
}

// TestLongReleaseNames: every name stays within Kubernetes' 63 characters.
func TestLongReleaseNames(t *testing.T) {
	out := run(t, tool(t, "HELM", "helm"), "template", "a-rather-long-release-name-for-a-team-with-long-names", chartDir)
	for _, o := range decode(t, out) {
		if len(o.GetName()) > 63 {
			t.Errorf("%s: name longer than 63 characters", key(o))
		}
	}
}

// TestGrafanaDashboard: with grafanaDashboard.enabled, a ConfigMap labelled
// for Grafana's sidecar carries config/grafana's dashboard unchanged.
func TestGrafanaDashboard(t *testing.T) {
	const name = "ConfigMap/modelarts-operator-dashboard"
	if index(helmTemplate(t))[name] != nil {
		t.Fatal("the dashboard renders by default")
	}
	want, err := os.ReadFile("../../config/grafana/modelarts-operator-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	copied, err := os.ReadFile(filepath.Join(chartDir, "files", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, copied) {
		t.Fatal("files/grafana-dashboard.json differs from config/grafana: run make manifests")
	}

	cm := index(helmTemplate(t, "--set", "grafanaDashboard.enabled=true", "--set", "grafanaDashboard.namespace=monitoring"))[name]
	if cm == nil {
		t.Fatal("no dashboard ConfigMap")
	}
	if cm.GetLabels()["grafana_dashboard"] != "1" || cm.GetNamespace() != "monitoring" {
		t.Errorf("ConfigMap labels %v, namespace %q", cm.GetLabels(), cm.GetNamespace())
	}
	got := field(t, cm, "data", "modelarts-operator.json").(string)
	if strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
		t.Error("the ConfigMap's dashboard differs from config/grafana/modelarts-operator-dashboard.json")
	}
}

// TestNamespacedInstallMatchesConfig: with manager.watchNamespaces the chart
// grants what config/namespaced does: the manager's rules through a
// RoleBinding in each watched namespace, no ClusterRoleBinding for them, and
// --watch-namespaces on the manager.
func TestNamespacedInstallMatchesConfig(t *testing.T) {
	managerBindings := func(objs []*unstructured.Unstructured) map[string]any {
		found := map[string]any{} // kind/namespace -> subjects
		for _, o := range objs {
			if o.GetKind() != "RoleBinding" && o.GetKind() != "ClusterRoleBinding" {
				continue
			}
			if field(t, o, "roleRef", "name") == "modelarts-operator-manager-role" {
				found[o.GetKind()+"/"+o.GetNamespace()] = normalize(t, field(t, o, "subjects"))
			}
		}
		return found
	}
	kustomized := decode(t, run(t, tool(t, "KUSTOMIZE", "kustomize"), "build", "../../config/namespaced"))
	rendered := helmTemplate(t, "--set", "manager.watchNamespaces={team-a}")
	want, got := managerBindings(kustomized), managerBindings(rendered)
	if len(want) != 1 || want["RoleBinding/team-a"] == nil {
		t.Fatalf("config/namespaced binds the manager role as %v; this test expects one RoleBinding in team-a", want)
	}
	if !equality.Semantic.DeepEqual(want, got) {
		t.Errorf("manager role bindings differ:\nconfig/namespaced: %v\nchart:             %v", want, got)
	}
	args := fmt.Sprint(container(t, index(rendered)["Deployment/modelarts-operator-controller-manager"])["args"])
	if !strings.Contains(args, "--watch-namespaces=team-a") {
		t.Errorf("args %s lack --watch-namespaces=team-a", args)
	}
}
