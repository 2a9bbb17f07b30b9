package safehttp_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/safehttp"
)

func TestRefusesNonPublicAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	defer srv.Close()

	c := safehttp.Client(5*time.Second, nil)
	_, err := c.Get(srv.URL)
	if err == nil || !strings.Contains(err.Error(), "non-public") {
		t.Fatalf("a loopback vendor was dialled: %v", err)
	}
	// "localhost" resolves to loopback: refused after resolution too.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	if _, err := c.Get("http://localhost:" + port); err == nil {
		t.Fatal("localhost was dialled")
	}

	trusted := safehttp.Client(5*time.Second, safehttp.HostsOf(srv.URL+"/_sandbox/servicenow/{name}"))
	resp, err := trusted.Get(srv.URL)
	if err != nil {
		t.Fatalf("a configured host was refused: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestDoesNotFollowRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	defer srv.Close()
	c := safehttp.Client(5*time.Second, safehttp.HostsOf(srv.URL))
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("the redirect was followed: status %d", resp.StatusCode)
	}
}

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "149.96.10.1": true, "2606:4700::1111": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false, "::1": false,
		"fe80::1": false, "fc00::1": false, "224.0.0.1": false, "::ffff:127.0.0.1": false,
	} {
		if got := safehttp.Public(net.ParseIP(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestHostsOf(t *testing.T) {
	got := safehttp.HostsOf("http://127.0.0.1:3000/_sandbox/confluence", "https://x.example.com", "ftp://no", "")
	if len(got) != 2 || got[0] != "127.0.0.1:3000" || got[1] != "x.example.com" {
		t.Fatalf("HostsOf = %v", got)
	}
}
