// Package awstest starts a moto server (a local emulator of the AWS APIs)
// for tests and gives an aws.Config pointed at it. The tests own the process:
// it listens on a free loopback port and is stopped when the test binary
// ends. Nothing here is used outside tests.
package awstest

import (
	"context"
	_ "embed"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// motoServer is moto's server with PutSecretValue refusing a secret
// scheduled for deletion, as AWS does (moto accepts it silently).
//
//go:embed motoserver.py
var motoServer string

// Server is a running moto server.
type Server struct {
	URL string
	cmd *exec.Cmd
}

var (
	once   sync.Once
	shared *Server
	err    error
)

// Moto returns the package's moto server, starting it on first use. If moto
// cannot be started the test fails (it is never skipped: CI must run these
// tests); set MOTO_URL to use a server that is already running (started
// with motoserver.py, for PutSecretValue as AWS answers it).
func Moto(t testing.TB) *Server {
	t.Helper()
	once.Do(func() { shared, err = start() })
	if err != nil {
		t.Fatalf("moto server: %v (install it with `pip install 'moto[server]'`)", err)
	}
	return shared
}

// Stop ends the server; call it from TestMain after m.Run.
func Stop() {
	if shared != nil && shared.cmd != nil && shared.cmd.Process != nil {
		_ = syscall.Kill(-shared.cmd.Process.Pid, syscall.SIGKILL)
		_ = shared.cmd.Wait()
	}
}

// Main runs a package's tests and stops moto afterwards.
func Main(m interface{ Run() int }) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

func start() (*Server, error) {
	if u := os.Getenv("MOTO_URL"); u != "" {
		return &Server{URL: strings.TrimRight(u, "/")}, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	py := os.Getenv("PYTHON")
	if py == "" {
		py = "python3"
	}
	cmd := exec.Command(py, "-c", motoServer, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case e := <-exited:
			return nil, fmt.Errorf("moto exited: %v", e)
		case <-deadline:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			return nil, fmt.Errorf("moto did not answer on %s", s.URL)
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			// Hand the Wait over: Stop waits on it.
			go func() { <-exited }()
			s.cmd = &exec.Cmd{Process: cmd.Process}
			return s, nil
		}
	}
}

// Config is an aws.Config pointed at the server, with dummy credentials
// (moto routes by the SigV4 signature, so requests must be signed).
func (s *Server) Config(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")),
		config.WithBaseEndpoint(s.URL),
		// A fresh connection per request: under load moto's server may
		// close a kept-alive connection while the SDK still reads an
		// answer, and the SDK's retry of a conditional write that had
		// succeeded then meets its own first attempt (seen as a spurious
		// conflict). Real AWS endpoints are used with the SDK's defaults.
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.DisableKeepAlives = true
		})),
	)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Reset clears everything moto holds.
func (s *Server) Reset(t testing.TB) {
	t.Helper()
	resp, err := http.Post(s.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// Unique returns a name no other test in this run uses (tables, secret
// prefixes), so tests sharing one server do not see each other.
func Unique(prefix string) string {
	mu.Lock()
	defer mu.Unlock()
	seq++
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), seq)
}

var (
	mu  sync.Mutex
	seq int
)
