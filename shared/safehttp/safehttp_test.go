package safehttp_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/safehttp"
)

func teapot(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	t.Cleanup(srv.Close)
	return srv
}

// A host that is not marked private is held to https and public addresses,
// checked after name resolution.
func TestRefusesNonPublicAddresses(t *testing.T) {
	srv := teapot(t)
	hostport := srv.Listener.Addr().String() // 127.0.0.1:port
	_, port, _ := net.SplitHostPort(hostport)

	c := safehttp.Client(5*time.Second, nil)
	for _, u := range []string{
		"https://" + hostport,
		"https://localhost:" + port, // resolves to loopback: refused after resolution
	} {
		_, err := c.Get(u)
		if err == nil || !strings.Contains(err.Error(), "non-public") {
			t.Errorf("GET %s: %v, want a refused non-public address", u, err)
		}
	}
	// Plain http is refused before any dial.
	_, err := c.Get(srv.URL)
	if err == nil || !strings.Contains(err.Error(), "https only") {
		t.Fatalf("GET %s: %v, want plain http refused", srv.URL, err)
	}
}

// Hosts the deployment marked private (the local sandbox) are reached over
// plain http at a loopback address; the same address under another name or
// port is not.
func TestPrivateHosts(t *testing.T) {
	srv := teapot(t)
	hostport := srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(hostport)

	c := safehttp.Client(5*time.Second, []string{" " + hostport + " "})
	resp, err := c.Get(srv.URL + "/_sandbox/servicenow/acme/oauth_token.do")
	if err != nil {
		t.Fatalf("a private host was refused: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, u := range []string{"http://localhost:" + port, "https://localhost:" + port} {
		if _, err := c.Get(u); err == nil {
			t.Errorf("GET %s: a host not marked private was dialled at loopback", u)
		}
	}
	// A request body is closed when the request is refused.
	body := &closeRecorder{Reader: strings.NewReader("token=x")}
	req, _ := http.NewRequest(http.MethodPost, "http://localhost:"+port, body)
	if _, err := c.Do(req); err == nil || !body.closed {
		t.Fatalf("refused request: err %v, body closed %v", err, body.closed)
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestDoesNotFollowRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	defer srv.Close()
	c := safehttp.Client(5*time.Second, []string{srv.Listener.Addr().String()})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("the redirect was followed: status %d", resp.StatusCode)
	}
}

func TestMatchHost(t *testing.T) {
	patterns := []string{"127.0.0.1:3000", "Sandbox.Test", "*.corp.example", "[::1]:3000", " "}
	for host, want := range map[string]bool{
		"127.0.0.1:3000":       true,
		"127.0.0.1:3001":       false,
		"127.0.0.1":            false,
		"sandbox.test":         true,
		"SANDBOX.TEST":         true,
		"sandbox.test:8443":    false,
		"sn.corp.example":      true,
		"corp.example":         false,
		"sn.corp.example:8443": false,
		"[::1]:3000":           true,
		"[::1]":                false,
		"":                     false,
		"evil.test":            false,
	} {
		if got := safehttp.MatchHost(patterns, host); got != want {
			t.Errorf("MatchHost(%q) = %v, want %v", host, got, want)
		}
	}
	if safehttp.MatchHost(nil, "127.0.0.1:3000") {
		t.Error("no pattern matches nothing")
	}
}
