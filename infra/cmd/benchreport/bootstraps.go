package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Targets of the bootstrap figures.
const (
	maxBootstrapBytes = 12e6                  // 12 MB (10^6 bytes)
	maxColdStart      = 25 * time.Millisecond // process start → first runtime API request
)

// buildFunctions builds every ./functions/<name> into dir/<name> as
// `make build` does (no cgo, -tags lambda.norpc -trimpath -ldflags='-s -w'),
// for goarch.
func buildFunctions(dir, goarch string, stderr io.Writer) error {
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", dir+string(filepath.Separator), "./functions/...")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build GOARCH=%s ./functions/...: %w", goarch, err)
	}
	return nil
}

// measureBootstraps builds the functions for linux/arm64 (the size figure)
// and linux/amd64 (run here for the cold-start figure), and returns the two
// rows. Failures are appended to errs and shown as "error" rows.
func measureBootstraps(starts int, stdout io.Writer, errs *[]error) []row {
	sizeRow := row{Figure: "bootstrap size, largest (linux/arm64)", Target: "≤ 12 MB", Measured: "—", OK: okError}
	coldRow := row{Figure: "cold start, largest median (linux/amd64 copy)", Target: "≤ 25 ms", Measured: "—", OK: okError}
	fail := func(err error) []row {
		*errs = append(*errs, err)
		return []row{sizeRow, coldRow}
	}
	names, err := functionNames()
	if err != nil {
		return fail(err)
	}
	tmp, err := os.MkdirTemp("", "benchreport-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)

	fmt.Fprintf(stdout, "\nbootstraps: building %d functions for linux/arm64 and linux/amd64\n", len(names))
	arm, amd := filepath.Join(tmp, "arm64"), filepath.Join(tmp, "amd64")
	for _, d := range []string{arm, amd} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fail(err)
		}
	}
	if err := buildFunctions(arm, "arm64", os.Stderr); err != nil {
		return fail(err)
	}
	sizes := map[string]int64{}
	for _, n := range names {
		st, err := os.Stat(filepath.Join(arm, n))
		if err != nil {
			return fail(err)
		}
		sizes[n] = st.Size()
	}
	largest := slices.MaxFunc(names, func(a, b string) int { return int(sizes[a] - sizes[b]) })
	sizeRow.Measured = fmt.Sprintf("%s MB (%s)", formatValue(float64(sizes[largest])/1e6), largest)
	sizeRow.OK = yesNo(sizes[largest] <= maxBootstrapBytes)

	if err := buildFunctions(amd, "amd64", os.Stderr); err != nil {
		*errs = append(*errs, err)
		return []row{sizeRow, coldRow}
	}
	medians := map[string]time.Duration{}
	var coldErrs []string
	for _, n := range names {
		d, err := coldStarts(filepath.Join(amd, n), starts, nil)
		if err != nil {
			coldErrs = append(coldErrs, n)
			*errs = append(*errs, fmt.Errorf("cold start of %s: %w", n, err))
			fmt.Fprintf(stdout, "  %-22s %7s MB  cold start: %v\n", n, formatValue(float64(sizes[n])/1e6), err)
			continue
		}
		slices.Sort(d)
		medians[n] = medianDuration(d)
		fmt.Fprintf(stdout, "  %-22s %7s MB  cold start median %s (min %s, max %s, %d starts)\n", n,
			formatValue(float64(sizes[n])/1e6), ms(medians[n]), ms(d[0]), ms(d[len(d)-1]), len(d))
	}
	if len(coldErrs) > 0 {
		coldRow.Measured = "did not start: " + strings.Join(coldErrs, ", ")
		return []row{sizeRow, coldRow}
	}
	slowest := slices.MaxFunc(names, func(a, b string) int { return int(medians[a] - medians[b]) })
	coldRow.Measured = fmt.Sprintf("%s (%s)", ms(medians[slowest]), slowest)
	coldRow.OK = yesNo(medians[slowest] <= maxColdStart)
	return []row{sizeRow, coldRow}
}

func ms(d time.Duration) string {
	return formatValue(float64(d)/float64(time.Millisecond)) + " ms"
}

func medianDuration(sorted []time.Duration) time.Duration {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// errAWSAtInit: the bootstrap called an AWS endpoint before asking for its
// first invocation (a Lambda's init must not depend on AWS being reachable,
// and every call there is paid on each cold start).
var errAWSAtInit = errors.New("called AWS before its first runtime API request")

// runtimeAPIPath is the Lambda runtime API's next-invocation request
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
const runtimeAPIPath = "/2018-06-01/runtime/invocation/next"

// coldStarts starts bin n times, each against a fresh fake Lambda runtime
// API, and returns the time from just before the process is started to
// the fake API receiving GET .../invocation/next; the process is then
// killed. The environment is what Lambda sets plus the function's
// configuration with dummy values, and AWS_ENDPOINT_URL points at a server
// that counts requests: any AWS call before the first runtime request is an
// error. extraEnv is appended (tests use it).
func coldStarts(bin string, n int, extraEnv []string) ([]time.Duration, error) {
	var awsCalls atomic.Int64
	aws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		awsCalls.Add(1)
		http.Error(w, "benchreport: no AWS here", http.StatusServiceUnavailable)
	}))
	defer aws.Close()
	home, err := os.MkdirTemp("", "benchreport-home-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(home)

	out := make([]time.Duration, 0, n)
	for range n {
		d, err := coldStart(bin, lambdaEnv(aws.URL, home, filepath.Base(bin), extraEnv))
		if err != nil {
			return out, err
		}
		if c := awsCalls.Load(); c > 0 {
			return out, fmt.Errorf("%w (%d requests)", errAWSAtInit, c)
		}
		out = append(out, d)
	}
	return out, nil
}

func lambdaEnv(awsURL, home, name string, extra []string) []string {
	env := []string{
		"HOME=" + home,
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDBENCHREPORT",
		"AWS_SECRET_ACCESS_KEY=benchreport",
		"AWS_SESSION_TOKEN=benchreport",
		"AWS_ENDPOINT_URL=" + awsURL,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + name,
		"_HANDLER=bootstrap",
		// The functions' configuration (template.yaml), dummy values.
		"TABLE_NAME=connections-bench",
		"SECRET_PREFIX=bench",
		"MAIL_FROM=no-reply@example.com",
		"EVENT_BUS_NAME=bench",
		"OAUTH_REDIRECT_URL=https://app.example.com/integrations/oauth2/callback",
		"FRONTEND_URL=https://app.example.com",
		"ATLASSIAN_CLIENT_SECRET_NAME=bench/deployment/confluence/client",
	}
	return append(env, extra...)
}

// coldStart is one start of bin against a fake runtime API.
func coldStart(bin string, env []string) (time.Duration, error) {
	got := make(chan time.Time, 1)
	release := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != runtimeAPIPath {
			http.NotFound(w, r)
			return
		}
		select {
		case got <- time.Now():
		default:
		}
		// Hold the request: no invocation comes; the process is killed.
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	var once sync.Once
	stop := func() { once.Do(func() { close(release); api.CloseClientConnections(); api.Close() }) }
	defer stop()

	var stderr strings.Builder
	cmd := exec.Command(bin)
	cmd.Env = append(slices.Clone(env), "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.URL, "http://"))
	cmd.Stdout = io.Discard
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case t := <-got:
		_ = cmd.Process.Kill()
		<-exited
		return t.Sub(start), nil
	case err := <-exited:
		return 0, fmt.Errorf("exited before its first runtime API request (%v): %s", err, strings.TrimSpace(stderr.String()))
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-exited
		return 0, fmt.Errorf("no runtime API request within 10 s: %s", strings.TrimSpace(stderr.String()))
	}
}

// limitedWriter keeps the first n bytes written.
type limitedWriter struct {
	mu sync.Mutex
	w  io.Writer
	n  int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n > 0 {
		k := min(len(p), l.n)
		l.n -= k
		_, _ = l.w.Write(p[:k])
	}
	return len(p), nil
}
