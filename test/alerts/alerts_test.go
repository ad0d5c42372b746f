// Package alerts unit-tests the chart's alerting rules with `promtool test
// rules` (alerts_test.yaml), and checks that the rules and the Grafana
// dashboard name only metrics the operator or controller-runtime exports.
package alerts

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// promtool is bin/promtool, which `make promtool` builds (make test does).
func promtool(t *testing.T) string {
	t.Helper()
	path := os.Getenv("PROMTOOL")
	if path == "" {
		path, _ = filepath.Abs(filepath.Join("..", "..", "bin", "promtool"))
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("promtool not found at %s: run `make promtool` (make test does)", path)
	}
	return path
}

func TestRulesAreValid(t *testing.T) {
	out, err := exec.Command(promtool(t), "check", "rules", "../../charts/modelarts-operator/files/alerts.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

func TestRules(t *testing.T) {
	out, err := exec.Command(promtool(t), "test", "rules", "alerts_test.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// controllerRuntimeMetrics are the metrics of controller-runtime (work
// queues, reconciles, client-go) and of the Go process collector it
// registers that the dashboard uses.
var controllerRuntimeMetrics = []string{
	"workqueue_depth", "workqueue_queue_duration_seconds",
	"controller_runtime_reconcile_time_seconds", "rest_client_requests_total",
	"process_resident_memory_bytes", "process_cpu_seconds_total",
}

// knownMetrics are the operator's metrics (internal/controller/metrics.go),
// with a histogram's series, and controllerRuntimeMetrics.
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	src, err := os.ReadFile("../../internal/controller/metrics.go")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	// Name: "…" in a metric's options, or NewDesc("…" for a collector's.
	for _, m := range regexp.MustCompile(`(?:Name:\s+|NewDesc\()"([a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		known[m[1]] = true
	}
	if len(known) < 8 {
		t.Fatalf("found only %d metric names in metrics.go", len(known))
	}
	for name := range known {
		if strings.HasSuffix(name, "_seconds") {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				known[name+s] = true
			}
		}
	}
	for _, name := range controllerRuntimeMetrics {
		known[name] = true
		known[name+"_bucket"] = true
	}
	return known
}

var metricName = regexp.MustCompile(`\b(?:modelarts_operator|workqueue|controller_runtime|rest_client|process)_[a-z_]+\b`)

// checkNames fails for a name in expr that is not exported, and for an expr
// that uses none.
func checkNames(t *testing.T, where, expr string, known map[string]bool) {
	t.Helper()
	names := metricName.FindAllString(expr, -1)
	if len(names) == 0 {
		t.Errorf("%s: no operator metric in %q", where, expr)
	}
	for _, n := range names {
		if !known[n] {
			t.Errorf("%s: %s is not a metric the operator exports", where, n)
		}
	}
}

func TestRulesUseExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../charts/modelarts-operator/files/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	known := knownMetrics(t)
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			checkNames(t, r.Alert, r.Expr, known)
		}
	}
}

// TestDashboard: every panel query parses as PromQL (with Grafana's
// variables filled in) and uses only exported metrics.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile("../../config/grafana/modelarts-operator-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string
		Panels []struct {
			Title   string
			Type    string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" {
		t.Error("the dashboard has no uid (imports would duplicate it)")
	}
	known := knownMetrics(t)
	vars := strings.NewReplacer("$__rate_interval", "5m", "$job", ".*", "$namespace", ".*")
	queries := 0
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			queries++
			checkNames(t, p.Title, target.Expr, known)
			expr := vars.Replace(target.Expr)
			if out, err := exec.Command(promtool(t), "--experimental", "promql", "format", expr).CombinedOutput(); err != nil {
				t.Errorf("panel %q: %q does not parse: %s", p.Title, expr, out)
			}
		}
	}
	if queries < 10 {
		t.Errorf("only %d queries in the dashboard", queries)
	}
}
