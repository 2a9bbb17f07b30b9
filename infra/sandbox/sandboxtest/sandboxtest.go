// Package sandboxtest is the sandbox-backed test world that the tests of
// lifecycle and of the packages built on it share: a clock the tests set,
// the vendor sandbox (infra/sandbox) on an httptest server, a
// lifecycle.Service that talks to it, and the browser's part of an
// authorization (open the URL at the sandbox, read the code and state from
// its redirect).
//
// It is for tests (and benchmarks) only: no production code imports it.
package sandboxtest

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/integrations"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
)

const (
	// RedirectURL is the frontend's callback page, where NewService's
	// service sends the browser back to.
	RedirectURL = "https://app.example.com/console/callback"
	// SecretPrefix is the service's SECRET_PREFIX.
	SecretPrefix = "test"
	// DeploymentSecret is the vault name of the deployment's Atlassian app
	// credentials (the Confluence client).
	DeploymentSecret = SecretPrefix + "/deployment/confluence/client"
)

// AtlassianApp are credentials of the deployment's Atlassian app for
// tests that need no particular ones.
var AtlassianApp = provider.Credentials{ClientID: "atl-client", ClientSecret: "atl-secret"}

// Clock is a time the tests set or move; safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers, such as a
// logger's.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Sandbox is the vendor sandbox served under sandbox.Prefix by an
// httptest server, as the local server mounts it.
type Sandbox struct {
	Server *httptest.Server
	// Browser reaches the server and never follows a redirect: the
	// sandbox's redirect to the callback page is read, not followed.
	Browser *http.Client
	// Now is the sandbox's clock; NewService gives it to the service too.
	Now func() time.Time
	// Vendor is the sandbox itself, for what tests ask of it directly.
	Vendor *sandbox.Server
}

// StartSandbox serves a sandbox on the clock now until the test ends.
func StartSandbox(tb testing.TB, now func() time.Time) *Sandbox {
	tb.Helper()
	mux := http.NewServeMux()
	vendor := sandbox.New(sandbox.Config{Clock: now})
	mux.Handle(sandbox.Prefix, vendor)
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return &Sandbox{
		Server: srv,
		Browser: &http.Client{
			Transport:     srv.Client().Transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Now:    now,
		Vendor: vendor,
	}
}

// VendorBaseURLs point the service's vendors (every one the sandbox
// speaks) at the sandbox.
func (s *Sandbox) VendorBaseURLs() map[string]string {
	return sandbox.BaseURLs(s.Server.URL)
}

// Knob posts to a sandbox knob, e.g. "servicenow/outage?status=500".
func (s *Sandbox) Knob(tb testing.TB, path string) {
	tb.Helper()
	resp, err := s.Server.Client().Post(s.Server.URL+"/_sandbox/"+path, "application/x-www-form-urlencoded", nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		tb.Fatalf("sandbox knob %s answered %d", path, resp.StatusCode)
	}
}

// NewFactory is a vendor-client factory on st and v whose clients talk to
// the sandbox, with RedirectURL and every deployment app's secret under
// SecretPrefix (the Atlassian app's is DeploymentSecret).
func NewFactory(sb *Sandbox, st store.Store, v vault.Vault) *provider.Factory {
	return &provider.Factory{
		Store:             st,
		Vault:             v,
		HTTP:              sb.Server.Client(),
		RedirectURL:       RedirectURL,
		VendorBaseURLs:    sb.VendorBaseURLs(),
		DeploymentSecrets: config.DeploymentSecrets(SecretPrefix, ""),
	}
}

// NewService is a lifecycle.Service on st and v that talks to the sandbox
// on its clock, with a quiet log, RedirectURL, and app credentials (if not
// nil) seeded in v as every deployment app the registry's vendors use (the
// Atlassian app's under DeploymentSecret). Tests change its fields as they
// need before they use it.
func NewService(tb testing.TB, sb *Sandbox, st store.Store, v vault.Vault, app *provider.Credentials) *lifecycle.Service {
	tb.Helper()
	svc := &lifecycle.Service{
		Store:              st,
		Vault:              v,
		Clients:            NewFactory(sb, st, v),
		Now:                sb.Now,
		Log:                slog.New(slog.NewTextHandler(io.Discard, nil)),
		SecretPrefix:       SecretPrefix,
		WarningWindow:      10 * 24 * time.Hour,
		SecretRecoveryDays: 7,
	}
	if app != nil {
		b, err := json.Marshal(app)
		if err != nil {
			tb.Fatal(err)
		}
		for _, name := range svc.Clients.DeploymentSecrets {
			if _, err := v.Put(tb.Context(), name, b); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return svc
}

// Authorize starts an authorization at svc as who, lets the sandbox answer
// it (with knobs such as sandbox_user) and returns what the frontend's
// callback page would post.
func (s *Sandbox) Authorize(tb testing.TB, svc *lifecycle.Service, who lifecycle.Caller, vendorID, flow, action string, knobs url.Values) lifecycle.CallbackRequest {
	tb.Helper()
	out, err := svc.StartAuthorization(tb.Context(), who, lifecycle.AuthURLRequest{Vendor: vendorID, Flow: flow, Action: action})
	if err != nil {
		tb.Fatalf("start %s %s %s: %v", vendorID, flow, action, err)
	}
	return s.Approve(tb, vendorID, out.URL, knobs)
}

// Approve sends the browser to an authorization URL (with knobs added to
// its query) and reads the sandbox's redirect back to RedirectURL.
func (s *Sandbox) Approve(tb testing.TB, vendorID, authURL string, knobs url.Values) lifecycle.CallbackRequest {
	tb.Helper()
	if len(knobs) > 0 {
		u, err := url.Parse(authURL)
		if err != nil {
			tb.Fatal(err)
		}
		q := u.Query()
		for k, vs := range knobs {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
		authURL = u.String()
	}
	resp, err := s.Browser.Get(authURL)
	if err != nil {
		tb.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		tb.Fatalf("sandbox authorize answered %d", resp.StatusCode)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		tb.Fatal(err)
	}
	if !strings.HasPrefix(back.String(), RedirectURL+"?") {
		tb.Fatalf("sandbox redirected to %s, want %s", back.Redacted(), RedirectURL)
	}
	bq := back.Query()
	return lifecycle.CallbackRequest{
		Vendor: vendorID, State: bq.Get("state"), Code: bq.Get("code"),
		Error: bq.Get("error"), ErrorDescription: bq.Get("error_description"),
	}
}

// Connect runs a whole authorization at svc as who that must succeed.
func (s *Sandbox) Connect(tb testing.TB, svc *lifecycle.Service, who lifecycle.Caller, vendorID, flow, action string, knobs url.Values) lifecycle.CallbackResult {
	tb.Helper()
	res, err := svc.CompleteAuthorization(tb.Context(), who, s.Authorize(tb, svc, who, vendorID, flow, action, knobs))
	if err != nil {
		tb.Fatalf("%s %s %s: %v", vendorID, flow, action, err)
	}
	return res
}

// Conn is the stored connection k, which must exist.
func Conn(tb testing.TB, st store.Store, k connection.Key) connection.Connection {
	tb.Helper()
	c, err := st.GetConnection(tb.Context(), k)
	if err != nil {
		tb.Fatalf("connection %s: %v", k, err)
	}
	return c
}

// View is the list element of a vendor as who sees it, with user-level
// data, as l lists it.
func View(tb testing.TB, l integrations.Lister, who lifecycle.Caller, vendorID string) integrations.View {
	tb.Helper()
	vs, err := l.List(tb.Context(), integrations.Query{
		Account: who.Account, UserID: who.UserID, AppManager: who.AppManager, UserLevel: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, v := range vs {
		if v.Vendor == vendorID {
			return v
		}
	}
	tb.Fatalf("no view of %s", vendorID)
	return integrations.View{}
}

// Counts are the connection counts of a vendor in the view of who, an app
// manager.
func Counts(tb testing.TB, l integrations.Lister, who lifecycle.Caller, vendorID string) integrations.Details {
	tb.Helper()
	d := View(tb, l, who, vendorID).ConnectionDetails
	if d == nil {
		tb.Fatal("view without connectionDetails")
	}
	return *d
}
