package main

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
)

// fakeMode makes the test binary a stand-in bootstrap (see TestMain).
const fakeMode = "BENCHREPORT_FAKE_BOOTSTRAP"

// TestMain turns the test binary into a fake Lambda bootstrap when the
// cold-start tests start it with BENCHREPORT_FAKE_BOOTSTRAP set:
// "runtime" asks the runtime API for its next invocation, as a bootstrap
// does; "aws" first calls the AWS endpoint; "exit" fails its init.
func TestMain(m *testing.M) {
	switch os.Getenv(fakeMode) {
	case "":
		os.Exit(m.Run())
	case "aws":
		if resp, err := http.Get(os.Getenv("AWS_ENDPOINT_URL") + "/"); err == nil {
			resp.Body.Close()
		}
		fallthrough
	case "runtime":
		resp, err := http.Get("http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + runtimeAPIPath)
		if err == nil {
			resp.Body.Close()
		}
		os.Exit(0)
	default:
		os.Stderr.WriteString("bad configuration\n")
		os.Exit(1)
	}
}

func TestColdStartsTimeTheFirstRuntimeRequest(t *testing.T) {
	d, err := coldStarts(os.Args[0], 3, []string{fakeMode + "=runtime"})
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 3 {
		t.Fatalf("%d durations, want 3", len(d))
	}
	for _, x := range d {
		if x <= 0 {
			t.Errorf("duration %v", x)
		}
	}
}

func TestColdStartsRefuseABootstrapThatCallsAWSAtInit(t *testing.T) {
	_, err := coldStarts(os.Args[0], 3, []string{fakeMode + "=aws"})
	if !errors.Is(err, errAWSAtInit) {
		t.Fatalf("err = %v, want %v", err, errAWSAtInit)
	}
}

func TestColdStartsReportABootstrapThatExits(t *testing.T) {
	_, err := coldStarts(os.Args[0], 3, []string{fakeMode + "=exit"})
	if err == nil || !strings.Contains(err.Error(), "exited before its first runtime API request") || !strings.Contains(err.Error(), "bad configuration") {
		t.Fatalf("err = %v", err)
	}
}

func TestLambdaEnvCarriesNoCredentialsOfThisMachine(t *testing.T) {
	t.Setenv("AWS_PROFILE", "someone")
	for _, kv := range lambdaEnv("http://127.0.0.1:1", t.TempDir(), "list-integrations", nil) {
		if strings.HasPrefix(kv, "AWS_PROFILE=") {
			t.Errorf("inherited %s", kv)
		}
	}
}
