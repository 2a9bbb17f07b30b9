package broker_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/broker"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/health"
	"github.com/workplace/connections/shared/lease"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/notices"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
)

const (
	account   = "acct-1"
	day       = 24 * time.Hour
	principal = "arn:aws:sts::123456789012:assumed-role/search-connector/i-0abc"
	frontend  = "https://app.example.com"
)

// t0 is when the test world connects.
var t0 = time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)

func person(id, name string, appManager bool) lifecycle.Caller {
	return lifecycle.Caller{
		Person:     connection.Person{UserID: id, Email: id + "@example.org", Name: name},
		Account:    account,
		AppManager: appManager,
	}
}

var (
	manager = person("u-ada", "Ada Admin", true)
	bob     = person("u-bob", "Bob Plain", false)
)

// changes is a store that tells, through a channel closed at every write
// that succeeded,
// that the stored state moved: the tests' lease waits block on it instead
// of sleeping.
type changes struct {
	store.Store
	mu sync.Mutex
	ch chan struct{}
}

func newChanges(st store.Store) *changes { return &changes{Store: st, ch: make(chan struct{})} }

func (c *changes) changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ch
}

func (c *changes) moved() {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.ch)
	c.ch = make(chan struct{})
}

// A write that failed moved nothing: only what succeeded wakes waiters.

func (c *changes) Apply(ctx context.Context, ops ...store.Op) error {
	err := c.Store.Apply(ctx, ops...)
	if err == nil {
		c.moved()
	}
	return err
}

func (c *changes) AcquireLease(ctx context.Context, k connection.Key, owner string, now, until time.Time) (connection.Connection, error) {
	got, err := c.Store.AcquireLease(ctx, k, owner, now, until)
	if err == nil {
		c.moved()
	}
	return got, err
}

func (c *changes) ReleaseLease(ctx context.Context, k connection.Key, owner string) error {
	err := c.Store.ReleaseLease(ctx, k, owner)
	if err == nil {
		c.moved()
	}
	return err
}

// env is the broker on a store, memvault and a mail outbox, with the
// vendors at a sandbox behind an httptest.Server, and the lifecycle
// service that connects through it.
type env struct {
	t       testing.TB
	clock   *sandboxtest.Clock
	sandbox *sandboxtest.Sandbox
	store   *changes
	vault   vault.Vault
	outbox  *memmail.Outbox
	svc     *lifecycle.Service
	broker  *broker.Service
	log     *sandboxtest.SyncBuffer
	waits   int // lease waits so far (under mu)
	mu      sync.Mutex
}

// newEnv builds the world on st and v (nil: the embedded ones).
func newEnv(t testing.TB, st store.Store, v vault.Vault) *env {
	t.Helper()
	if st == nil {
		st = memstore.New()
	}
	if v == nil {
		v = memvault.New()
	}
	e := &env{t: t, clock: sandboxtest.NewClock(t0), store: newChanges(st), vault: v, outbox: memmail.New(), log: &sandboxtest.SyncBuffer{}}
	e.sandbox = sandboxtest.StartSandbox(t, e.clock.Now)
	e.svc = sandboxtest.NewService(t, e.sandbox, e.store, e.vault, &sandboxtest.AtlassianApp)
	e.svc.WarningWindow = 10 * day
	logger := slog.New(slog.NewJSONHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.broker = &broker.Service{
		Store:   e.store,
		Vault:   e.vault,
		Clients: e.svc.Clients,
		Reaper: &health.Reaper{Store: e.store, Notices: &notices.Sender{
			Store: e.store, Mailer: e.outbox,
			Links: notices.Links{FrontendURL: frontend, UserReconnectPath: "/profile/external-apps", AppReconnectPath: "/manage/apps/integrations"},
			Clock: time.Now, Wait: func(time.Duration) {}, Log: quiet,
		}},
		Now:           e.clock.Now,
		Log:           logger,
		WarningWindow: 10 * day,
		Sleep:         e.untilMoved,
	}
	return e
}

// untilMoved is the broker's lease wait: it returns once the store has
// moved since the waiter last looked (the holder wrote), never on time.
// Checking the state after taking the channel loses no wake-up: a write
// between the waiter's read and this wait has closed the channel already
// or shows in the state.
func (e *env) untilMoved(ctx context.Context, _ time.Duration) error {
	e.mu.Lock()
	e.waits++
	e.mu.Unlock()
	ch := e.store.changed()
	if !e.anyLeaseHeld(ctx) {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// anyLeaseHeld reports whether one of the account's connections is leased.
func (e *env) anyLeaseHeld(ctx context.Context) bool {
	for _, v := range []string{"servicenow", "confluence"} {
		keys := []connection.Key{connection.AppKey(account, v)}
		for _, p := range []lifecycle.Caller{manager, bob} {
			keys = append(keys, connection.UserKey(account, v, p.UserID))
		}
		for _, k := range keys {
			if c, err := e.store.GetConnection(ctx, k); err == nil && lease.Held(c, e.clock.Now()) {
				return true
			}
		}
	}
	return false
}

func (e *env) saveServiceNow() {
	e.t.Helper()
	str := func(s string) *string { return &s }
	days := 100
	_, err := e.svc.SaveSettings(e.t.Context(), manager, "servicenow", lifecycle.SettingsRequest{
		InstanceURL: str("https://acme.service-now.com"), ClientID: str("sn-client"), ClientSecret: str("sn-secret"),
		RefreshTokenLifespanDays: &days,
	})
	if err != nil {
		e.t.Fatalf("save ServiceNow settings: %v", err)
	}
}

// connect runs a whole authorization as who, approved at the sandbox by
// login ("" for its default), at the clock's time.
func (e *env) connect(who lifecycle.Caller, vendorID, flow, login string) connection.Connection {
	e.t.Helper()
	if vendorID == "servicenow" {
		if _, err := e.store.GetSettings(e.t.Context(), account, vendorID); errors.Is(err, store.ErrNotFound) {
			e.saveServiceNow()
		}
	}
	var knobs url.Values
	if login != "" {
		knobs = url.Values{"sandbox_user": {login}}
	}
	e.sandbox.Connect(e.t, e.svc, who, vendorID, flow, "", knobs)
	k := connection.AppKey(account, vendorID)
	if flow == "user" {
		k = connection.UserKey(account, vendorID, who.UserID)
	}
	return e.conn(k)
}

func (e *env) conn(k connection.Key) connection.Connection {
	e.t.Helper()
	return sandboxtest.Conn(e.t, e.store, k)
}

func (e *env) tokens(c connection.Connection) vault.Tokens {
	e.t.Helper()
	tok, err := vault.GetTokens(e.t.Context(), e.vault, c.SecretName, c.SecretVersion)
	if err != nil {
		e.t.Fatalf("tokens of %s: %v", c.Key, err)
	}
	return tok
}

// token asks the broker as the principal.
func (e *env) token(r broker.TokenRequest) (broker.Token, error) {
	return e.broker.Token(e.t.Context(), principal, r)
}

func (e *env) mustToken(r broker.TokenRequest) broker.Token {
	e.t.Helper()
	tok, err := e.token(r)
	if err != nil {
		e.t.Fatalf("token %+v: %v", r, err)
	}
	if tok.AccessToken == "" || tok.TokenType != "Bearer" {
		e.t.Fatalf("token %+v: %+v", r, tok)
	}
	b, _ := json.Marshal(tok)
	if strings.Contains(string(b), "refresh") {
		e.t.Fatalf("the answer names a refresh token: %s", b)
	}
	return tok
}

// wantProblem checks a documented refusal.
func wantProblem(t testing.TB, err error, status int, code string) *problem.Problem {
	t.Helper()
	var p *problem.Problem
	if !errors.As(err, &p) || p.Status != status || p.Code != code {
		t.Fatalf("error %v, want %d %s", err, status, code)
	}
	return p
}

// introspect asks the sandbox whether its API takes the token now.
func (e *env) introspect(vendorID, token string) (bool, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.sandbox.Server.URL+"/_sandbox/"+vendorID+"/introspect", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.sandbox.Server.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Active bool   `json:"active"`
		User   string `json:"user"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		e.t.Fatal(err)
	}
	return out.Active, out.User
}

func (e *env) refreshes(vendorID string) int64 {
	return e.sandbox.Vendor.Stats(vendorID).RefreshToken
}

// audit is the account's timeline, newest first.
func (e *env) audit() []connection.AuditEntry {
	e.t.Helper()
	entries, _, err := e.store.ListAudit(e.t.Context(), account, "", "", 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return entries
}

// noTokensLogged fails if a token of c's versions is in the log.
func (e *env) noTokensLogged(toks ...string) {
	e.t.Helper()
	logs := e.log.String()
	for _, tok := range toks {
		if tok != "" && strings.Contains(logs, tok) {
			e.t.Fatal("a token is in the log")
		}
	}
}
