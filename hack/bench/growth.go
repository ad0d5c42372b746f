package main

// Growth mode: `go run ./hack/bench -growth 1000,2000,5000` runs the bench
// once per N (objects per kind) as a child process of itself, each with
// refreshInterval 1m (10,000 objects at the 10 s minimum would be 1000
// syncs/s), then renders the reports into bin/bench/growth/growth.json, a
// plot (docs/performance-growth.svg) and the table between the growth
// markers in docs/performance.md. -growth-from-reports only re-renders.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	growthList        = flag.String("growth", "", "growth mode: run the bench once per N in this comma-separated list (objects per kind, e.g. 1000,2000,5000), each with -interval 1m -steady-intervals 3 -unrelated-secrets 0 (other flags are passed through), then write the growth table and plot")
	growthFromReports = flag.Bool("growth-from-reports", false, "growth mode without running anything: re-render the table and plot from the reports in -growth-dir (those for -growth's N, or all report-N.json there)")
	growthDir         = flag.String("growth-dir", filepath.Join(benchDir, "growth"), "growth mode: directory of the report-N.json files and growth.json")
	growthDoc         = flag.String("growth-doc", filepath.Join("docs", "performance.md"), "growth mode: markdown file whose growth-table block is rewritten")
	growthPlot        = flag.String("growth-plot", filepath.Join("docs", "performance-growth.svg"), "growth mode: SVG plot to write")
)

const (
	growthBegin = "<!-- growth-table:begin -->"
	growthEnd   = "<!-- growth-table:end -->"
	growthAlt   = "Growth: convergence, memory, CPU and API requests against objects"

	// The targets at N=5000 (10,000 objects).
	targetRatio       = 1.3
	targetRSSMiB      = 140.0
	targetCPUMsSync   = 0.5
	targetOtherWrites = 0.0
	// Converging an object takes at least 1.5 API requests (the floor).
	floorAPIRequests = 1.5
)

// growthOwnedFlags are set by growth mode for each child and may not be
// given with -growth; the growth flags themselves are never passed on.
var growthOwnedFlags = map[string]bool{"n": true, "out": true}

// growthRequested reports whether main should hand over to growthMain.
func growthRequested() bool { return *growthList != "" || *growthFromReports }

// growthMain runs growth mode and returns the exit code.
func growthMain() int {
	ns, err := parseGrowthList(*growthList)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if !*growthFromReports {
		var pass []string
		var bad []string
		flag.Visit(func(f *flag.Flag) {
			switch {
			case strings.HasPrefix(f.Name, "growth"):
			case growthOwnedFlags[f.Name]:
				bad = append(bad, "-"+f.Name)
			default:
				pass = append(pass, "-"+f.Name+"="+f.Value.String())
			}
		})
		if len(bad) > 0 {
			fmt.Fprintf(os.Stderr, "%s: set by -growth for each run, leave out\n", strings.Join(bad, ", "))
			return 2
		}
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		missed, err := runGrowth(self, ns, *growthDir, pass)
		if err != nil {
			fmt.Fprintf(os.Stderr, "\n[growth] FAILED: %v\n", err)
			return 1
		}
		if len(missed) > 0 {
			fmt.Printf("[growth] targets missed at N=%s (their reports are written and included)\n", strings.Join(missed, ", "))
		}
	}
	if len(ns) == 0 {
		if ns, err = reportsIn(*growthDir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	g, err := renderGrowth(*growthDir, ns, *growthDoc, *growthPlot)
	if err != nil {
		fmt.Fprintf(os.Stderr, "[growth] FAILED: %v\n", err)
		return 1
	}
	fmt.Printf("\n%s\n", g.table())
	fmt.Printf("[growth] wrote %s, %s and the growth block of %s\n", filepath.Join(*growthDir, "growth.json"), *growthPlot, *growthDoc)
	return 0
}

func parseGrowthList(s string) ([]int, error) {
	var ns []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-growth: %q is not a positive number of objects per kind", f)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

func reportPath(dir string, n int) string {
	return filepath.Join(dir, fmt.Sprintf("report-%d.json", n))
}

var reportNameRE = regexp.MustCompile(`^report-(\d+)\.json$`)

// reportsIn lists the N of every report-N.json in dir, ascending.
func reportsIn(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ns []int
	for _, e := range entries {
		if m := reportNameRE.FindStringSubmatch(e.Name()); m != nil {
			n, _ := strconv.Atoi(m[1])
			ns = append(ns, n)
		}
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("no report-N.json in %s", dir)
	}
	sort.Ints(ns)
	return ns, nil
}

// runGrowth runs the bench once per N as a child process. A child that exits
// non-zero after writing its report missed targets: that N is returned and
// the runs go on. Without a report, it stops.
func runGrowth(self string, ns []int, dir string, pass []string) (missed []string, err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	start := time.Now()
	for i, n := range ns {
		out := reportPath(dir, n)
		if err := os.Remove(out); err != nil && !errors.Is(err, os.ErrNotExist) {
			return missed, err
		}
		args := growthChildArgs(n, out, pass)
		fmt.Printf("[growth] %s run %d of %d: N=%d (%d objects): %s %s\n", time.Now().Format("15:04:05"),
			i+1, len(ns), n, 2*n, filepath.Base(self), strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, self, args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		// Interrupted: let the child stop its control plane and processes.
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = time.Minute
		runErr := cmd.Run()
		if ctx.Err() != nil {
			return missed, fmt.Errorf("interrupted during N=%d", n)
		}
		if runErr != nil {
			if _, statErr := os.Stat(out); statErr != nil {
				return missed, fmt.Errorf("the run for N=%d failed without writing its report: %w", n, runErr)
			}
			missed = append(missed, strconv.Itoa(n))
			fmt.Printf("[growth] N=%d exited with %v: targets missed, report written, going on\n", n, runErr)
		}
		fmt.Printf("[growth] N=%d done, %s elapsed\n", n, time.Since(start).Round(time.Second))
	}
	return missed, nil
}

// growthChildArgs are the flags of the run for N: the growth settings, then
// the passed-through flags (the last of a repeated flag wins, so -interval,
// -steady-intervals and -unrelated-secrets may be overridden).
func growthChildArgs(n int, out string, pass []string) []string {
	return append([]string{"-n", strconv.Itoa(n), "-interval", "1m", "-steady-intervals", "3",
		"-unrelated-secrets", "0", "-out", out}, pass...)
}

// growthFigures are the figures a growth row takes from a bench report,
// under the report's own keys. Pointers: a key missing from the report is
// shown as "–".
type growthFigures struct {
	ConvergenceSeconds                *float64 `json:"convergence_seconds"`
	FloorSeconds                      *float64 `json:"floor_seconds"`
	ConvergenceOverFloor              *float64 `json:"convergence_over_floor"`
	PeakRSSMiB                        *float64 `json:"peak_rss_mib"`
	SteadyCPUMsPerSync                *float64 `json:"steady_cpu_ms_per_sync"`
	APIRequestsPerConvergedObject     *float64 `json:"api_requests_per_converged_object"`
	SteadyCloudCallsPerObjectInterval *float64 `json:"steady_cloud_calls_per_object_interval"`
	SteadyWritesOtherThanHeartbeats   *float64 `json:"steady_writes_other_than_heartbeats"`
	SteadyHeartbeatWrites             *float64 `json:"steady_heartbeat_writes"`
	RestartCallsFirstMinute           *float64 `json:"restart_calls_first_minute"`
	RestartPeakCallsPerSecond         *float64 `json:"restart_peak_calls_per_second"`
	RefreshIntervalSeconds            *float64 `json:"refresh_interval_seconds"`
}

// growthReport is the part of a bench report the growth table reads.
type growthReport struct {
	growthFigures
	ObjectsTotal   *int           `json:"objects_total"`
	ObjectsPerKind *int           `json:"objects_per_kind"`
	StartedAt      string         `json:"started_at"`
	Command        string         `json:"command"`
	Machine        map[string]any `json:"machine"`
}

// growthRow is one N in growth.json and the table.
type growthRow struct {
	growthFigures
	N                    int      `json:"objects_per_kind"`
	Objects              int      `json:"objects_total"`
	MarginalKiBPerObject *float64 `json:"marginal_rss_kib_per_object"`
	// Missed names the targets this row misses.
	Missed    []string `json:"missed_targets"`
	StartedAt string   `json:"started_at"`
	Report    string   `json:"report"`
}

// growth is growth.json.
type growth struct {
	Command   string         `json:"command"`
	RunCmd    string         `json:"run_command"`
	StartedAt string         `json:"started_at"`
	Machine   map[string]any `json:"machine"`
	// BaseObjects is the run the marginal RSS per object is measured from.
	BaseObjects int         `json:"marginal_rss_base_objects"`
	Rows        []growthRow `json:"rows"`
}

var (
	cmdNRE   = regexp.MustCompile(`(^|\s)-n[= ]\d+`)
	cmdOutRE = regexp.MustCompile(`\s-out[= ]\S+`)
)

// loadGrowth reads report-N.json for every N in dir and computes the rows,
// ordered by objects.
func loadGrowth(dir string, ns []int) (*growth, error) {
	g := &growth{}
	meta := map[int]*growthReport{} // by objects: the smallest run's command, date and machine
	for _, n := range ns {
		path := reportPath(dir, n)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var r growthReport
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		row := growthRow{growthFigures: r.growthFigures, N: n, Objects: 2 * n, StartedAt: r.StartedAt, Report: path}
		if r.ObjectsPerKind != nil {
			row.N = *r.ObjectsPerKind
			row.Objects = 2 * row.N
		}
		if r.ObjectsTotal != nil {
			row.Objects = *r.ObjectsTotal
		}
		if row.ConvergenceOverFloor == nil && row.ConvergenceSeconds != nil && row.FloorSeconds != nil && *row.FloorSeconds > 0 {
			v := *row.ConvergenceSeconds / *row.FloorSeconds
			row.ConvergenceOverFloor = &v
		}
		g.Rows = append(g.Rows, row)
		meta[row.Objects] = &r
	}
	if len(g.Rows) == 0 {
		return nil, errors.New("no reports")
	}
	sort.SliceStable(g.Rows, func(i, j int) bool { return g.Rows[i].Objects < g.Rows[j].Objects })
	first := meta[g.Rows[0].Objects]

	// Marginal RSS: from the smallest run with a peak RSS.
	base := -1
	for i, r := range g.Rows {
		if r.PeakRSSMiB != nil {
			base = i
			break
		}
	}
	if base >= 0 {
		b := g.Rows[base]
		g.BaseObjects = b.Objects
		for i := base + 1; i < len(g.Rows); i++ {
			r := &g.Rows[i]
			if r.PeakRSSMiB != nil && r.Objects > b.Objects {
				v := (*r.PeakRSSMiB - *b.PeakRSSMiB) * 1024 / float64(r.Objects-b.Objects)
				r.MarginalKiBPerObject = &v
			}
		}
	}
	for i := range g.Rows {
		g.Rows[i].Missed = g.Rows[i].missedTargets()
	}

	var nsText []string
	for _, r := range g.Rows {
		nsText = append(nsText, strconv.Itoa(r.N))
	}
	g.Command = "go run ./hack/bench -growth " + strings.Join(nsText, ",")
	if first.Command != "" {
		c := cmdOutRE.ReplaceAllString(first.Command, "")
		g.RunCmd = cmdNRE.ReplaceAllString(c, "${1}-n N")
	}
	g.StartedAt = first.StartedAt
	g.Machine = first.Machine
	return g, nil
}

func (r growthRow) missRatio() bool {
	return r.ConvergenceOverFloor != nil && *r.ConvergenceOverFloor > targetRatio
}
func (r growthRow) missRSS() bool { return r.PeakRSSMiB != nil && *r.PeakRSSMiB > targetRSSMiB }
func (r growthRow) missCPU() bool {
	return r.SteadyCPUMsPerSync != nil && *r.SteadyCPUMsPerSync > targetCPUMsSync
}
func (r growthRow) missWrites() bool {
	return r.SteadyWritesOtherThanHeartbeats != nil && *r.SteadyWritesOtherThanHeartbeats > targetOtherWrites
}

func (r growthRow) missedTargets() []string {
	out := []string{}
	if r.missRatio() {
		out = append(out, "convergence_over_floor")
	}
	if r.missRSS() {
		out = append(out, "peak_rss_mib")
	}
	if r.missCPU() {
		out = append(out, "steady_cpu_ms_per_sync")
	}
	if r.missWrites() {
		out = append(out, "steady_writes_other_than_heartbeats")
	}
	return out
}

// cell formats v, "–" when absent, bold and "(missed)" when it misses a target.
func cell(v *float64, format string, missed bool) string {
	if v == nil {
		return "–"
	}
	s := thousands(fmt.Sprintf(format, *v))
	if missed {
		return "**" + s + "** (missed)"
	}
	return s
}

// thousands puts commas into the integer part of a formatted number.
func thousands(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if len(intPart) <= 3 {
		return sign + s
	}
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}

// table is the markdown table with the line under it.
func (g *growth) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| N per kind | objects | convergence (s) | floor (s) | convergence / floor | peak RSS (MiB) | RSS per object beyond %s objects (KiB) | steady CPU (ms per sync) | API requests per converged object | steady cloud calls per object per interval | steady writes other than heartbeats (+ heartbeats) | restart: cloud calls in the first minute / peak per second |\n",
		thousands(strconv.Itoa(g.BaseObjects)))
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range g.Rows {
		marginal := cell(r.MarginalKiBPerObject, "%.1f", false)
		if r.Objects == g.BaseObjects {
			marginal = "(base)"
		}
		writes := cell(r.SteadyWritesOtherThanHeartbeats, "%.0f", r.missWrites())
		if r.SteadyHeartbeatWrites != nil {
			writes += " (+ " + cell(r.SteadyHeartbeatWrites, "%.0f", false) + ")"
		}
		restart := "–"
		if r.RestartCallsFirstMinute != nil || r.RestartPeakCallsPerSecond != nil {
			restart = cell(r.RestartCallsFirstMinute, "%.0f", false) + " / " + cell(r.RestartPeakCallsPerSecond, "%.1f", false)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			thousands(strconv.Itoa(r.N)), thousands(strconv.Itoa(r.Objects)),
			cell(r.ConvergenceSeconds, "%.1f", false), cell(r.FloorSeconds, "%.1f", false),
			cell(r.ConvergenceOverFloor, "%.2f", r.missRatio()),
			cell(r.PeakRSSMiB, "%.1f", r.missRSS()), marginal,
			cell(r.SteadyCPUMsPerSync, "%.3f", r.missCPU()),
			cell(r.APIRequestsPerConvergedObject, "%.2f", false),
			cell(r.SteadyCloudCallsPerObjectInterval, "%.3f", false),
			writes, restart)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "`%s` (`make bench-growth`)", g.Command)
	if date := dateOf(g.StartedAt); date != "" {
		fmt.Fprintf(&b, ", %s", date)
	}
	if m := machineText(g.Machine); m != "" {
		fmt.Fprintf(&b, ", on %s", m)
	}
	b.WriteString(". ")
	if g.RunCmd != "" {
		fmt.Fprintf(&b, "Each row is one run of `%s`. ", g.RunCmd)
	}
	fmt.Fprintf(&b, "Targets at N=5000 (10,000 objects), checked in every row: convergence ≤ %.1f× floor, peak RSS ≤ %.0f MiB, steady CPU ≤ %.1f ms per sync, %.0f steady writes other than heartbeats; a value that misses one is **bold** and marked (missed).\n",
		targetRatio, targetRSSMiB, targetCPUMsSync, targetOtherWrites)
	return b.String()
}

func dateOf(startedAt string) string {
	if t, err := time.Parse(time.RFC3339, startedAt); err == nil {
		return t.UTC().Format("2006-01-02")
	}
	return startedAt
}

func machineText(m map[string]any) string {
	var parts []string
	if v, ok := m["cpus"]; ok {
		parts = append(parts, fmt.Sprintf("%v CPUs", v))
	}
	if v, ok := m["cpu_model"]; ok {
		parts = append(parts, fmt.Sprintf("(%v)", v))
	}
	return strings.Join(parts, " ")
}

// block is what goes between the markers.
func (g *growth) block(plotRel string) string {
	return "<!-- generated by `" + g.Command + "` or `go run ./hack/bench -growth-from-reports`; do not edit by hand -->\n\n" +
		g.table() + "\n![" + growthAlt + "](" + filepath.ToSlash(plotRel) + ")\n"
}

// growthSection is added before "## Not done" (or at the end) when the
// markers are missing.
const growthSection = `## Growth

How convergence, memory, CPU and API requests grow with the number of
objects: ` + "`make bench-growth`" + ` runs the bench for N = 1000, 2000 and 5000
per kind.

` + growthBegin + "\n" + growthEnd + "\n"

// replaceGrowthBlock puts block between the markers in doc, adding the Growth
// section if the markers are missing. Everything outside the markers is kept.
func replaceGrowthBlock(doc, block string) (string, error) {
	i := strings.Index(doc, growthBegin)
	j := strings.Index(doc, growthEnd)
	switch {
	case i < 0 && j < 0:
		if k := strings.LastIndex(doc, "\n## Not done\n"); k >= 0 {
			doc = doc[:k+1] + growthSection + "\n" + doc[k+1:]
		} else {
			if doc != "" && !strings.HasSuffix(doc, "\n") {
				doc += "\n"
			}
			if doc != "" {
				doc += "\n"
			}
			doc += growthSection
		}
		return replaceGrowthBlock(doc, block)
	case i < 0 || j < i:
		return "", fmt.Errorf("growth markers out of order or one missing (%q … %q)", growthBegin, growthEnd)
	}
	start := i + len(growthBegin)
	return doc[:start] + "\n" + block + doc[j:], nil
}

// renderGrowth writes growth.json into dir, the plot, and the doc's block.
func renderGrowth(dir string, ns []int, docPath, plotPath string) (*growth, error) {
	g, err := loadGrowth(dir, ns)
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "growth.json"), append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := writeGrowthPlot(g, plotPath); err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	doc, err := os.ReadFile(docPath)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(filepath.Dir(docPath), plotPath)
	if err != nil {
		rel = plotPath
	}
	out, err := replaceGrowthBlock(string(doc), g.block(rel))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", docPath, err)
	}
	if !bytes.Equal([]byte(out), doc) {
		if err := os.WriteFile(docPath, []byte(out), 0o644); err != nil {
			return nil, err
		}
	}
	return g, nil
}
