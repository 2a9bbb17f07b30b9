// Command testsummary reads `go test -json` output on stdin and prints a
// compact summary: one line per package as it finishes (passed, failed and
// skipped tests, elapsed time), then the output of every failed test, every
// build error, and a line for the moto-backed packages.
//
// It exits 1 when any test or package failed, a package did not build,
// the stream ended while a package was still running, no package was seen
// at all, a test was skipped in a moto-backed package (one whose import path
// contains one of the -moto names), or one of those names matched no
// package that ran a test. Those packages run against a real moto server
// and must really run in CI.
//
// Lines that are not test2json events (what `go` itself writes to stderr,
// when it is merged into the pipe) are passed through unchanged.
//
// Counts include subtests: every test or subtest that reports a result
// counts once. Packages are named relative to the module in ./go.mod.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// defaultMoto names the packages whose tests run against moto.
const defaultMoto = "dynamostore,secretsvault,sesmail,eventbridgebus"

func main() {
	moto := flag.String("moto", defaultMoto, "comma-separated substrings of the import paths of the moto-backed packages (each must be tested, none may skip)")
	flag.Parse()
	os.Exit(run(os.Stdin, os.Stdout, options{Moto: strings.Split(*moto, ","), Module: modulePath("go.mod")}))
}

type options struct {
	Moto   []string // substrings of the moto-backed packages' import paths
	Module string   // module path, trimmed from package names when shown
}

// modulePath reads the module path from a go.mod ("" if there is none).
func modulePath(gomod string) string {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// event is one line of `go test -json` (cmd/test2json), including the
// build events (ImportPath, build-output, build-fail, FailedBuild).
type event struct {
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	ImportPath  string
	FailedBuild string
}

type test struct {
	output []string
	result string // pass, fail, skip; "" while running
}

type pkg struct {
	path    string
	result  string // pass, fail, skip; "" while running
	elapsed float64
	output  []string // package-level output (not attributed to a test)
	tests   map[string]*test
	order   []string
	build   string // FailedBuild: the import path whose build failed
	counts  map[string]int
}

type summary struct {
	w        io.Writer
	moto     []string
	module   string
	pkgs     map[string]*pkg
	order    []string
	builds   map[string][]string // build output by ImportPath
	buildErr []string            // ImportPaths whose build failed, in order
}

func run(r io.Reader, w io.Writer, o options) int {
	s := &summary{w: w, module: o.Module, pkgs: map[string]*pkg{}, builds: map[string][]string{}}
	for _, m := range o.Moto {
		if m = strings.TrimSpace(m); m != "" {
			s.moto = append(s.moto, m)
		}
	}
	br := bufio.NewReaderSize(r, 1<<16)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			s.line(line)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				fmt.Fprintf(w, "testsummary: reading input: %v\n", err)
				return 1
			}
			break
		}
	}
	return s.report()
}

func (s *summary) line(line string) {
	var e event
	trimmed := strings.TrimSpace(line)
	if !strings.HasPrefix(trimmed, "{") || json.Unmarshal([]byte(trimmed), &e) != nil || e.Action == "" {
		fmt.Fprint(s.w, strings.TrimRight(line, "\n")+"\n")
		return
	}
	switch e.Action {
	case "build-output":
		s.builds[e.ImportPath] = append(s.builds[e.ImportPath], e.Output)
		return
	case "build-fail":
		if !slices.Contains(s.buildErr, e.ImportPath) {
			s.buildErr = append(s.buildErr, e.ImportPath)
		}
		return
	}
	if e.Package == "" {
		return
	}
	p := s.pkg(e.Package)
	if e.Test == "" {
		switch e.Action {
		case "output":
			p.output = append(p.output, e.Output)
		case "pass", "fail", "skip":
			p.result, p.elapsed, p.build = e.Action, e.Elapsed, e.FailedBuild
			s.finished(p)
		}
		return
	}
	t := p.tests[e.Test]
	if t == nil {
		t = &test{}
		p.tests[e.Test] = t
		p.order = append(p.order, e.Test)
	}
	switch e.Action {
	case "output":
		t.output = append(t.output, e.Output)
	case "pass", "fail", "skip":
		t.result = e.Action
		p.counts[e.Action]++
	}
}

func (s *summary) pkg(path string) *pkg {
	p := s.pkgs[path]
	if p == nil {
		p = &pkg{path: path, tests: map[string]*test{}, counts: map[string]int{}}
		s.pkgs[path] = p
		s.order = append(s.order, path)
	}
	return p
}

func (s *summary) isMoto(path string) bool {
	for _, m := range s.moto {
		if strings.Contains(path, m) {
			return true
		}
	}
	return false
}

// status is the package's verdict and why, as the summary line shows it.
func (s *summary) status(p *pkg) (bad bool, word, note string) {
	switch {
	case p.result == "":
		return true, "FAIL", "no result (stream ended while it ran)"
	case p.build != "":
		return true, "FAIL", "build failed: " + s.name(p.build)
	case p.result == "fail":
		return true, "FAIL", ""
	case s.isMoto(p.path) && p.counts["skip"] > 0:
		return true, "FAIL", "moto-backed package skipped tests"
	case p.result == "skip":
		return false, "-", "no test files"
	}
	return false, "ok", ""
}

// name is how a package (or an import path with its test variant, as
// build events have them) is shown: relative to the module.
func (s *summary) name(path string) string {
	if s.module == "" {
		return path
	}
	return strings.ReplaceAll(path, s.module+"/", "")
}

func (s *summary) finished(p *pkg) {
	bad, word, note := s.status(p)
	if p.result == "skip" && !bad {
		return // no test files: counted in the totals, not listed
	}
	if note != "" {
		note = "  (" + note + ")"
	}
	fmt.Fprintf(s.w, "%-4s %-44s pass %4d  fail %3d  skip %3d  %7.2fs%s\n",
		word, s.name(p.path), p.counts["pass"], p.counts["fail"], p.counts["skip"], p.elapsed, note)
}

func (s *summary) report() int {
	failed := false
	total := map[string]int{} // pass, fail, skip
	motoPkgs, motoPass, motoSkip, noTests := 0, 0, 0, 0
	motoSeen := map[string]bool{}

	for _, path := range s.order {
		if p := s.pkgs[path]; p.result == "" {
			s.finished(p) // its line was never printed: print it now
		}
	}
	for _, path := range s.order {
		p := s.pkgs[path]
		bad, _, note := s.status(p)
		for result, n := range p.counts {
			total[result] += n
		}
		if p.result == "skip" {
			noTests++
		}
		if s.isMoto(path) && p.counts["pass"]+p.counts["fail"]+p.counts["skip"] > 0 {
			motoPkgs++
			motoPass += p.counts["pass"]
			motoSkip += p.counts["skip"]
			for _, m := range s.moto {
				if strings.Contains(path, m) && p.counts["pass"] > 0 {
					motoSeen[m] = true
				}
			}
		}
		if !bad {
			continue
		}
		failed = true
		if p.build != "" && slices.Contains(s.buildErr, p.build) {
			continue // the build output is printed below
		}
		shown := false
		for _, tn := range p.order {
			t := p.tests[tn]
			moto := s.isMoto(path) && t.result == "skip"
			if t.result == "fail" || t.result == "" || moto {
				what := map[string]string{"fail": "FAILED", "": "DID NOT FINISH", "skip": "SKIPPED (not allowed in a moto-backed package)"}[t.result]
				fmt.Fprintf(s.w, "\n=== %s %s %s\n", what, s.name(path), tn)
				fmt.Fprint(s.w, strings.Join(t.output, ""))
				shown = true
			}
		}
		if !shown || p.result == "fail" && p.counts["fail"] == 0 {
			// A crash, a TestMain failure, or a package-level problem:
			// what the package printed outside any test explains it.
			fmt.Fprintf(s.w, "\n=== FAILED package %s", s.name(path))
			if note != "" {
				fmt.Fprintf(s.w, " (%s)", note)
			}
			fmt.Fprintln(s.w)
			fmt.Fprint(s.w, strings.Join(p.output, ""))
		}
	}

	printed := map[string]bool{}
	for _, ip := range s.buildErr {
		failed = true
		// A package that fails to compile is reported once for its test
		// build and once for itself, with the same messages: show them once.
		var msgs []string
		for _, l := range s.builds[ip] {
			if !strings.HasPrefix(l, "# ") {
				msgs = append(msgs, l)
			}
		}
		key := strings.Join(msgs, "")
		if printed[key] && key != "" {
			continue
		}
		printed[key] = true
		fmt.Fprintf(s.w, "\n=== BUILD FAILED %s\n", s.name(ip))
		fmt.Fprint(s.w, strings.Join(s.builds[ip], ""))
	}

	if len(s.order) == 0 {
		failed = true
		fmt.Fprintln(s.w, "\ntestsummary: no test results in the input (did `go test -json` run?)")
	}

	fmt.Fprintf(s.w, "\ntotal: %d packages (%d without tests), %d passed, %d failed, %d skipped\n", len(s.order), noTests, total["pass"], total["fail"], total["skip"])
	fmt.Fprintf(s.w, "moto-backed: %d packages, %d tests passed, %d skipped\n", motoPkgs, motoPass, motoSkip)
	for _, m := range s.moto {
		if !motoSeen[m] {
			failed = true
			fmt.Fprintf(s.w, "moto-backed: no package matching %q ran a test\n", m)
		}
	}
	if failed {
		fmt.Fprintln(s.w, "FAIL")
		return 1
	}
	fmt.Fprintln(s.w, "PASS")
	return 0
}
