// Command benchreport is `make bench`: it runs the benchmarks that carry a
// target (go test -run '^$' -bench ...), measures the Lambda bootstraps
// (size as `make build` makes them, and cold start: process start to the
// first request to the Lambda runtime API), and prints every figure next to
// its target in a small table.
//
// The raw benchmark output goes to -out (bench.txt), for benchstat. A figure
// whose benchmark does not exist in the module (yet) is "missing"; a figure
// that misses its target is "NO". Neither changes the exit status: it is 1
// only when the tool itself could not measure (a build or a go test run
// failed, a bootstrap did not start), after the table is printed.
//
// Run it from the module root.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// benchRun is one group of benchmarks run with the same -count and
// -benchtime (go test takes one of each per invocation).
type benchRun struct {
	Names     []string
	Count     int
	Benchtime string
}

// The figures, in the order of the table.
func figures() []figure {
	return []figure{
		metricFigure{Figure: "scan on embedded at 1M", Bench: "BenchmarkScan1M", Unit: "due/s", Dir: atLeast, Target: 2000},
		metricFigure{Figure: "scan reads ÷ due at 1M", Bench: "BenchmarkScan1M", Unit: "reads/due", Dir: atMost, Target: 1.1},
		metricFigure{Figure: "scan with injected latency", Bench: "BenchmarkScanInjectedLatency", Unit: "checks/s", Dir: atLeast, Target: 200},
		flatFigure{Figure: "list flat (10 vs 10,000 users)", Bench: "BenchmarkListIntegrations", Small: "users=10", Large: "users=10000", MaxBytesRatio: 1.05},
		metricFigure{Figure: "broker hit, AWS calls (moto)", Bench: "BenchmarkTokenValid", Sub: "backend=moto", Unit: "roundtrips/op", Dir: atMost, Target: 2},
		metricFigure{Figure: "broker hit through its handler", Bench: "BenchmarkTokenBroker", Unit: "ns/op", Show: "µs/op", Scale: 1e-3, Best: true, Dir: atMost, Target: 30},
		metricFigure{Figure: "events under faults, published ÷ committed", Bench: "BenchmarkEventsUnderFaults", Unit: "published/committed", Dir: atLeast, Target: 1},
		metricFigure{Figure: "events under faults, of uncommitted changes", Bench: "BenchmarkEventsUnderFaults", Unit: "events-of-uncommitted/op", Dir: atMost, Target: 0},
		metricFigure{Figure: "sealed token write, KMS calls", Bench: "BenchmarkSealedPut", Unit: "kms-calls/op", Dir: info},
	}
}

type figure interface {
	eval([]result) row
	bench() string
}

func (f metricFigure) bench() string { return f.Bench }
func (f flatFigure) bench() string   { return f.Bench }

func main() {
	out := flag.String("out", "bench.txt", "file for the raw benchmark output (benchstat reads it)")
	count := flag.Int("count", 6, "-count for the short benchmarks (list, broker; benchstat needs 6 for a confidence interval)")
	scanCount := flag.Int("scan-count", 1, "-count for the scan benchmarks (each sets up a million connections)")
	scanBenchtime := flag.String("scan-benchtime", "1x", "-benchtime for the scan benchmarks")
	starts := flag.Int("starts", 9, "process starts per bootstrap for the cold-start median")
	benchstat := flag.String("benchstat", "", "benchstat to summarise -out with before the table (a go run argument: golang.org/x/perf/cmd/benchstat@version); none when empty")
	flag.Parse()

	runs := []benchRun{
		{Names: []string{"BenchmarkScan1M", "BenchmarkScanInjectedLatency"}, Count: *scanCount, Benchtime: *scanBenchtime},
		{Names: []string{"BenchmarkListIntegrations", "BenchmarkTokenBroker", "BenchmarkTokenValid"}, Count: *count, Benchtime: "1s"},
		{Names: []string{"BenchmarkSealedPut"}, Count: 3, Benchtime: "1s"},
		{Names: []string{"BenchmarkEventsUnderFaults"}, Count: 1, Benchtime: "1x"}, // one op is the whole fault suite
	}
	os.Exit(run(runs, *out, *benchstat, *starts, os.Stdout, os.Stderr))
}

func run(runs []benchRun, outPath, benchstat string, starts int, stdout, stderr io.Writer) int {
	if _, err := os.Stat("go.mod"); err != nil {
		fmt.Fprintln(stderr, "benchreport: run it from the module root (no go.mod here)")
		return 2
	}
	began := time.Now()
	loadBefore := loadAverage()
	var toolErrs []error
	failed := map[string]bool{} // benchmarks whose go test run failed

	// 1. Benchmarks.
	where, err := findBenchmarks(".")
	if err != nil {
		fmt.Fprintln(stderr, "benchreport:", err)
		return 2
	}
	outFile, err := os.Create(outPath)
	if err != nil {
		fmt.Fprintln(stderr, "benchreport:", err)
		return 2
	}
	for _, r := range runs {
		for _, pr := range planRun(r, where) {
			args := []string{"test", "-run", "^$", "-bench", pr.Regex, "-benchmem",
				"-count", fmt.Sprint(r.Count), "-benchtime", r.Benchtime, "-timeout", "10m", pr.Pkg}
			fmt.Fprintf(stdout, "$ go %s\n", shellJoin(args))
			cmd := exec.Command("go", args...)
			cmd.Stdout = io.MultiWriter(outFile, stdout)
			cmd.Stderr = stderr
			if err := cmd.Run(); err != nil {
				toolErrs = append(toolErrs, fmt.Errorf("go test %s: %w", pr.Pkg, err))
				for _, n := range pr.Names {
					failed[n] = true
				}
			}
		}
	}
	if err := outFile.Close(); err != nil {
		toolErrs = append(toolErrs, err)
	}
	results, err := parseFile(outPath)
	if err != nil {
		toolErrs = append(toolErrs, err)
	}

	rows := make([]row, 0, 10)
	for _, f := range figures() {
		r := f.eval(results)
		if r.OK == okMissing && failed[f.bench()] {
			r.Measured, r.OK = "its go test failed", okError
		}
		rows = append(rows, r)
	}

	// 2. Bootstraps: size as make build makes them, cold start of a copy
	// built for this machine.
	rows = append(rows, measureBootstraps(starts, stdout, &toolErrs)...)

	if benchstat != "" {
		fmt.Fprintf(stdout, "\n$ go run %s %s\n", benchstat, outPath)
		cmd := exec.Command("go", "run", benchstat, outPath)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if err := cmd.Run(); err != nil {
			toolErrs = append(toolErrs, fmt.Errorf("benchstat: %w", err))
		}
	}

	fmt.Fprintf(stdout, "\nmake bench, %s, %s\n\n", began.UTC().Format("2006-01-02 15:04 MST"), time.Since(began).Round(time.Second))
	printTable(stdout, rows)
	if note := loadNote(max(loadBefore, loadAverage()), runtime.NumCPU()); note != "" {
		fmt.Fprintln(stdout, "\n"+note)
	}
	if len(toolErrs) > 0 {
		fmt.Fprintln(stderr, "\nbenchreport: the measurement failed:")
		for _, e := range toolErrs {
			fmt.Fprintln(stderr, " -", e)
		}
		return 1
	}
	return 0
}

func parseFile(path string) ([]result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f)
}

var benchFunc = regexp.MustCompile(`(?m)^func (Benchmark[A-Z0-9_][A-Za-z0-9_]*)\(\w+ \*testing\.B\)`)

// findBenchmarks maps each benchmark function in the module's _test.go
// files to its package directory (./shared/expiry).
func findBenchmarks(root string) (map[string]string, error) {
	where := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dir, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		for _, m := range benchFunc.FindAllSubmatch(b, -1) {
			where[string(m[1])] = "./" + filepath.ToSlash(dir)
		}
		return nil
	})
	return where, err
}

// plannedRun is one go test invocation: the benchmarks of a run that live
// in one package.
type plannedRun struct {
	Pkg   string
	Names []string
	Regex string
}

// planRun groups a run's existing benchmarks by package; benchmarks that do
// not exist are left out (their figures show "missing").
func planRun(r benchRun, where map[string]string) []plannedRun {
	byPkg := map[string][]string{}
	for _, n := range r.Names {
		if pkg, ok := where[n]; ok {
			byPkg[pkg] = append(byPkg[pkg], n)
		}
	}
	pkgs := make([]string, 0, len(byPkg))
	for p := range byPkg {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	out := make([]plannedRun, 0, len(pkgs))
	for _, p := range pkgs {
		names := byPkg[p]
		out = append(out, plannedRun{Pkg: p, Names: names, Regex: "^(" + strings.Join(names, "|") + ")$"})
	}
	return out
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " $^|()*?'\"\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// loadAverage is the 1-minute load average (0 where /proc/loadavg is not).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// loadNote warns, under the table, that time figures were measured on a
// machine busier than its cores: other work only adds time, so a time
// figure off its target there says more about the machine than the code.
func loadNote(load float64, cpus int) string {
	if load <= float64(cpus) {
		return ""
	}
	return fmt.Sprintf("Load average %.1f on %d cores during the run: the time figures (µs/op, ms) are slowed by other work; counts, allocations and sizes are not.", load, cpus)
}

// errNoFunctions is returned when ./functions has no main package.
var errNoFunctions = errors.New("no functions under ./functions")

// functionNames lists ./functions/<name> directories with a main.go.
func functionNames() ([]string, error) {
	entries, err := os.ReadDir("functions")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join("functions", e.Name(), "main.go")); e.IsDir() && err == nil {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, errNoFunctions
	}
	return names, nil
}
