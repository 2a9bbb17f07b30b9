package sandbox

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

func (e *env) stats(vendorID string) Stats {
	e.t.Helper()
	var out Stats
	if st := e.get("/_sandbox/"+vendorID+"/stats", "", &out); st != http.StatusOK {
		e.t.Fatalf("stats of %s: %d", vendorID, st)
	}
	return out
}

// Every token request is counted by its grant type, whatever its answer.
func TestStatsCountTokenRequests(t *testing.T) {
	e := newEnv(t, Config{})
	for _, id := range []string{"servicenow", "confluence"} {
		if got := e.stats(id); got != (Stats{}) {
			t.Fatalf("fresh %s: %+v", id, got)
		}
	}
	cfg := e.serviceNow("acme", "c", "s")
	const tokenPath = "/_sandbox/servicenow/acme/oauth_token.do"

	tok := e.connect(cfg)                  // exchange, answered with tokens
	e.mustRefresh(cfg, tok.RefreshToken)   // refresh, answered with tokens
	_, err := e.refresh(cfg, "dead-token") // refresh, refused
	retrieveError(t, err, http.StatusUnauthorized, "server_error")
	_, err = cfg.Exchange(e.ctx(), "bad-code") // exchange, refused
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
	wrongSecret := e.serviceNow("acme", "c", "not-the-secret")
	_, err = e.refresh(wrongSecret, tok.RefreshToken) // refresh, bad client
	retrieveError(t, err, http.StatusUnauthorized, "invalid_client")
	e.post("/_sandbox/servicenow/outage?status=503")
	_, err = e.refresh(cfg, tok.RefreshToken) // refresh, answered by the outage
	retrieveError(t, err, http.StatusServiceUnavailable, "temporarily_unavailable")
	e.post("/_sandbox/servicenow/outage?status=0")

	// Neither count: another grant type, none, a body that is not a form,
	// another method.
	e.postForm(tokenPath, url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"s"}}, nil)
	e.postForm(tokenPath, url.Values{"client_id": {"c"}, "client_secret": {"s"}}, nil)
	e.postJSON(tokenPath, map[string]string{"grant_type": "refresh_token"}, nil)
	e.get(tokenPath, "", nil)

	if got, want := e.stats("servicenow"), (Stats{AuthorizationCode: 2, RefreshToken: 4}); got != want {
		t.Fatalf("ServiceNow: %+v, want %+v", got, want)
	}
	if got := e.stats("confluence"); got != (Stats{}) {
		t.Fatalf("Confluence counted ServiceNow's requests: %+v", got)
	}
	e.connect(e.atlassian(oauth2.AuthStyleInHeader), atlassianParams...)
	if got := e.stats("confluence"); got != (Stats{AuthorizationCode: 1}) {
		t.Fatalf("Confluence after one exchange: %+v", got)
	}

	req, _ := http.NewRequest(http.MethodPost, e.url("/_sandbox/servicenow/stats"), strings.NewReader(""))
	if st, h := e.do(req, nil); st != http.StatusMethodNotAllowed || h.Get("Allow") != http.MethodGet {
		t.Fatalf("POST stats: %d %v", st, h)
	}
}

// Requests at the same time are all counted.
func TestStatsParallel(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.serviceNow("acme", "c", "s")
	tok := e.connect(cfg)
	const n = 50
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// ServiceNow does not rotate: every refresh succeeds.
			if _, err := e.refresh(cfg, tok.RefreshToken); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := e.stats("servicenow"); got != (Stats{AuthorizationCode: 1, RefreshToken: n}) {
		t.Fatalf("after %d parallel refreshes: %+v", n, got)
	}
}
