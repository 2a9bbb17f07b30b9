package faults_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox"
	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/broker"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/eventbus/membus"
	"github.com/workplace/connections/shared/expiry"
	"github.com/workplace/connections/shared/faulttest"
	"github.com/workplace/connections/shared/health"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/notices"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/publisher"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault/memvault"
)

const (
	account    = "acct-1"
	snInstance = "https://acme.service-now.com"
	snClient   = "sn-client"
	snSecret   = "sn-secret-value"
	day        = 24 * time.Hour
	warnWindow = 10 * day
)

// t0 is when the world is built; scans run days after it.
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
	carol   = person("u-carol", "Carol Plain", false)
	dave    = person("u-dave", "Dave Plain", false)
)

var vendorIDs = []string{"servicenow", "confluence"}

// world is the service and the scanner on memstore, memvault and a mail
// outbox, talking to a sandbox, with every call to those four going
// through one fault injector. The raw dependencies (mem, vault, outbox)
// are what the checks read, past the injector.
type world struct {
	t       testing.TB
	clock   *sandboxtest.Clock
	sandbox *sandboxtest.Sandbox
	inj     *faulttest.Injector
	mem     *memstore.Store
	vault   *memvault.Vault
	outbox  *memmail.Outbox
	logs    *sandboxtest.SyncBuffer
	bus     *membus.Bus // the events published, past the injector
	stream  *stream     // the store's committed audit entries, published through the injected bus
	// attempts are the audit entries of every Apply tried.
	attempts *attempts
	svc      *lifecycle.Service
	scanner  *expiry.Scanner
	broker   *broker.Service

	// pending is the authorization a callback flow completes.
	pending lifecycle.CallbackRequest
	// before are the connections stored when the flow started, and
	// worked those of them that worked then.
	before map[connection.Key]connection.Connection
	worked map[connection.Key]bool
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{
		t:      t,
		clock:  sandboxtest.NewClock(t0),
		inj:    faulttest.New(),
		mem:    memstore.New(),
		vault:  memvault.New(),
		outbox: memmail.New(),
		logs:   &sandboxtest.SyncBuffer{},
	}
	w.sandbox = sandboxtest.StartSandbox(t, w.clock.Now)
	w.attempts = &attempts{Store: w.inj.Store(w.mem), ids: map[string]connection.AuditEntry{}}
	st, v := store.Store(w.attempts), w.inj.Vault(w.vault)
	// The deployment's Atlassian app goes straight into memvault.
	w.svc = sandboxtest.NewService(t, w.sandbox, st, w.vault, &sandboxtest.AtlassianApp)
	w.svc.Vault, w.svc.Clients.Vault = v, v
	w.svc.Clients.HTTP = &http.Client{Transport: w.inj.Transport(w.sandbox.Server.Client().Transport)}
	w.svc.WarningWindow = warnWindow
	log := slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w.svc.Log = log
	w.bus = membus.New()
	w.stream = &stream{pub: &publisher.Publisher{Bus: w.inj.Bus(w.bus), Log: log}}
	w.mem.OnCommit(w.stream.feed)
	w.scanner = &expiry.Scanner{
		Store:   st,
		Clients: w.svc.Clients,
		Notices: &notices.Sender{
			Store:  st,
			Mailer: w.inj.Mailer(w.outbox),
			Links:  notices.Links{FrontendURL: "https://app.example.com", UserReconnectPath: "/profile/external-apps", AppReconnectPath: "/manage/apps/integrations"},
			Clock:  w.clock.Now,
			Wait:   func(time.Duration) {}, // the sandbox clock stands still: no pacing to wait for
			Log:    log,
		},
		Log:           log,
		WarningWindow: warnWindow,
		OutageGrace:   72 * time.Hour,
		Clock:         w.clock.Now,
		// One check at a time: an injection point is "call N of the clean
		// run", so the calls must come in the same order every run. The
		// scan's workers are tested in shared/expiry.
		Concurrency: 1,
	}
	w.broker = &broker.Service{
		Store: st, Vault: v, Clients: w.svc.Clients, Now: w.clock.Now, Log: log, WarningWindow: warnWindow,
		Reaper: &health.Reaper{Store: st, Notices: w.scanner.Notices},
		// The clock stands still: a lease a failed call left held stays
		// held until the retry moves the clock past it, so waiting is
		// pointless (and never sleeps).
		Sleep: func(context.Context, time.Duration) error { return nil },
	}
	return w
}

// ---- building the world (not injected: the injector is not armed) ----

func (w *world) saveServiceNow() {
	w.t.Helper()
	s := func(v string) *string { return &v }
	if _, err := w.svc.SaveSettings(w.t.Context(), manager, "servicenow", lifecycle.SettingsRequest{
		InstanceURL: s(snInstance), ClientID: s(snClient), ClientSecret: s(snSecret),
	}); err != nil {
		w.t.Fatalf("save ServiceNow settings: %v", err)
	}
}

func knobs(login string) url.Values {
	if login == "" {
		return nil
	}
	return url.Values{"sandbox_user": {login}}
}

// connect runs a whole authorization as who, approved by login ("" for
// the sandbox's default, admin).
func (w *world) connect(who lifecycle.Caller, vendorID, flow, action, login string) {
	w.t.Helper()
	w.sandbox.Connect(w.t, w.svc, who, vendorID, flow, action, knobs(login))
}

// connectApp configures the vendor if needed and connects it at app level.
func (w *world) connectApp(vendorID string) {
	w.t.Helper()
	if vendorID == "servicenow" {
		if _, err := w.mem.GetSettings(w.t.Context(), account, vendorID); errors.Is(err, store.ErrNotFound) {
			w.saveServiceNow()
		}
	}
	w.connect(manager, vendorID, "app", "", "")
}

func (w *world) connectUser(who lifecycle.Caller, vendorID, login string) {
	w.t.Helper()
	w.connect(who, vendorID, "user", "", login)
}

// authorize prepares the authorization a callback flow completes.
func (w *world) authorize(who lifecycle.Caller, vendorID, flow, action, login string) {
	w.t.Helper()
	w.pending = w.sandbox.Authorize(w.t, w.svc, who, vendorID, flow, action, knobs(login))
}

// markExpired flags a user connection expired, as a scan would have.
func (w *world) markExpired(k connection.Key) {
	w.t.Helper()
	c := sandboxtest.Conn(w.t, w.mem, k)
	c.Expired, c.ExpiredAt, c.ExpiredReason = true, w.clock.Now(), "refresh refused by the vendor"
	ops := []store.Op{store.UpdateConnection{Conn: c}}
	if k.Level == connection.LevelUser {
		ops = append(ops, store.AdjustCounts{Account: k.Account, Vendor: k.Vendor, Connected: -1})
	}
	if err := w.mem.Apply(w.t.Context(), ops...); err != nil {
		w.t.Fatal(err)
	}
}

// revokeAtVendor makes the refresh tokens of login at the vendor dead.
func (w *world) revokeAtVendor(vendorID, login string) {
	w.t.Helper()
	w.sandbox.Knob(w.t, vendorID+"/revoke?user="+login)
}

// ---- reading the world (past the injector) ----

// started records the connections as the flow starts, and which of them
// work.
func (w *world) started() {
	w.t.Helper()
	w.before = w.conns()
	w.worked = map[connection.Key]bool{}
	for k, c := range w.before {
		_, live := w.works("before the flow", c)
		w.worked[k] = live
	}
}

// conns are every connection stored, by key.
func (w *world) conns() map[connection.Key]connection.Connection {
	w.t.Helper()
	out := map[connection.Key]connection.Connection{}
	ctx := w.t.Context()
	for _, v := range vendorIDs {
		if c, err := w.mem.GetConnection(ctx, connection.AppKey(account, v)); err == nil {
			out[c.Key] = c
		} else if !errors.Is(err, store.ErrNotFound) {
			w.t.Fatal(err)
		}
		token := ""
		for {
			users, next, err := w.mem.ListUserConnections(ctx, account, v, token, 100)
			if err != nil {
				w.t.Fatal(err)
			}
			for _, u := range users {
				out[u.Key] = u
			}
			if next == "" {
				break
			}
			token = next
		}
	}
	return out
}

// userID is the vendor's id of a sandbox login, as the identity lookup
// reports it.
func userID(vendorID, login string) string {
	if vendorID == "servicenow" {
		return sandbox.ServiceNowSysID("acme", login)
	}
	return sandbox.AtlassianAccountID(login)
}

// clientFactory is a vendor-client factory on the raw dependencies.
func (w *world) clientFactory() *provider.Factory {
	f := *w.svc.Clients
	f.Store, f.Vault = w.mem, w.vault
	f.HTTP = w.sandbox.Server.Client()
	return &f
}
