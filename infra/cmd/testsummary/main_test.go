package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/workplace/connections/"

// passing is a clean run of one ordinary and three moto-backed packages,
// and a package without tests whose path matches a moto-backed name.
var passing = []string{
	`{"Action":"start","Package":"` + mod + `shared/store/dynamostore/layout"}`,
	`{"Action":"output","Package":"` + mod + `shared/store/dynamostore/layout","Output":"?   \t` + mod + `shared/store/dynamostore/layout\t[no test files]\n"}`,
	`{"Action":"skip","Package":"` + mod + `shared/store/dynamostore/layout","Elapsed":0}`,
	`{"Action":"start","Package":"` + mod + `shared/vendor"}`,
	`{"Action":"run","Package":"` + mod + `shared/vendor","Test":"TestRegistry"}`,
	`{"Action":"output","Package":"` + mod + `shared/vendor","Test":"TestRegistry","Output":"=== RUN   TestRegistry\n"}`,
	`{"Action":"pass","Package":"` + mod + `shared/vendor","Test":"TestRegistry","Elapsed":0.01}`,
	`{"Action":"run","Package":"` + mod + `shared/vendor","Test":"TestOptional"}`,
	`{"Action":"skip","Package":"` + mod + `shared/vendor","Test":"TestOptional","Elapsed":0}`,
	`{"Action":"pass","Package":"` + mod + `shared/vendor","Elapsed":0.02}`,
	`{"Action":"start","Package":"` + mod + `shared/store/dynamostore"}`,
	`{"Action":"run","Package":"` + mod + `shared/store/dynamostore","Test":"TestContract"}`,
	`{"Action":"run","Package":"` + mod + `shared/store/dynamostore","Test":"TestContract/Apply"}`,
	`{"Action":"pass","Package":"` + mod + `shared/store/dynamostore","Test":"TestContract/Apply","Elapsed":0.1}`,
	`{"Action":"pass","Package":"` + mod + `shared/store/dynamostore","Test":"TestContract","Elapsed":0.1}`,
	`{"Action":"pass","Package":"` + mod + `shared/store/dynamostore","Elapsed":1.5}`,
	`{"Action":"start","Package":"` + mod + `shared/vault/secretsvault"}`,
	`{"Action":"run","Package":"` + mod + `shared/vault/secretsvault","Test":"TestPut"}`,
	`{"Action":"pass","Package":"` + mod + `shared/vault/secretsvault","Test":"TestPut","Elapsed":0.1}`,
	`{"Action":"pass","Package":"` + mod + `shared/vault/secretsvault","Elapsed":0.4}`,
	`{"Action":"start","Package":"` + mod + `shared/mail/sesmail"}`,
	`{"Action":"run","Package":"` + mod + `shared/mail/sesmail","Test":"TestSend"}`,
	`{"Action":"pass","Package":"` + mod + `shared/mail/sesmail","Test":"TestSend","Elapsed":0.1}`,
	`{"Action":"pass","Package":"` + mod + `shared/mail/sesmail","Elapsed":0.3}`,
}

func summarize(t *testing.T, lines ...string) (int, string) {
	t.Helper()
	var out strings.Builder
	o := options{Moto: strings.Split(defaultMoto, ","), Module: strings.TrimSuffix(mod, "/")}
	code := run(strings.NewReader(strings.Join(lines, "\n")+"\n"), &out, o)
	return code, out.String()
}

func contains(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestPassingRun(t *testing.T) {
	code, out := summarize(t, passing...)
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	contains(t, out,
		"ok   shared/vendor ",
		"pass    1  fail   0  skip   1",
		"total: 5 packages (1 without tests), 5 passed, 0 failed, 1 skipped",
		// subtests count: TestContract and TestContract/Apply
		"moto-backed: 3 packages, 4 tests passed, 0 skipped",
		"PASS",
	)
	if strings.Contains(out, "layout") {
		t.Errorf("a package without tests was listed:\n%s", out)
	}
}

func TestModulePath(t *testing.T) {
	gomod := filepath.Join(t.TempDir(), "go.mod")
	if err := os.WriteFile(gomod, []byte("// a comment\nmodule example.com/m\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := modulePath(gomod); got != "example.com/m" {
		t.Errorf("modulePath = %q, want example.com/m", got)
	}
	if got := modulePath(filepath.Join(t.TempDir(), "none")); got != "" {
		t.Errorf("modulePath of a missing file = %q, want empty", got)
	}
}

func TestFailedTestShowsItsOutput(t *testing.T) {
	lines := append([]string{
		`{"Action":"start","Package":"` + mod + `shared/connection"}`,
		`{"Action":"run","Package":"` + mod + `shared/connection","Test":"TestStatus"}`,
		`{"Action":"output","Package":"` + mod + `shared/connection","Test":"TestStatus","Output":"=== RUN   TestStatus\n"}`,
		`{"Action":"run","Package":"` + mod + `shared/connection","Test":"TestOther"}`,
		`{"Action":"output","Package":"` + mod + `shared/connection","Test":"TestOther","Output":"    noise from a passing test\n"}`,
		`{"Action":"pass","Package":"` + mod + `shared/connection","Test":"TestOther","Elapsed":0}`,
		`{"Action":"output","Package":"` + mod + `shared/connection","Test":"TestStatus","Output":"    connection_test.go:42: status = expired, want expiring\n"}`,
		`{"Action":"output","Package":"` + mod + `shared/connection","Test":"TestStatus","Output":"--- FAIL: TestStatus (0.00s)\n"}`,
		`{"Action":"fail","Package":"` + mod + `shared/connection","Test":"TestStatus","Elapsed":0}`,
		`{"Action":"output","Package":"` + mod + `shared/connection","Output":"FAIL\n"}`,
		`{"Action":"fail","Package":"` + mod + `shared/connection","Elapsed":0.2}`,
	}, passing...)
	code, out := summarize(t, lines...)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	contains(t, out,
		"FAIL shared/connection ",
		"pass    1  fail   1  skip   0",
		"=== FAILED shared/connection TestStatus",
		"connection_test.go:42: status = expired, want expiring",
		"total: 6 packages (1 without tests), 6 passed, 1 failed, 1 skipped",
		"\nFAIL\n",
	)
	if strings.Contains(out, "noise from a passing test") {
		t.Errorf("a passing test's output was printed:\n%s", out)
	}
}

func TestSkipInMotoBackedPackageFails(t *testing.T) {
	lines := append([]string{}, passing...)
	lines = append(lines,
		`{"Action":"start","Package":"`+mod+`shared/store/dynamostore/more"}`,
		`{"Action":"run","Package":"`+mod+`shared/store/dynamostore/more","Test":"TestLease"}`,
		`{"Action":"output","Package":"`+mod+`shared/store/dynamostore/more","Test":"TestLease","Output":"    lease_test.go:9: moto not installed\n"}`,
		`{"Action":"skip","Package":"`+mod+`shared/store/dynamostore/more","Test":"TestLease","Elapsed":0}`,
		`{"Action":"run","Package":"`+mod+`shared/store/dynamostore/more","Test":"TestOK"}`,
		`{"Action":"pass","Package":"`+mod+`shared/store/dynamostore/more","Test":"TestOK","Elapsed":0}`,
		`{"Action":"pass","Package":"`+mod+`shared/store/dynamostore/more","Elapsed":0.1}`,
	)
	code, out := summarize(t, lines...)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	contains(t, out,
		"(moto-backed package skipped tests)",
		"SKIPPED (not allowed in a moto-backed package) shared/store/dynamostore/more TestLease",
		"moto not installed",
		"moto-backed: 4 packages, 5 tests passed, 1 skipped",
	)
}

func TestMotoBackedPackageMustRun(t *testing.T) {
	var lines []string
	for _, l := range passing {
		if !strings.Contains(l, "sesmail") {
			lines = append(lines, l)
		}
	}
	lines = append(lines,
		`{"Action":"start","Package":"`+mod+`shared/mail/sesmail"}`,
		`{"Action":"output","Package":"`+mod+`shared/mail/sesmail","Output":"?   \t`+mod+`shared/mail/sesmail\t[no test files]\n"}`,
		`{"Action":"skip","Package":"`+mod+`shared/mail/sesmail","Elapsed":0}`,
	)
	code, out := summarize(t, lines...)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	contains(t, out, "total: 5 packages (2 without tests)", `no package matching "sesmail" ran a test`)

	// And when the package is not there at all.
	code, out = summarize(t, lines[:len(lines)-3]...)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	contains(t, out, `no package matching "sesmail" ran a test`)
}

func TestBuildFailure(t *testing.T) {
	lines := append([]string{
		`{"ImportPath":"` + mod + `shared/apigw [` + mod + `shared/apigw.test]","Action":"build-output","Output":"# ` + mod + `shared/apigw [` + mod + `shared/apigw.test]\n"}`,
		`{"ImportPath":"` + mod + `shared/apigw [` + mod + `shared/apigw.test]","Action":"build-output","Output":"shared/apigw/io.go:12:2: undefined: Claims\n"}`,
		`{"ImportPath":"` + mod + `shared/apigw [` + mod + `shared/apigw.test]","Action":"build-fail"}`,
		`{"ImportPath":"` + mod + `shared/apigw","Action":"build-output","Output":"# ` + mod + `shared/apigw\n"}`,
		`{"ImportPath":"` + mod + `shared/apigw","Action":"build-output","Output":"shared/apigw/io.go:12:2: undefined: Claims\n"}`,
		`{"ImportPath":"` + mod + `shared/apigw","Action":"build-fail"}`,
		`{"Action":"start","Package":"` + mod + `shared/apigw"}`,
		`{"Action":"output","Package":"` + mod + `shared/apigw","Output":"FAIL\t` + mod + `shared/apigw [build failed]\n"}`,
		`{"Action":"fail","Package":"` + mod + `shared/apigw","Elapsed":0,"FailedBuild":"` + mod + `shared/apigw [` + mod + `shared/apigw.test]"}`,
		`{"Action":"start","Package":"` + mod + `functions/disconnect"}`,
		`{"Action":"output","Package":"` + mod + `functions/disconnect","Output":"FAIL\t` + mod + `functions/disconnect [build failed]\n"}`,
		`{"Action":"fail","Package":"` + mod + `functions/disconnect","Elapsed":0,"FailedBuild":"` + mod + `shared/apigw"}`,
	}, passing...)
	code, out := summarize(t, lines...)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	contains(t, out,
		"FAIL shared/apigw ",
		"(build failed: shared/apigw [shared/apigw.test])",
		"FAIL functions/disconnect ",
		"(build failed: shared/apigw)",
		"=== BUILD FAILED shared/apigw",
		"shared/apigw/io.go:12:2: undefined: Claims",
	)
	if n := strings.Count(out, "undefined: Claims"); n != 1 {
		t.Errorf("compiler message printed %d times, want once:\n%s", n, out)
	}
}

func TestSetupFailureAndStrayLines(t *testing.T) {
	lines := append([]string{
		`go: downloading example.com/x v1.0.0`,
		`{"ImportPath":"` + mod + `missing","Action":"build-output","Output":"# ` + mod + `functions/oauth-url\n"}`,
		`{"ImportPath":"` + mod + `missing","Action":"build-output","Output":"functions/oauth-url/main.go:5:2: no required module provides package ` + mod + `missing\n"}`,
		`{"ImportPath":"` + mod + `missing","Action":"build-fail"}`,
		`{"Action":"start","Package":"` + mod + `functions/oauth-url"}`,
		`{"Action":"output","Package":"` + mod + `functions/oauth-url","Output":"FAIL\t` + mod + `functions/oauth-url [setup failed]\n"}`,
		`{"Action":"fail","Package":"` + mod + `functions/oauth-url","Elapsed":0,"FailedBuild":"` + mod + `missing"}`,
	}, passing...)
	code, out := summarize(t, lines...)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	contains(t, out, "go: downloading example.com/x v1.0.0\n", "no required module provides package")
}

func TestCrashAndTruncatedStream(t *testing.T) {
	lines := append([]string{
		`{"Action":"start","Package":"` + mod + `functions/expiry-scan"}`,
		`{"Action":"output","Package":"` + mod + `functions/expiry-scan","Output":"TestMain: moto did not start\n"}`,
		`{"Action":"output","Package":"` + mod + `functions/expiry-scan","Output":"FAIL\t` + mod + `functions/expiry-scan\t0.01s\n"}`,
		`{"Action":"fail","Package":"` + mod + `functions/expiry-scan","Elapsed":0.01}`,
	}, passing...)
	lines = append(lines,
		`{"Action":"start","Package":"`+mod+`shared/notices"}`,
		`{"Action":"run","Package":"`+mod+`shared/notices","Test":"TestHang"}`,
		`{"Action":"output","Package":"`+mod+`shared/notices","Test":"TestHang","Output":"=== RUN   TestHang\n"}`,
	)
	code, out := summarize(t, lines...)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	contains(t, out,
		"=== FAILED package functions/expiry-scan",
		"TestMain: moto did not start",
		"no result (stream ended while it ran)",
		"=== DID NOT FINISH shared/notices TestHang",
	)
}

func TestEmptyInputFails(t *testing.T) {
	code, out := summarize(t)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	contains(t, out, "no test results")
}
