package main

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// output is go test -bench output as printed on this machine: two
// packages, -count 2, log lines and a metric-only benchmark.
const output = `goos: linux
goarch: amd64
pkg: github.com/workplace/connections/shared/handlers
cpu: Intel(R) Xeon(R) Processor
BenchmarkListIntegrations/users=10-2         	  100000	     11400 ns/op	    4096 B/op	      51 allocs/op
BenchmarkListIntegrations/users=10-2         	  100000	     12600 ns/op	    4096 B/op	      51 allocs/op
BenchmarkListIntegrations/users=10000-2      	  100000	     11300 ns/op	    4096 B/op	      51 allocs/op
BenchmarkListIntegrations/users=10000-2      	  100000	     13500 ns/op	    4096 B/op	      51 allocs/op
BenchmarkTokenBroker-2   	   66000	     18000 ns/op	    5000 B/op	      61 allocs/op
BenchmarkTokenBroker-2   	   66000	     19000 ns/op	    5000 B/op	      61 allocs/op
PASS
ok  	github.com/workplace/connections/shared/handlers	9.1s
goos: linux
goarch: amd64
pkg: github.com/workplace/connections/shared/broker
BenchmarkTokenValid/backend=embedded-2 	  200000	      6500 ns/op	    2000 B/op	      29 allocs/op
BenchmarkTokenValid/backend=moto-2     	     190	   6200000 ns/op	         2.000 roundtrips/op	  90000 B/op	     958 allocs/op
BenchmarkTokenValid/backend=moto-2     	     170	   6900000 ns/op	         3.000 roundtrips/op	  90000 B/op	     958 allocs/op
BenchmarkTokenValid/backend=moto-2     	     180	   6400000 ns/op	         2.000 roundtrips/op	  90000 B/op	     958 allocs/op
    bench_test.go:40: Benchmarks start moto: 127.0.0.1:5000
PASS
ok  	github.com/workplace/connections/shared/broker	12.0s
pkg: github.com/workplace/connections/shared/expiry
BenchmarkScan1M/shards=4-2   1   5000000000 ns/op   2500 due/s   1.000 reads/due
BenchmarkScan1M/shards=16-2  1   4000000000 ns/op   1900 due/s   1.050 reads/due
`

func parsed(t *testing.T, s string) []result {
	t.Helper()
	rs, err := parse(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestParseReadsEveryResultWithItsPackage(t *testing.T) {
	rs := parsed(t, output)
	if len(rs) != 12 {
		t.Fatalf("parsed %d results, want 12: %+v", len(rs), rs)
	}
	moto := rs[7]
	if moto.Name != "BenchmarkTokenValid/backend=moto" || moto.Pkg != "github.com/workplace/connections/shared/broker" || moto.Iters != 190 {
		t.Errorf("result 7 = %+v", moto)
	}
	if moto.Values["roundtrips/op"] != 2 || moto.Values["ns/op"] != 6.2e6 || moto.Values["allocs/op"] != 958 {
		t.Errorf("values = %v", moto.Values)
	}
	if rs[11].Name != "BenchmarkScan1M/shards=16" || rs[11].Values["reads/due"] != 1.05 || rs[11].Pkg != "github.com/workplace/connections/shared/expiry" {
		t.Errorf("last = %+v", rs[11])
	}
}

func TestParseSkipsLinesThatAreNotResults(t *testing.T) {
	rs := parsed(t, strings.Join([]string{
		"BenchmarkFoo-2   notanumber   12 ns/op",
		"BenchmarkFoo-2   10   12",              // a value without unit
		"BenchmarkFoo-2   10   twelve ns/op",    // not a number
		"Benchmarks ran: 3 of 4 ok",             // log line, not a name
		"    BenchmarkFoo-2   10   12 ns/op",    // indented: a benchmark's log output
		"--- FAIL: BenchmarkBar-2",              // failure marker
		"BenchmarkBaz   5   7.5 ns/op   1 x/op", // GOMAXPROCS=1: no suffix
		"BenchmarkQux/n-3-8   5   7.5 ns/op",    // a sub name with a dash keeps it, the procs suffix goes
	}, "\n"))
	names := make([]string, 0, len(rs))
	for _, r := range rs {
		names = append(names, r.Name)
	}
	want := []string{"BenchmarkBaz", "BenchmarkQux/n-3"}
	if !slices.Equal(names, want) {
		t.Errorf("names = %q, want %q", names, want)
	}
}

func TestMetricFigureTakesTheWorstMedian(t *testing.T) {
	rs := parsed(t, output)
	for _, tc := range []struct {
		f            metricFigure
		measured, ok string
	}{
		// median of 2, 3, 2 is 2: one slow sample does not fail the figure
		{metricFigure{Figure: "broker", Bench: "BenchmarkTokenValid", Sub: "backend=moto", Unit: "roundtrips/op", Dir: atMost, Target: 2}, "2.000 roundtrips/op", okYes},
		{metricFigure{Figure: "broker", Bench: "BenchmarkTokenValid", Sub: "backend=moto", Unit: "roundtrips/op", Dir: atMost, Target: 1}, "2.000 roundtrips/op", okNo},
		// the worst sub-benchmark decides, and is named
		{metricFigure{Figure: "scan", Bench: "BenchmarkScan1M", Unit: "due/s", Dir: atLeast, Target: 2000}, "1,900 due/s (shards=16)", okNo},
		{metricFigure{Figure: "scan", Bench: "BenchmarkScan1M", Unit: "due/s", Dir: atLeast, Target: 1800}, "1,900 due/s (shards=16)", okYes},
		{metricFigure{Figure: "reads", Bench: "BenchmarkScan1M", Unit: "reads/due", Dir: atMost, Target: 1.1}, "1.050 reads/due (shards=16)", okYes},
		// unit conversion: median 18.5 µs, best 18.0 µs
		{metricFigure{Figure: "hit", Bench: "BenchmarkTokenBroker", Unit: "ns/op", Show: "µs/op", Scale: 1e-3, Dir: atMost, Target: 30}, "18.5 µs/op", okYes},
		{metricFigure{Figure: "hit", Bench: "BenchmarkTokenBroker", Unit: "ns/op", Show: "µs/op", Scale: 1e-3, Dir: atMost, Target: 18}, "18.5 µs/op", okNo},
		{metricFigure{Figure: "hit", Bench: "BenchmarkTokenBroker", Unit: "ns/op", Show: "µs/op", Scale: 1e-3, Best: true, Dir: atMost, Target: 18}, "18.0 µs/op", okYes},
		// best of an at-least figure is the highest run; the median of 6.2, 6.9, 6.4 ms is 6.4
		{metricFigure{Figure: "moto", Bench: "BenchmarkTokenValid", Sub: "backend=moto", Unit: "ns/op", Dir: atLeast, Target: 6.5e6}, "6,400,000 ns/op", okNo},
		{metricFigure{Figure: "moto", Bench: "BenchmarkTokenValid", Sub: "backend=moto", Unit: "ns/op", Best: true, Dir: atLeast, Target: 6.5e6}, "6,900,000 ns/op", okYes},
		// a benchmark that does not exist, or lacks the metric
		{metricFigure{Figure: "latency", Bench: "BenchmarkScanInjectedLatency", Unit: "checks/s", Dir: atLeast, Target: 200}, "—", okMissing},
		{metricFigure{Figure: "latency", Bench: "BenchmarkTokenBroker", Unit: "checks/s", Dir: atLeast, Target: 200}, "—", okMissing},
		// a prefix of another benchmark's name is not that benchmark
		{metricFigure{Figure: "prefix", Bench: "BenchmarkToken", Unit: "ns/op", Dir: atMost, Target: 1e9}, "—", okMissing},
		{metricFigure{Figure: "kms", Bench: "BenchmarkTokenBroker", Unit: "allocs/op", Dir: info}, "61.0 allocs/op", okInfo},
	} {
		got := tc.f.eval(rs)
		if got.Measured != tc.measured || got.OK != tc.ok {
			t.Errorf("%+v: got %q %q, want %q %q", tc.f, got.Measured, got.OK, tc.measured, tc.ok)
		}
	}
}

func TestFlatFigure(t *testing.T) {
	f := flatFigure{Figure: "list", Bench: "BenchmarkListIntegrations", Small: "users=10", Large: "users=10000", MaxBytesRatio: 1.05}
	got := f.eval(parsed(t, output))
	if got.OK != okYes || got.Measured != "allocs 51.0 vs 51.0, B 4,096 vs 4,096 (time 0.991× of the fastest runs, 11.3 µs vs 11.4 µs, not judged)" {
		t.Errorf("flat list: %+v", got)
	}
	// time alone does not decide: every run at 10,000 users 1.7× slower (load)
	slower := strings.ReplaceAll(output, "11300 ns/op", "19000 ns/op")
	slower = strings.ReplaceAll(slower, "13500 ns/op", "19500 ns/op")
	if got := f.eval(parsed(t, slower)); got.OK != okYes || !strings.Contains(got.Measured, "time 1.667×") {
		t.Errorf("slower at 10,000 users, same allocations: %+v", got)
	}
	large := "BenchmarkListIntegrations/users=10000-2      \t  100000\t     "
	moreAllocs := strings.ReplaceAll(output, large+"11300 ns/op\t    4096 B/op\t      51", large+"11300 ns/op\t    4096 B/op\t      52")
	moreAllocs = strings.ReplaceAll(moreAllocs, large+"13500 ns/op\t    4096 B/op\t      51", large+"13500 ns/op\t    4096 B/op\t      52")
	if got := f.eval(parsed(t, moreAllocs)); got.OK != okNo || !strings.HasPrefix(got.Measured, "allocs 52.0 vs 51.0") {
		t.Errorf("one more allocation at 10,000 users: %+v", got)
	}
	moreBytes := strings.ReplaceAll(output, large+"11300 ns/op\t    4096 B/op", large+"11300 ns/op\t    4400 B/op")
	moreBytes = strings.ReplaceAll(moreBytes, large+"13500 ns/op\t    4096 B/op", large+"13500 ns/op\t    4400 B/op")
	if got := f.eval(parsed(t, moreBytes)); got.OK != okNo || !strings.Contains(got.Measured, "B 4,400 vs 4,096") {
		t.Errorf("7%% more bytes at 10,000 users: %+v", got)
	}
	if got := f.eval(parsed(t, "")); got.OK != okMissing {
		t.Errorf("no output: %+v", got)
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{2000: "2,000", 1234567.4: "1,234,567", 66.54: "66.5", 1.0031: "1.003", 250: "250", 0.25: "0.250", -12345: "-12,345", 2.4e-06: "2.4e-06", 0: "0.000"} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestTargetText(t *testing.T) {
	for _, tc := range []struct {
		d    direction
		v    float64
		want string
	}{{atLeast, 2000, "≥ 2,000 due/s"}, {atMost, 1.1, "≤ 1.1 due/s"}, {atMost, 2, "≤ 2 due/s"}, {info, 2, "—"}} {
		if got := targetText(tc.d, tc.v, "due/s"); got != tc.want {
			t.Errorf("targetText(%v, %v) = %q, want %q", tc.d, tc.v, got, tc.want)
		}
	}
}

func TestLoadNote(t *testing.T) {
	if n := loadNote(1.9, 2); n != "" {
		t.Errorf("load 1.9 on 2 cores: %q", n)
	}
	if n := loadNote(13.4, 2); !strings.HasPrefix(n, "Load average 13.4 on 2 cores") {
		t.Errorf("load 13.4 on 2 cores: %q", n)
	}
}

func TestPrintTable(t *testing.T) {
	var b strings.Builder
	printTable(&b, []row{{"scan", "1,900 due/s", "≥ 2,000 due/s", okNo}})
	want := "| figure | measured | target | ok |\n|---|---|---|---|\n| scan | 1,900 due/s | ≥ 2,000 due/s | NO |\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestFindAndPlanBenchmarks(t *testing.T) {
	root := t.TempDir()
	write := func(path, body string) {
		t.Helper()
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("shared/expiry/bench_test.go", "package expiry\n\nfunc BenchmarkScan1M(b *testing.B) {}\n\nfunc BenchmarkScanInjectedLatency(tb *testing.B) {}\n// func BenchmarkCommented(b *testing.B) {}\nfunc benchmarkHelper(b *testing.B) {}\n")
	write("shared/handlers/bench_test.go", "package handlers\nfunc BenchmarkListIntegrations(b *testing.B) {}\n")
	write("shared/handlers/main.go", "package handlers\nfunc BenchmarkNotATest(b *testing.B) {}\n")
	write("shared/x/testdata/bench_test.go", "package x\nfunc BenchmarkFixture(b *testing.B) {}\n")
	where, err := findBenchmarks(root)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"BenchmarkScan1M": "./shared/expiry", "BenchmarkScanInjectedLatency": "./shared/expiry", "BenchmarkListIntegrations": "./shared/handlers"}
	if !maps.Equal(where, want) {
		t.Fatalf("found %v, want %v", where, want)
	}

	plan := planRun(benchRun{Names: []string{"BenchmarkScanInjectedLatency", "BenchmarkSealedPut", "BenchmarkScan1M", "BenchmarkListIntegrations"}}, where)
	if len(plan) != 2 {
		t.Fatalf("plan = %+v", plan)
	}
	if plan[0].Pkg != "./shared/expiry" || plan[0].Regex != "^(BenchmarkScanInjectedLatency|BenchmarkScan1M)$" {
		t.Errorf("first run = %+v", plan[0])
	}
	if plan[1].Pkg != "./shared/handlers" || plan[1].Regex != "^(BenchmarkListIntegrations)$" {
		t.Errorf("second run = %+v", plan[1])
	}
}
