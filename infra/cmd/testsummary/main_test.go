package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/workplace/connections/"

// passing is a clean run of one ordinary and three moto-backed packages,
// and a package without tests whose path matches a moto-backed name.
var passing = []string{
	`{"Action":"start","Package":"` + mod + `shared/store/layout"}`,
	`{"Action":"output","Package":"` + mod + `shared/store/layout","Output":"?   \t` + mod + `shared/store/dynamostore/layout\t[no test files]\n"}`,
	`{"Action":"skip","Package":"` + mod + `shared/store/layout","Elapsed":0}`,
	`{"Action":"start","Package":"` + mod + `shared/vendors"}`,
	`{"Action":"run","Package":"` + mod + `shared/vendors","Test":"TestRegistry"}`,
	`{"Action":"output","Package":"` + mod + `shared/vendors","Test":"TestRegistry","Output":"=== RUN   TestRegistry\n"}`,
	`{"Action":"pass","Package":"` + mod + `shared/vendors","Test":"TestRegistry","Elapsed":0.01}`,
	`{"Action":"run","Package":"` + mod + `shared/vendors","Test":"TestOptional"}`,
	`{"Action":"skip","Package":"` + mod + `shared/vendors","Test":"TestOptional","Elapsed":0}`,
	`{"Action":"pass","Package":"` + mod + `shared/vendors","Elapsed":0.02}`,
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
	// The moto-backed packages of these fixtures (defaultMoto names more).
	o := options{Moto: []string{"dynamostore", "secretsvault", "sesmail"}, Module: strings.TrimSuffix(mod, "/")}
	code := run(strings.NewReader(strings.Join(lines, "\n")+"\n"), &out, o)
	return code, out.String()
}

// withoutSesmail is passing without the sesmail package.
var withoutSesmail = slices.DeleteFunc(slices.Clone(passing), func(l string) bool {
	return strings.Contains(l, "sesmail")
})

func TestSummary(t *testing.T) {
	for _, c := range []struct {
		name   string
		lines  []string
		code   int      // exit code
		want   []string // in the output
		absent []string // not in the output
		once   []string // in the output exactly once
	}{
		{
			name:  "passing run",
			lines: passing,
			code:  0,
			want: []string{
				"ok   shared/vendors ",
				"pass    1  fail   0  skip   1",
				"total: 5 packages (1 without tests), 5 passed, 0 failed, 1 skipped",
				// subtests count: TestContract and TestContract/Apply
				"moto-backed: 3 packages, 4 tests passed, 0 skipped",
				"PASS",
			},
			// a package without tests is not listed
			absent: []string{"layout"},
		},
		{
			name: "failed test shows its output",
			lines: slices.Concat([]string{
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
			}, passing),
			code: 1,
			want: []string{
				"FAIL shared/connection ",
				"pass    1  fail   1  skip   0",
				"=== FAILED shared/connection TestStatus",
				"connection_test.go:42: status = expired, want expiring",
				"total: 6 packages (1 without tests), 6 passed, 1 failed, 1 skipped",
				"\nFAIL\n",
			},
			// a passing test's output is not printed
			absent: []string{"noise from a passing test"},
		},
		{
			name: "skip in a moto-backed package fails",
			lines: slices.Concat(passing, []string{
				`{"Action":"start","Package":"` + mod + `shared/store/dynamostore/more"}`,
				`{"Action":"run","Package":"` + mod + `shared/store/dynamostore/more","Test":"TestLease"}`,
				`{"Action":"output","Package":"` + mod + `shared/store/dynamostore/more","Test":"TestLease","Output":"    lease_test.go:9: moto not installed\n"}`,
				`{"Action":"skip","Package":"` + mod + `shared/store/dynamostore/more","Test":"TestLease","Elapsed":0}`,
				`{"Action":"run","Package":"` + mod + `shared/store/dynamostore/more","Test":"TestOK"}`,
				`{"Action":"pass","Package":"` + mod + `shared/store/dynamostore/more","Test":"TestOK","Elapsed":0}`,
				`{"Action":"pass","Package":"` + mod + `shared/store/dynamostore/more","Elapsed":0.1}`,
			}),
			code: 1,
			want: []string{
				"(moto-backed package skipped tests)",
				"SKIPPED (not allowed in a moto-backed package) shared/store/dynamostore/more TestLease",
				"moto not installed",
				"moto-backed: 4 packages, 5 tests passed, 1 skipped",
			},
		},
		{
			name: "moto-backed package without tests",
			lines: slices.Concat(withoutSesmail, []string{
				`{"Action":"start","Package":"` + mod + `shared/mail/sesmail"}`,
				`{"Action":"output","Package":"` + mod + `shared/mail/sesmail","Output":"?   \t` + mod + `shared/mail/sesmail\t[no test files]\n"}`,
				`{"Action":"skip","Package":"` + mod + `shared/mail/sesmail","Elapsed":0}`,
			}),
			code: 1,
			want: []string{"total: 5 packages (2 without tests)", `no package matching "sesmail" ran a test`},
		},
		{
			name:  "moto-backed package missing",
			lines: withoutSesmail,
			code:  1,
			want:  []string{`no package matching "sesmail" ran a test`},
		},
		{
			name: "build failure",
			lines: slices.Concat([]string{
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
			}, passing),
			code: 1,
			want: []string{
				"FAIL shared/apigw ",
				"(build failed: shared/apigw [shared/apigw.test])",
				"FAIL functions/disconnect ",
				"(build failed: shared/apigw)",
				"=== BUILD FAILED shared/apigw",
				"shared/apigw/io.go:12:2: undefined: Claims",
			},
			// the compiler message of the package and of its test build
			once: []string{"undefined: Claims"},
		},
		{
			name: "setup failure and stray lines",
			lines: slices.Concat([]string{
				`go: downloading example.com/x v1.0.0`,
				`{"ImportPath":"` + mod + `missing","Action":"build-output","Output":"# ` + mod + `functions/oauth-url\n"}`,
				`{"ImportPath":"` + mod + `missing","Action":"build-output","Output":"functions/oauth-url/main.go:5:2: no required module provides package ` + mod + `missing\n"}`,
				`{"ImportPath":"` + mod + `missing","Action":"build-fail"}`,
				`{"Action":"start","Package":"` + mod + `functions/oauth-url"}`,
				`{"Action":"output","Package":"` + mod + `functions/oauth-url","Output":"FAIL\t` + mod + `functions/oauth-url [setup failed]\n"}`,
				`{"Action":"fail","Package":"` + mod + `functions/oauth-url","Elapsed":0,"FailedBuild":"` + mod + `missing"}`,
			}, passing),
			code: 1,
			want: []string{"go: downloading example.com/x v1.0.0\n", "no required module provides package"},
		},
		{
			name: "crash and truncated stream",
			lines: slices.Concat([]string{
				`{"Action":"start","Package":"` + mod + `functions/expiry-scan"}`,
				`{"Action":"output","Package":"` + mod + `functions/expiry-scan","Output":"TestMain: moto did not start\n"}`,
				`{"Action":"output","Package":"` + mod + `functions/expiry-scan","Output":"FAIL\t` + mod + `functions/expiry-scan\t0.01s\n"}`,
				`{"Action":"fail","Package":"` + mod + `functions/expiry-scan","Elapsed":0.01}`,
			}, passing, []string{
				`{"Action":"start","Package":"` + mod + `shared/notices"}`,
				`{"Action":"run","Package":"` + mod + `shared/notices","Test":"TestHang"}`,
				`{"Action":"output","Package":"` + mod + `shared/notices","Test":"TestHang","Output":"=== RUN   TestHang\n"}`,
			}),
			code: 1,
			want: []string{
				"=== FAILED package functions/expiry-scan",
				"TestMain: moto did not start",
				"no result (stream ended while it ran)",
				"=== DID NOT FINISH shared/notices TestHang",
			},
		},
		{
			name: "empty input fails",
			code: 1,
			want: []string{"no test results"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out := summarize(t, c.lines...)
			if code != c.code {
				t.Fatalf("exit %d, want %d:\n%s", code, c.code, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, a := range c.absent {
				if strings.Contains(out, a) {
					t.Errorf("output has %q:\n%s", a, out)
				}
			}
			for _, o := range c.once {
				if n := strings.Count(out, o); n != 1 {
					t.Errorf("%q printed %d times, want once:\n%s", o, n, out)
				}
			}
		})
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
