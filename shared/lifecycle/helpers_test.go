package lifecycle_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/integrations"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vendors"
)

// The test world: one account with an app manager and two plain users, and
// a second account whose user has the same user id as one of the first.
const (
	account      = "acct-1"
	otherAccount = "acct-2"
	snInstance   = "https://acme.service-now.com"
	snClientID   = "sn-client"
)

var (
	manager = caller(account, "u-ada", "Ada Admin", true)
	bob     = caller(account, "u-bob", "Bob Plain", false)
	carol   = caller(account, "u-carol", "Carol Plain", false)
	start   = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
)

func caller(acct, id, name string, appManager bool) lifecycle.Caller {
	return lifecycle.Caller{
		Person:     connection.Person{UserID: id, Email: id + "@example.org", Name: name},
		Account:    acct,
		AppManager: appManager,
	}
}

// env is a lifecycle.Service on memstore and memvault (both wrapped so a
// test can make them fail), talking to a sandbox behind an httptest.Server.
type env struct {
	t       *testing.T
	clock   *sandboxtest.Clock // the time of both the service and the sandbox; tests move it
	sandbox *sandboxtest.Sandbox
	mem     *memstore.Store
	store   *hookStore
	vault   *hookVault
	http    *hookTransport
	svc     *lifecycle.Service
	logs    *sandboxtest.SyncBuffer

	snSecret         string // the ServiceNow client secret the settings get
	confluenceID     string // the deployment's Atlassian client
	confluenceSecret string
}

type envOption func(*env)

// withoutDeploymentSecret leaves the Atlassian app credentials out.
func withoutDeploymentSecret(e *env) { e.confluenceSecret = "" }

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{
		t:                t,
		clock:            sandboxtest.NewClock(start),
		mem:              memstore.New(),
		logs:             &sandboxtest.SyncBuffer{},
		snSecret:         "sn-secret-" + randomHex(),
		confluenceID:     "atl-client",
		confluenceSecret: "atl-secret-" + randomHex(),
	}
	for _, o := range opts {
		o(e)
	}
	e.sandbox = sandboxtest.StartSandbox(t, e.clock.Now)
	e.store = &hookStore{Store: e.mem}
	e.vault = &hookVault{Vault: memvault.New()}
	e.http = &hookTransport{base: e.sandbox.Server.Client().Transport}
	var app *provider.Credentials
	if e.confluenceSecret != "" {
		app = &provider.Credentials{ClientID: e.confluenceID, ClientSecret: e.confluenceSecret}
	}
	// The deployment secret goes straight into memvault, past hookVault.
	e.svc = sandboxtest.NewService(t, e.sandbox, e.store, e.vault.Vault, app)
	e.svc.Vault, e.svc.Clients.Vault = e.vault, e.vault
	e.svc.Clients.HTTP = &http.Client{Transport: e.http}
	e.svc.Log = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return e
}

func randomHex() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func ptr[T any](v T) *T { return &v }

// ---- settings ----

// saveServiceNow saves valid ServiceNow settings for the account of who.
func (e *env) saveServiceNow(who lifecycle.Caller) lifecycle.SettingsView {
	e.t.Helper()
	view, err := e.svc.SaveSettings(e.t.Context(), who, "servicenow", lifecycle.SettingsRequest{
		InstanceURL: ptr(snInstance), ClientID: ptr(snClientID), ClientSecret: ptr(e.snSecret),
	})
	if err != nil {
		e.t.Fatalf("save ServiceNow settings: %v", err)
	}
	return view
}

func (e *env) settings(acct, vendorID string) (connection.Settings, bool) {
	e.t.Helper()
	s, err := e.mem.GetSettings(e.t.Context(), acct, vendorID)
	if errors.Is(err, store.ErrNotFound) {
		return s, false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return s, true
}

func (e *env) settingsPtr(acct, vendorID string) *connection.Settings {
	e.t.Helper()
	if s, ok := e.settings(acct, vendorID); ok {
		return &s
	}
	return nil
}

// ---- authorization ----

// authorize starts an authorization as who, lets the sandbox answer it
// (with knobs such as sandbox_user) and returns what the frontend's
// callback page would post.
func (e *env) authorize(who lifecycle.Caller, vendorID, flow, action string, knobs url.Values) lifecycle.CallbackRequest {
	e.t.Helper()
	return e.sandbox.Authorize(e.t, e.svc, who, vendorID, flow, action, knobs)
}

func (e *env) complete(who lifecycle.Caller, r lifecycle.CallbackRequest) (lifecycle.CallbackResult, error) {
	return e.svc.CompleteAuthorization(e.t.Context(), who, r)
}

// connect runs a whole authorization that must succeed.
func (e *env) connect(who lifecycle.Caller, vendorID, flow, action string, knobs url.Values) lifecycle.CallbackResult {
	e.t.Helper()
	return e.sandbox.Connect(e.t, e.svc, who, vendorID, flow, action, knobs)
}

// connectApp configures the vendor if needed and connects it at app level.
func (e *env) connectApp(vendorID string, knobs url.Values) connection.Connection {
	e.t.Helper()
	if vendorID == "servicenow" {
		if _, ok := e.settings(account, vendorID); !ok {
			e.saveServiceNow(manager)
		}
	}
	e.connect(manager, vendorID, "app", "", knobs)
	return e.conn(connection.AppKey(account, vendorID))
}

// connectUser connects who's user-level connection, approved by login.
func (e *env) connectUser(who lifecycle.Caller, vendorID, login string) connection.Connection {
	e.t.Helper()
	e.connect(who, vendorID, "user", "", knobs("sandbox_user", login))
	return e.conn(connection.UserKey(who.Account, vendorID, who.UserID))
}

func knobs(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

// ---- reading the outcome ----

func (e *env) conn(k connection.Key) connection.Connection {
	e.t.Helper()
	return sandboxtest.Conn(e.t, e.mem, k)
}

func (e *env) noConn(k connection.Key) {
	e.t.Helper()
	if _, err := e.mem.GetConnection(e.t.Context(), k); !errors.Is(err, store.ErrNotFound) {
		e.t.Fatalf("connection %s: got %v, want none", k, err)
	}
}

func (e *env) tokens(c connection.Connection) vault.Tokens {
	e.t.Helper()
	tok, err := vault.GetTokens(e.t.Context(), e.vault.Vault, c.SecretName, c.SecretVersion)
	if err != nil {
		e.t.Fatalf("tokens of %s: %v", c.Key, err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		e.t.Fatalf("tokens of %s are incomplete", c.Key)
	}
	return tok
}

// refresh uses a refresh token of a connection's vendor at the sandbox, as
// the expiry scan would.
func (e *env) refresh(c connection.Connection, refreshToken string) error {
	e.t.Helper()
	v, _ := vendors.Lookup(c.Vendor)
	client, err := e.svc.Clients.Client(e.t.Context(), v, e.settingsPtr(c.Account, c.Vendor), c.Instance)
	if err != nil {
		e.t.Fatalf("client for %s: %v", c.Key, err)
	}
	_, err = client.Refresh(e.t.Context(), refreshToken)
	return err
}

// refreshable asserts that the tokens a connection points at still work.
// (For a rotating vendor this rotates them: call it last.)
func (e *env) refreshable(c connection.Connection) {
	e.t.Helper()
	if err := e.refresh(c, e.tokens(c).RefreshToken); err != nil {
		e.t.Fatalf("refresh of %s: %v, want it to work", c.Key, err)
	}
}

// view is the list element of a vendor as who sees it, with user-level data.
func (e *env) view(who lifecycle.Caller, vendorID string) integrations.View {
	e.t.Helper()
	return sandboxtest.View(e.t, e.lister(), who, vendorID)
}

func (e *env) counts(vendorID string) integrations.Details {
	e.t.Helper()
	return sandboxtest.Counts(e.t, e.lister(), manager, vendorID)
}

// lister lists from memstore itself, past hookStore.
func (e *env) lister() integrations.Lister {
	return integrations.Lister{Store: e.mem, Now: e.clock.Now, WarningWindow: e.svc.WarningWindow}
}

// ---- assertions ----

// wantProblem asserts err is a problem with that status and code.
func wantProblem(t *testing.T, err error, status int, code string) *problem.Problem {
	t.Helper()
	var p *problem.Problem
	if !errors.As(err, &p) {
		t.Fatalf("got %v, want problem %d %s", err, status, code)
	}
	if p.Status != status || p.Code != code {
		t.Fatalf("got problem %d %s (%s), want %d %s", p.Status, p.Code, p.Message, status, code)
	}
	return p
}

func sameConn(t *testing.T, what string, got, want connection.Connection) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s changed:\n got %+v\nwant %+v", what, got, want)
	}
}

// saved is a connection and the tokens it pointed at, to prove later that
// nothing about it changed.
type saved struct {
	conn   connection.Connection
	tokens vault.Tokens
}

func (e *env) save(k connection.Key) saved {
	e.t.Helper()
	c := e.conn(k)
	return saved{c, e.tokens(c)}
}

// unchanged asserts the connection, and the tokens at its version, are as
// saved.
func (e *env) unchanged(s saved) {
	e.t.Helper()
	sameConn(e.t, s.conn.Key.String(), e.conn(s.conn.Key), s.conn)
	if got := e.tokens(s.conn); got != s.tokens {
		e.t.Fatalf("tokens of %s at version %s changed", s.conn.Key, s.conn.SecretVersion)
	}
}

// ---- test doubles ----

// hookStore is a store.Store whose Apply and Snapshot a test can intercept.
type hookStore struct {
	store.Store
	mu         sync.Mutex
	onApply    func(ctx context.Context, ops []store.Op) error // nil or nil error: pass through
	onSnapshot func() error
}

func (s *hookStore) setApply(f func(ctx context.Context, ops []store.Op) error) {
	s.mu.Lock()
	s.onApply = f
	s.mu.Unlock()
}

func (s *hookStore) setSnapshot(f func() error) {
	s.mu.Lock()
	s.onSnapshot = f
	s.mu.Unlock()
}

func (s *hookStore) Apply(ctx context.Context, ops ...store.Op) error {
	s.mu.Lock()
	f := s.onApply
	s.mu.Unlock()
	if f != nil {
		if err := f(ctx, ops); err != nil {
			return err
		}
	}
	return s.Store.Apply(ctx, ops...)
}

func (s *hookStore) Snapshot(ctx context.Context, acct, userID string, vendors []string) (map[string]connection.VendorSnapshot, error) {
	s.mu.Lock()
	f := s.onSnapshot
	s.mu.Unlock()
	if f != nil {
		if err := f(); err != nil {
			return nil, err
		}
	}
	return s.Store.Snapshot(ctx, acct, userID, vendors)
}

// hookVault is a vault.Vault that records every Put (with the worker id
// found in the context, if any) and whose Put a test can make fail.
type hookVault struct {
	vault.Vault
	mu    sync.Mutex
	puts  []put
	onPut func(name string) error
}

type put struct {
	worker  int // from workerKey in the context; -1 when none
	name    string
	version string // "" when the put failed
	value   []byte
}

type workerKey struct{}

func (v *hookVault) setPut(f func(name string) error) {
	v.mu.Lock()
	v.onPut = f
	v.mu.Unlock()
}

func (v *hookVault) Put(ctx context.Context, name string, value []byte) (string, error) {
	worker, ok := ctx.Value(workerKey{}).(int)
	if !ok {
		worker = -1
	}
	v.mu.Lock()
	f := v.onPut
	v.mu.Unlock()
	var version string
	var err error
	if f != nil {
		err = f(name)
	}
	if err == nil {
		version, err = v.Vault.Put(ctx, name, value)
	}
	v.mu.Lock()
	v.puts = append(v.puts, put{worker: worker, name: name, version: version, value: append([]byte(nil), value...)})
	v.mu.Unlock()
	return version, err
}

// tokenPuts are the tokens of every connection secret written (or tried).
func (v *hookVault) tokenPuts() []put {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []put
	for _, p := range v.puts {
		var tok vault.Tokens
		if json.Unmarshal(p.value, &tok) == nil && tok.AccessToken != "" {
			out = append(out, p)
		}
	}
	return out
}

func (p put) tokens() vault.Tokens {
	var tok vault.Tokens
	_ = json.Unmarshal(p.value, &tok)
	return tok
}

// hookTransport is the service's HTTP transport; a test can make requests
// fail by path.
type hookTransport struct {
	base   http.RoundTripper
	mu     sync.Mutex
	fail   func(*http.Request) bool
	issued []vault.Tokens // every token response, in order
}

func (h *hookTransport) setFail(f func(*http.Request) bool) {
	h.mu.Lock()
	h.fail = f
	h.mu.Unlock()
}

var errInjected = errors.New("injected network failure")

func (h *hookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	f := h.fail
	h.mu.Unlock()
	if f != nil && f(r) {
		return nil, errInjected
	}
	resp, err := h.base.RoundTrip(r)
	if err != nil || !tokenPath(r) {
		return resp, err
	}
	// Keep what the vendor issued, to follow tokens the service discards.
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var tok vault.Tokens
	if json.Unmarshal(body, &tok) == nil && tok.AccessToken != "" {
		h.mu.Lock()
		h.issued = append(h.issued, tok)
		h.mu.Unlock()
	}
	return resp, nil
}

// lastIssued are the tokens the vendor issued last to the service.
func (h *hookTransport) lastIssued(t *testing.T) vault.Tokens {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.issued) == 0 {
		t.Fatal("no tokens were issued")
	}
	return h.issued[len(h.issued)-1]
}

func (h *hookTransport) allIssued() []vault.Tokens {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]vault.Tokens(nil), h.issued...)
}

func tokenPath(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/oauth_token.do") || strings.HasSuffix(r.URL.Path, "/oauth/token") ||
		strings.HasSuffix(r.URL.Path, "/oauth2/token") || strings.HasSuffix(r.URL.Path, "/googledrive/token")
}

// identityPath reports whether a request is one of the vendors' identity
// lookups (ServiceNow's sys_user table, Atlassian's /me and sites,
// Dropbox's current account).
func identityPath(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasSuffix(p, "/api/now/table/sys_user") || strings.HasSuffix(p, "/me") ||
		strings.HasSuffix(p, "/oauth/token/accessible-resources") || strings.HasSuffix(p, "/2/users/get_current_account")
}
