package localserver_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/workplace/connections/infra/localserver"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault/memvault"
)

// TestLocalUncleanAndUnknownPaths: a path with "." or ".." segments, an
// empty segment ("//"), a trailing slash or a subtree root without its
// slash is the API's JSON 404 — never http.ServeMux's HTML redirect to a
// cleaned path — whatever the prefix and the method.
func TestLocalUncleanAndUnknownPaths(t *testing.T) {
	e := newEnv(t, nil)
	paths := []string{
		"/v1/account/integrations/../integrations",
		"/v1/account/integrations/./servicenow/oauth2/url?flow=app",
		"/v1/./account/integrations",
		"/v1/account/integrations/servicenow/..",
		"/v1/account/integrations/%2e%2e/integrations",
		"/%2E%2E/v1/account/integrations",
		"//v1/account/integrations",
		"/v1//account/integrations",
		"/v1/account//integrations/servicenow/settings",
		"/v1/account/integrations/",
		"/v1/me/notifications/",
		"/v1/me/notifications//dismiss",
		"/..",
		"/.",
		"//",
		"/_local",
		"/_local/../v1/account/integrations",
		"/_local/./outbox",
		"/_local//outbox",
		"/_sandbox",
		"/_sandbox/../_local/outbox",
		"/_sandbox/servicenow/acme/../acme/oauth_auth.do",
		"/_sandbox//servicenow/revoke",
		"/console/../console",
		"/console/./callback",
		"/console//callback",
		"/console/nothing",
	}
	for _, p := range paths {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			r := e.call(m, p, &ada, "")
			if loc := r.header.Get("Location"); loc != "" {
				t.Errorf("%s %s: redirected to %s (%d)", m, p, loc, r.status)
				continue
			}
			if r.status != http.StatusNotFound {
				t.Errorf("%s %s: %d %s, want 404", m, p, r.status, r.body)
				continue
			}
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" || json.Unmarshal(r.body, &body) != nil || body.Error.Code != "not_found" {
				t.Errorf("%s %s: %s %s, want the JSON not_found", m, p, ct, r.body)
			}
		}
	}
	// The clean forms still work.
	e.want(e.get("/v1/account/integrations", &ada), http.StatusOK, "list")
	e.want(e.get("/_local/outbox", nil), http.StatusOK, "outbox")
	e.want(e.get("/console/", nil), http.StatusOK, "console")
	e.want(e.get("/console/callback", nil), http.StatusOK, "callback page")
}

// TestLocalMethodNotAllowed: a known path asked with another method is 405
// with an Allow header listing the methods that path has — API routes,
// local tools, console pages and the sandbox alike.
func TestLocalMethodNotAllowed(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		method, path, allow string
		sandbox             bool // the sandbox answers in its vendors' OAuth error shape
	}{
		{"POST", "/v1/account/integrations", "GET", false},
		{"DELETE", "/v1/account/integrations", "GET", false},
		{"GET", "/v1/account/integrations/servicenow", "DELETE", false},
		{"PUT", "/v1/account/integrations/nosuchvendor", "DELETE", false},
		{"GET", "/v1/account/integrations/servicenow/settings", "PUT", false},
		{"POST", "/v1/account/integrations/servicenow/oauth2/url", "GET", false},
		{"GET", "/v1/account/integrations/confluence/oauth2/callback", "POST", false},
		{"DELETE", "/v1/me/notifications", "GET", false},
		{"GET", "/v1/me/notifications/n1/dismiss", "POST", false},
		{"HEAD", "/v1/me/notifications", "GET", false},
		{"GET", "/_local/expiry-scan", "POST", false},
		{"POST", "/_local/outbox", "GET, HEAD", false},
		{"POST", "/console", "GET, HEAD", false},
		{"DELETE", "/console/callback", "GET, HEAD", false},
		{"POST", "/", "GET, HEAD", false},
		{"PUT", "/console/manage/apps/integrations", "GET, HEAD", false},
		{"POST", "/_sandbox/servicenow/acme/oauth_auth.do", "GET", true},
		{"GET", "/_sandbox/servicenow/acme/oauth_token.do", "POST", true},
		{"GET", "/_sandbox/confluence/oauth/token", "POST", true},
		{"GET", "/_sandbox/servicenow/outage", "POST", true},
		{"GET", "/_sandbox/confluence/revoke", "POST", true},
	}
	for _, c := range cases {
		r := e.call(c.method, c.path, &ada, "")
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d, Allow %q; want 405 with Allow %q", c.method, c.path, r.status, r.header.Get("Allow"), c.allow)
			continue
		}
		if c.method == http.MethodHead {
			continue // no body
		}
		var api struct {
			Error struct{ Code string } `json:"error"`
		}
		var oauth struct{ Error string }
		switch {
		case !strings.HasPrefix(r.header.Get("Content-Type"), "application/json"):
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, r.header.Get("Content-Type"))
		case c.sandbox && (json.Unmarshal(r.body, &oauth) != nil || oauth.Error != "method_not_allowed"):
			t.Errorf("%s %s: %s", c.method, c.path, r.body)
		case !c.sandbox && (json.Unmarshal(r.body, &api) != nil || api.Error.Code != "method_not_allowed"):
			t.Errorf("%s %s: %s", c.method, c.path, r.body)
		}
	}
}

// pausedEndpoint is an AWS endpoint that accepts connections and never
// answers, as a paused emulator does.
func pausedEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

// TestLocalPausedAWSEndpoint: with DynamoDB not answering, a request ends
// at its deadline (REQUEST_TIMEOUT) with the JSON 503 unavailable, not a
// hang; the scan tool likewise.
func TestLocalPausedAWSEndpoint(t *testing.T) {
	cfg, err := config.FromEnv(func(k string) string {
		if k == "REQUEST_TIMEOUT" {
			return "200ms"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(pausedEndpoint(t)),
	})
	d := &handlers.Deps{
		Config:   cfg,
		Backends: handlers.Backends{Store: dynamostore.New(db, "connections"), Vault: memvault.New(), Mailer: memmail.New()},
		HTTP:     http.DefaultClient, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	h, _ := validated(t, localserver.New(d, handlers.Routes, localserver.Extra{Local: localserver.Tools(d, nil, localserver.NewClock(nil))}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/account/integrations", nil)
	req.Header.Set("X-Account-Id", "a1")
	req.Header.Set("X-User-Id", "u1")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		json.Unmarshal(b, &body) != nil || body.Error.Code != "unavailable" {
		t.Fatalf("list on a paused DynamoDB: %d %v %s", resp.StatusCode, resp.Header, b)
	}

	// The scan tool has its Lambda's deadline (budget and a minute); here
	// the request's own, shorter one ends it.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	localserver.ExpiryScanTool(d)(rec, httptest.NewRequestWithContext(ctx, http.MethodPost, "/_local/expiry-scan", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"unavailable"`) {
		t.Fatalf("scan on a paused DynamoDB: %d %s", rec.Code, rec.Body)
	}
}

// deadlineStore records the deadline of the context its Snapshot gets.
type deadlineStore struct {
	store.Store
	got chan time.Time
}

func (s deadlineStore) Snapshot(ctx context.Context, account, userID string, vendors []string) (map[string]connection.VendorSnapshot, error) {
	d, _ := ctx.Deadline()
	s.got <- d
	return s.Store.Snapshot(ctx, account, userID, vendors)
}

// TestLocalRequestsHaveTheLambdaDeadline: the local server invokes a
// handler with its Lambda's deadline (the functions' Timeout), so a long
// REQUEST_TIMEOUT still ends DeadlineMargin before it, as in AWS.
func TestLocalRequestsHaveTheLambdaDeadline(t *testing.T) {
	cfg, _ := config.FromEnv(func(k string) string {
		if k == "REQUEST_TIMEOUT" {
			return "1h"
		}
		return ""
	})
	st := deadlineStore{memstore.New(), make(chan time.Time, 1)}
	d := &handlers.Deps{
		Config:   cfg,
		Backends: handlers.Backends{Store: st, Vault: memvault.New(), Mailer: memmail.New()},
		HTTP:     http.DefaultClient, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	h, _ := validated(t, localserver.New(d, handlers.Routes, localserver.Extra{}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/account/integrations", nil)
	req.Header.Set("X-Account-Id", "a1")
	req.Header.Set("X-User-Id", "u1")
	start := time.Now()
	resp, err := srv.Client().Do(req)
	stop := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := <-st.got
	budget := handlers.FunctionTimeout - handlers.DeadlineMargin
	if resp.StatusCode != http.StatusOK || got.Before(start.Add(budget)) || got.After(stop.Add(budget)) {
		t.Fatalf("status %d, deadline %v: want %v after the request (%v … %v)", resp.StatusCode, got, budget, start, stop)
	}
}
