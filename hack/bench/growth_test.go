package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeFakeReports writes report-1000, -2000 and -5000.json into dir.
// N=1000 has no convergence_over_floor (computed from the seconds), no CPU
// and no restart keys; N=5000 misses the ratio, RSS and writes targets.
func writeFakeReports(t *testing.T, dir string) {
	t.Helper()
	reports := map[int]string{
		1000: `{"objects_total": 2000, "objects_per_kind": 1000,
			"convergence_seconds": 12, "floor_seconds": 10,
			"peak_rss_mib": 80, "api_requests_per_converged_object": 1.61,
			"steady_cloud_calls_per_object_interval": 1.001,
			"steady_writes_other_than_heartbeats": 0, "steady_heartbeat_writes": 200,
			"refresh_interval_seconds": 60,
			"started_at": "2026-12-05T10:00:00Z",
			"command": "go run ./hack/bench -n 1000 -interval 1m -steady-intervals 3 -unrelated-secrets 0 -out bin/bench/growth/report-1000.json -workers=4",
			"machine": {"cpus": "2", "cpu_model": "Intel Xeon", "go": "go1.26"}}`,
		2000: `{"objects_total": 4000, "objects_per_kind": 2000,
			"convergence_seconds": 25, "floor_seconds": 20, "convergence_over_floor": 1.25,
			"peak_rss_mib": 100, "steady_cpu_ms_per_sync": 0.31, "api_requests_per_converged_object": 1.55,
			"steady_cloud_calls_per_object_interval": 1.002,
			"steady_writes_other_than_heartbeats": 0, "steady_heartbeat_writes": 400,
			"restart_calls_first_minute": 700, "restart_peak_calls_per_second": 12.5,
			"refresh_interval_seconds": 60, "started_at": "2026-12-05T10:08:00Z",
			"machine": {"cpus": "2", "cpu_model": "Intel Xeon"}}`,
		5000: `{"objects_total": 10000, "objects_per_kind": 5000,
			"convergence_seconds": 71, "floor_seconds": 50, "convergence_over_floor": 1.42,
			"peak_rss_mib": 150.5, "steady_cpu_ms_per_sync": 0.45, "api_requests_per_converged_object": 1.52,
			"steady_cloud_calls_per_object_interval": 0.998,
			"steady_writes_other_than_heartbeats": 3, "steady_heartbeat_writes": 1000,
			"restart_calls_first_minute": 1750, "restart_peak_calls_per_second": 30.25,
			"refresh_interval_seconds": 60, "started_at": "2026-12-05T10:20:00Z",
			"machine": {"cpus": "2", "cpu_model": "Intel Xeon"}}`,
	}
	for n, r := range reports {
		if err := os.WriteFile(reportPath(dir, n), []byte(r), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func near(p *float64, want float64) bool { return p != nil && math.Abs(*p-want) < 1e-9 }

func TestLoadGrowthComputesRows(t *testing.T) {
	dir := t.TempDir()
	writeFakeReports(t, dir)
	// Out of order on purpose: rows are ordered by objects.
	g, err := loadGrowth(dir, []int{5000, 1000, 2000})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Rows) != 3 || g.Rows[0].Objects != 2000 || g.Rows[1].Objects != 4000 || g.Rows[2].Objects != 10000 {
		t.Fatalf("rows not 2000, 4000, 10000 objects: %+v", g.Rows)
	}
	if g.BaseObjects != 2000 {
		t.Errorf("marginal base = %d objects, want 2000", g.BaseObjects)
	}
	r0, r1, r2 := g.Rows[0], g.Rows[1], g.Rows[2]
	if !near(r0.ConvergenceOverFloor, 1.2) {
		t.Errorf("ratio computed from 12 s / 10 s = %v, want 1.2", r0.ConvergenceOverFloor)
	}
	if r0.MarginalKiBPerObject != nil {
		t.Errorf("the smallest run has a marginal RSS: %v", *r0.MarginalKiBPerObject)
	}
	// (100 − 80) MiB × 1024 / (4000 − 2000) objects = 10.24 KiB.
	if !near(r1.MarginalKiBPerObject, 10.24) {
		t.Errorf("marginal at 4000 objects = %v, want 10.24", r1.MarginalKiBPerObject)
	}
	// (150.5 − 80) MiB × 1024 / (10000 − 2000) objects = 9.024 KiB.
	if !near(r2.MarginalKiBPerObject, 9.024) {
		t.Errorf("marginal at 10000 objects = %v, want 9.024", r2.MarginalKiBPerObject)
	}
	if r0.SteadyCPUMsPerSync != nil || r0.RestartCallsFirstMinute != nil {
		t.Errorf("missing keys read as present: %+v", r0)
	}
	if len(r0.Missed) != 0 || len(r1.Missed) != 0 {
		t.Errorf("targets missed in rows that meet them: %v, %v", r0.Missed, r1.Missed)
	}
	if want := []string{"convergence_over_floor", "peak_rss_mib", "steady_writes_other_than_heartbeats"}; !reflect.DeepEqual(r2.Missed, want) {
		t.Errorf("missed at N=5000 = %v, want %v", r2.Missed, want)
	}
	if g.Command != "go run ./hack/bench -growth 1000,2000,5000" {
		t.Errorf("command = %q", g.Command)
	}
	if want := "go run ./hack/bench -n N -interval 1m -steady-intervals 3 -unrelated-secrets 0 -workers=4"; g.RunCmd != want {
		t.Errorf("run command = %q, want %q", g.RunCmd, want)
	}
}

func TestGrowthTable(t *testing.T) {
	dir := t.TempDir()
	writeFakeReports(t, dir)
	g, err := loadGrowth(dir, []int{1000, 2000, 5000})
	if err != nil {
		t.Fatal(err)
	}
	table := g.table()
	for _, want := range []string{
		"| N per kind | objects | convergence (s) | floor (s) | convergence / floor | peak RSS (MiB) | RSS per object beyond 2,000 objects (KiB) |",
		"| 1,000 | 2,000 | 12.0 | 10.0 | 1.20 | 80.0 | (base) | – | 1.61 | 1.001 | 0 (+ 200) | – |\n",
		"| 2,000 | 4,000 | 25.0 | 20.0 | 1.25 | 100.0 | 10.2 | 0.310 | 1.55 | 1.002 | 0 (+ 400) | 700 / 12.5 |\n",
		"| 5,000 | 10,000 | 71.0 | 50.0 | **1.42** (missed) | **150.5** (missed) | 9.0 | 0.450 | 1.52 | 0.998 | **3** (missed) (+ 1,000) | 1,750 / 30.2 |\n",
		"`go run ./hack/bench -growth 1000,2000,5000` (`make bench-growth`), 2026-12-05, on 2 CPUs (Intel Xeon).",
		"Each row is one run of `go run ./hack/bench -n N -interval 1m -steady-intervals 3 -unrelated-secrets 0 -workers=4`.",
		"convergence ≤ 1.3× floor, peak RSS ≤ 140 MiB, steady CPU ≤ 0.5 ms per sync, 0 steady writes other than heartbeats",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if n := strings.Count(table, "** (missed)"); n != 3 {
		t.Errorf("%d cells marked missed, want 3:\n%s", n, table)
	}
}

func TestCellAndThousands(t *testing.T) {
	v := 0.51
	for _, c := range []struct{ got, want string }{
		{cell(nil, "%.1f", true), "–"},
		{cell(&v, "%.3f", true), "**0.510** (missed)"},
		{thousands("1234567.891"), "1,234,567.891"},
		{thousands("-1000"), "-1,000"},
		{thousands("999"), "999"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

const docBefore = "# Performance\n\nIntro  with  odd   spacing.\n\n## Growth\n\nHow it grows.\n\n"
const docAfter = "\n\n## Not done\n\n- nothing\n"

func TestReplaceGrowthBlock(t *testing.T) {
	doc := docBefore + growthBegin + "\nplaceholder\n" + growthEnd + docAfter
	out, err := replaceGrowthBlock(doc, "| a |\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := docBefore + growthBegin + "\n| a |\n" + growthEnd + docAfter; out != want {
		t.Fatalf("got\n%q\nwant\n%q", out, want)
	}
	again, err := replaceGrowthBlock(out, "| a |\n")
	if err != nil || again != out {
		t.Errorf("not idempotent (%v):\n%q\n%q", err, again, out)
	}
	other, _ := replaceGrowthBlock(out, "| b |\n")
	if !strings.HasPrefix(other, docBefore+growthBegin+"\n| b |\n"+growthEnd) || !strings.HasSuffix(other, growthEnd+docAfter) {
		t.Errorf("a new block did not replace the old one:\n%q", other)
	}

	if _, err := replaceGrowthBlock(docBefore+growthBegin+docAfter, "x\n"); err == nil {
		t.Error("a begin marker without an end marker was accepted")
	}
	if _, err := replaceGrowthBlock(growthEnd+"\n"+growthBegin+"\n", "x\n"); err == nil {
		t.Error("markers out of order were accepted")
	}
}

func TestReplaceGrowthBlockAddsSection(t *testing.T) {
	before := "# Performance\n\n## Results\n\ntext\n"
	after := "\n## Not done\n\n- nothing\n"
	out, err := replaceGrowthBlock(before+after, "| a |\n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, before) || !strings.HasSuffix(out, after) {
		t.Fatalf("text around the new section changed:\n%s", out)
	}
	mid := strings.TrimSuffix(strings.TrimPrefix(out, before), after)
	if !strings.HasPrefix(mid, "\n## Growth\n") || !strings.Contains(mid, growthBegin+"\n| a |\n"+growthEnd+"\n") {
		t.Errorf("section not added before ## Not done:\n%q", mid)
	}
	if again, _ := replaceGrowthBlock(out, "| a |\n"); again != out {
		t.Errorf("not idempotent after adding the section:\n%q\n%q", again, out)
	}

	// No "## Not done": appended at the end.
	out, err = replaceGrowthBlock("# P\n\ntext", "| a |\n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "# P\n\ntext\n\n## Growth\n") || !strings.HasSuffix(out, growthBegin+"\n| a |\n"+growthEnd+"\n") {
		t.Errorf("section not appended:\n%q", out)
	}
}

func TestRenderGrowth(t *testing.T) {
	dir := t.TempDir()
	writeFakeReports(t, dir)
	docs := filepath.Join(dir, "docs")
	if err := os.Mkdir(docs, 0o755); err != nil {
		t.Fatal(err)
	}
	docPath := filepath.Join(docs, "performance.md")
	plotPath := filepath.Join(docs, "performance-growth.svg")
	doc := docBefore + growthBegin + "\nThe table is generated.\n" + growthEnd + docAfter
	if err := os.WriteFile(docPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}

	if _, err := renderGrowth(dir, []int{1000, 2000, 5000}, docPath, plotPath); err != nil {
		t.Fatal(err)
	}
	svg1, _ := os.ReadFile(plotPath)
	doc1, _ := os.ReadFile(docPath)
	if len(svg1) < 1000 || !bytes.HasPrefix(svg1, []byte("<?xml")) || !bytes.Contains(svg1, []byte("</svg>")) {
		t.Fatalf("plot not an SVG document (%d bytes)", len(svg1))
	}
	for _, want := range []string{"Convergence and floor", "Peak RSS", "Steady CPU per sync", "API requests per converged object", "objects (2N)", "10,000", "floor (1.5)"} {
		if !bytes.Contains(svg1, []byte(want)) {
			t.Errorf("plot lacks %q", want)
		}
	}
	s := string(doc1)
	if !strings.HasPrefix(s, docBefore+growthBegin+"\n") || !strings.HasSuffix(s, growthEnd+docAfter) {
		t.Errorf("text outside the markers changed:\n%s", s)
	}
	if !strings.Contains(s, "![Growth: convergence, memory, CPU and API requests against objects](performance-growth.svg)\n"+growthEnd) {
		t.Errorf("plot not referenced at the end of the block:\n%s", s)
	}
	if !strings.Contains(s, "| 5,000 | 10,000 | 71.0 |") || strings.Contains(s, "The table is generated.") {
		t.Errorf("block not replaced by the table:\n%s", s)
	}

	var g growth
	data, err := os.ReadFile(filepath.Join(dir, "growth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &g); err != nil || len(g.Rows) != 3 || !near(g.Rows[2].MarginalKiBPerObject, 9.024) {
		t.Errorf("growth.json: %v, %+v", err, g.Rows)
	}

	// Same reports, same bytes.
	if _, err := renderGrowth(dir, []int{1000, 2000, 5000}, docPath, plotPath); err != nil {
		t.Fatal(err)
	}
	svg2, _ := os.ReadFile(plotPath)
	doc2, _ := os.ReadFile(docPath)
	if !bytes.Equal(svg1, svg2) {
		t.Error("plot differs between two renderings of the same reports")
	}
	if !bytes.Equal(doc1, doc2) {
		t.Error("doc differs between two renderings of the same reports")
	}
}

func TestRenderGrowthMissingReport(t *testing.T) {
	dir := t.TempDir()
	writeFakeReports(t, dir)
	if _, err := loadGrowth(dir, []int{1000, 3000}); err == nil {
		t.Error("a missing report-3000.json was not an error")
	}
	ns, err := reportsIn(dir)
	if err != nil || !reflect.DeepEqual(ns, []int{1000, 2000, 5000}) {
		t.Errorf("reportsIn = %v, %v", ns, err)
	}
}

func TestGrowthArgs(t *testing.T) {
	ns, err := parseGrowthList(" 1000,2000 ,5000,")
	if err != nil || !reflect.DeepEqual(ns, []int{1000, 2000, 5000}) {
		t.Errorf("parseGrowthList = %v, %v", ns, err)
	}
	for _, bad := range []string{"1000,x", "0", "-5"} {
		if _, err := parseGrowthList(bad); err == nil {
			t.Errorf("parseGrowthList(%q) accepted", bad)
		}
	}
	got := growthChildArgs(2000, "d/report-2000.json", []string{"-workers=8"})
	want := []string{"-n", "2000", "-interval", "1m", "-steady-intervals", "3", "-unrelated-secrets", "0", "-out", "d/report-2000.json", "-workers=8"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("child args = %v, want %v", got, want)
	}
}
