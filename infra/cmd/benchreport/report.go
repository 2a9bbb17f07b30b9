package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// result is one benchmark line of `go test -bench` output, in the Go
// benchmark format (https://go.googlesource.com/proposal/+/master/design/14313-benchmark-format.md):
//
//	BenchmarkName/sub=1-2   1000   1234 ns/op   56 B/op   2.000 roundtrips/op
type result struct {
	Pkg    string             // from the last "pkg:" configuration line
	Name   string             // full name without the -GOMAXPROCS suffix
	Iters  int                // iterations
	Values map[string]float64 // value per unit ("ns/op", "allocs/op", "due/s", ...)
}

var procsSuffix = regexp.MustCompile(`-[0-9]+$`)

// parse reads benchmark results from go test output. Lines that are not
// benchmark results (PASS, ok, log output, configuration lines other than
// pkg) are skipped; a line that starts like a result but does not parse is
// skipped too (a benchmark's own log line may begin with "Benchmark").
func parse(r io.Reader) ([]result, error) {
	var out []result
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if res, ok := parseLine(line); ok {
			res.Pkg = pkg
			out = append(out, res)
		}
	}
	return out, sc.Err()
}

func parseLine(line string) (result, bool) {
	if !strings.HasPrefix(line, "Benchmark") {
		return result{}, false // indented: a benchmark's log output
	}
	f := strings.Fields(line)
	// name, iterations, then value-unit pairs
	if len(f) < 4 || len(f)%2 != 0 || !strings.HasPrefix(f[0], "Benchmark") {
		return result{}, false
	}
	first, _, _ := strings.Cut(f[0], "/")
	if len(first) > len("Benchmark") {
		if c := first[len("Benchmark")]; c >= 'a' && c <= 'z' {
			return result{}, false // "Benchmarks..." is not a benchmark name
		}
	}
	iters, err := strconv.Atoi(f[1])
	if err != nil || iters <= 0 {
		return result{}, false
	}
	res := result{Name: procsSuffix.ReplaceAllString(f[0], ""), Iters: iters, Values: map[string]float64{}}
	for i := 2; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return result{}, false
		}
		res.Values[f[i+1]] = v
	}
	return res, true
}

// series is every value of one unit, per full benchmark name, of the
// benchmark named base (itself or its sub-benchmarks; sub, when set, must be
// the exact rest of the name after "base/").
func series(results []result, base, sub, unit string) map[string][]float64 {
	out := map[string][]float64{}
	for _, r := range results {
		if r.Name != base && !strings.HasPrefix(r.Name, base+"/") {
			continue
		}
		if sub != "" && r.Name != base+"/"+sub {
			continue
		}
		if v, ok := r.Values[unit]; ok {
			out[r.Name] = append(out[r.Name], v)
		}
	}
	return out
}

// best is the lowest value for an at-most target, the highest otherwise.
func best(v []float64, d direction) float64 {
	if d == atMost {
		return slices.Min(v)
	}
	return slices.Max(v)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Outcomes in the ok column.
const (
	okYes     = "yes"
	okNo      = "NO"
	okMissing = "missing" // the benchmark does not exist (yet) or reported no such metric
	okInfo    = "info"    // informational, no target
	okError   = "error"   // the measurement itself failed
)

type row struct {
	Figure, Measured, Target, OK string
}

// direction of a target.
type direction int

const (
	atLeast direction = iota // measured ≥ target
	atMost                   // measured ≤ target
	info                     // no target
)

// metricFigure is a figure read from one benchmark metric: the median over
// the -count runs of each matching benchmark (or, with Best, the best run:
// for times, since load from other work on a shared machine only ever adds
// time), then the worst among the matching benchmarks (the lowest for an
// at-least target, the highest for an at-most one), so that every
// sub-benchmark must meet the target.
type metricFigure struct {
	Figure string
	Bench  string // e.g. BenchmarkScan1M
	Sub    string // optional exact sub-benchmark, e.g. backend=moto
	Unit   string // e.g. due/s, as the benchmark reports it
	// Show and Scale, when set, print the value in another unit
	// (ns/op × 0.001 = µs/op); the target is in that unit.
	Show   string
	Scale  float64
	Best   bool // the best run instead of the median
	Dir    direction
	Target float64
}

func (f metricFigure) eval(results []result) row {
	unit, scale := f.Unit, 1.0
	if f.Show != "" {
		unit, scale = f.Show, f.Scale
	}
	r := row{Figure: f.Figure, Target: targetText(f.Dir, f.Target, unit)}
	byName := series(results, f.Bench, f.Sub, f.Unit)
	if len(byName) == 0 {
		r.Measured, r.OK = "—", okMissing
		if f.Dir == info {
			r.Target = "—"
		}
		return r
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	worst, worstName := math.NaN(), ""
	for _, n := range names {
		m := median(byName[n])
		if f.Best {
			m = best(byName[n], f.Dir)
		}
		m *= scale
		if math.IsNaN(worst) || (f.Dir == atLeast && m < worst) || (f.Dir != atLeast && m > worst) {
			worst, worstName = m, n
		}
	}
	r.Measured = formatValue(worst) + " " + unit
	if len(names) > 1 {
		r.Measured += " (" + strings.TrimPrefix(worstName, f.Bench+"/") + ")"
	}
	switch f.Dir {
	case atLeast:
		r.OK = yesNo(worst >= f.Target)
	case atMost:
		r.OK = yesNo(worst <= f.Target)
	default:
		r.OK, r.Target = okInfo, "—"
	}
	return r
}

// flatFigure compares the list benchmark at a small and a large account.
// It is flat when the large account allocates no more per call than the
// small one, in allocations and within MaxBytesRatio in bytes: both are
// deterministic, and a read that grew with the users would allocate for
// what it reads. The fastest runs' time ratio is shown but not judged: on
// the shared 2-core machine the two sizes run one after the other and load
// from other work slowed every run of one size (fastest runs 68.5 µs and
// 36.9 µs for the same code at a load average of 15), so a time target of
// 1.5× could not tell load from a regression.
type flatFigure struct {
	Figure        string
	Bench         string
	Small, Large  string // sub-benchmark names
	MaxBytesRatio float64
}

func (f flatFigure) eval(results []result) row {
	r := row{Figure: f.Figure, Target: fmt.Sprintf("allocs/op ≤ %s's, B/op ≤ %s×", f.Small, formatTarget(f.MaxBytesRatio))}
	get := func(sub, unit string) []float64 { return series(results, f.Bench, sub, unit)[f.Bench+"/"+sub] }
	st, lt := get(f.Small, "ns/op"), get(f.Large, "ns/op")
	sa, la := get(f.Small, "allocs/op"), get(f.Large, "allocs/op")
	sb, lb := get(f.Small, "B/op"), get(f.Large, "B/op")
	if len(st) == 0 || len(lt) == 0 || len(sa) == 0 || len(la) == 0 || len(sb) == 0 || len(lb) == 0 {
		r.Measured, r.OK = "—", okMissing
		return r
	}
	r.Measured = fmt.Sprintf("allocs %s vs %s, B %s vs %s (time %s× of the fastest runs, %s vs %s, not judged)",
		formatValue(median(la)), formatValue(median(sa)), formatValue(median(lb)), formatValue(median(sb)),
		formatValue(slices.Min(lt)/slices.Min(st)), formatDuration(slices.Min(lt)), formatDuration(slices.Min(st)))
	r.OK = yesNo(median(la) <= median(sa) && median(lb) <= f.MaxBytesRatio*median(sb))
	return r
}

func yesNo(ok bool) string {
	if ok {
		return okYes
	}
	return okNo
}

func targetText(d direction, t float64, unit string) string {
	switch d {
	case atLeast:
		return "≥ " + formatTarget(t) + " " + unit
	case atMost:
		return "≤ " + formatTarget(t) + " " + unit
	}
	return "—"
}

// formatTarget prints a target as written: 2,000 · 1.1 · 30.
func formatTarget(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return groupThousands(strconv.FormatFloat(v, 'f', 0, 64))
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// formatValue prints a figure with thousands separators and at most three
// significant decimals: 2,000 · 66.5 · 1.003 · 0.25.
func formatValue(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case math.Abs(v) >= 1000:
		return groupThousands(strconv.FormatFloat(math.Round(v), 'f', 0, 64))
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v != 0 && math.Abs(v) < 0.001:
		// A rate far below one per op (KMS calls per sealed write): its
		// first significant figures, not 0.000.
		return strconv.FormatFloat(v, 'g', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// formatDuration prints nanoseconds as ns, µs, ms or s.
func formatDuration(ns float64) string {
	switch {
	case ns >= 1e9:
		return formatValue(ns/1e9) + " s"
	case ns >= 1e6:
		return formatValue(ns/1e6) + " ms"
	case ns >= 1e3:
		return formatValue(ns/1e3) + " µs"
	}
	return formatValue(ns) + " ns"
}

// printTable writes the rows as a Markdown table (so a run can be pasted
// into docs/performance.md as printed).
func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| figure | measured | target | ok |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.Figure, r.Measured, r.Target, r.OK)
	}
}
