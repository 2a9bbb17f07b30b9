package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/handlers"
)

// Configured hosts get no exemption from the address guard for being
// configured: an extra instance host or a base URL override that resolves
// to loopback is refused. Only a host marked private is reached, over plain
// http.
func TestVendorClientTrustsOnlyPrivateHosts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	defer srv.Close()
	host := srv.Listener.Addr().String()

	configured := config.Config{
		AllowedInstanceHosts: []string{host},
		VendorBaseURLs:       map[string]string{"servicenow.instance": "https://" + host + "/sn/{name}"},
	}
	c := handlers.VendorClient(configured)
	for _, u := range []string{"https://" + host + "/sn/acme/oauth_token.do", srv.URL} {
		resp, err := c.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("GET %s reached a loopback server (status %d)", u, resp.StatusCode)
		}
	}
	if _, err := c.Get("https://" + host); err == nil || !strings.Contains(err.Error(), "non-public") {
		t.Fatalf("GET https://%s: %v, want a refused non-public address", host, err)
	}

	configured.PrivateVendorHosts = []string{host}
	resp, err := handlers.VendorClient(configured).Get(srv.URL + "/sn/acme/oauth_token.do")
	if err != nil {
		t.Fatalf("a host marked private was refused: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
