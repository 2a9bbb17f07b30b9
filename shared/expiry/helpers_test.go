package expiry_test

import (
	"errors"
	"io"
	"log/slog"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/expiry"
	"github.com/workplace/connections/shared/integrations"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/notices"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vendors"
)

const (
	account     = "acct-1"
	day         = 24 * time.Hour
	warnWindow  = 10 * day
	outageGrace = 72 * time.Hour

	frontend = "https://app.example.com"
	userLink = frontend + "/profile/external-apps"
	appLink  = frontend + "/manage/apps/integrations"

	snDisconnected = "ServiceNow has unexpectedly been disconnected. Please reconnect your ServiceNow account."
	cfDisconnected = "Confluence has unexpectedly been disconnected. Please reconnect your Confluence account."
)

// t0 is when the test world connects; scans happen days after it.
var t0 = time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)

func at(days float64) time.Time { return t0.Add(time.Duration(days * float64(day))) }

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

// env is the service on a store, memvault and a mail outbox, talking to a
// sandbox behind an httptest.Server, and an expiry scanner over it.
type env struct {
	t *testing.T
	// clock is the time of the service and the sandbox: the tests set it
	// to the time of each scan they run.
	clock   *sandboxtest.Clock
	sandbox *sandboxtest.Sandbox
	store   store.Store
	vault   *memvault.Vault
	outbox  *memmail.Outbox
	svc     *lifecycle.Service
	scanner *expiry.Scanner
	// retriesMayMiss: the store is moto's, where a write the SDK retried
	// may meet its own first attempt (see sweepUntilDone).
	retriesMayMiss bool
}

type envOption func(*env, *expiry.Scanner)

// withMailer makes the scanner's notices go through m (which should send
// into e.outbox to be seen).
func withMailer(m func(*memmail.Outbox) mail.Mailer) envOption {
	return func(e *env, s *expiry.Scanner) { s.Notices.Mailer = m(e.outbox) }
}

func newEnv(t *testing.T, st store.Store, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, clock: sandboxtest.NewClock(t0), store: st, vault: memvault.New(), outbox: memmail.New()}
	e.sandbox = sandboxtest.StartSandbox(t, e.clock.Now)
	e.svc = sandboxtest.NewService(t, e.sandbox, st, e.vault, &sandboxtest.AtlassianApp)
	e.svc.WarningWindow = warnWindow
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.scanner = &expiry.Scanner{
		Store:   st,
		Clients: e.svc.Clients,
		Notices: &notices.Sender{
			Store:  st,
			Mailer: e.outbox,
			Links:  notices.Links{FrontendURL: frontend, UserReconnectPath: "/profile/external-apps", AppReconnectPath: "/manage/apps/integrations"},
			Clock:  time.Now,
			Wait:   func(time.Duration) {},
			Log:    quiet,
		},
		Log:           quiet,
		WarningWindow: warnWindow,
		OutageGrace:   outageGrace,
	}
	for _, o := range opts {
		o(e, e.scanner)
	}
	return e
}

// run runs the scan at t, with the sandbox and the service at t too.
func (e *env) run(t time.Time) expiry.Report {
	e.t.Helper()
	e.clock.Set(t)
	rep, err := e.scanner.Run(e.t.Context(), t)
	if err != nil {
		e.t.Fatalf("scan at %v: %v", t, err)
	}
	if !rep.Complete || rep.Failed != 0 {
		e.t.Fatalf("scan at %v: %+v", t, rep)
	}
	return rep
}

// ---- connecting through the sandbox ----

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

// connect runs a whole authorization as who (approved at the sandbox by
// login, "" for its default) at the clock's time.
func (e *env) connect(who lifecycle.Caller, vendorID, flow, action, login string) lifecycle.CallbackResult {
	e.t.Helper()
	var knobs url.Values
	if login != "" {
		knobs = url.Values{"sandbox_user": {login}}
	}
	return e.sandbox.Connect(e.t, e.svc, who, vendorID, flow, action, knobs)
}

// connectApp configures the vendor if needed and has the manager connect
// it at app level, now.
func (e *env) connectApp(vendorID string) connection.Connection {
	e.t.Helper()
	if vendorID == "servicenow" {
		if _, err := e.store.GetSettings(e.t.Context(), account, vendorID); errors.Is(err, store.ErrNotFound) {
			e.saveServiceNow()
		}
	}
	e.connect(manager, vendorID, "app", "", "")
	return e.conn(connection.AppKey(account, vendorID))
}

// connectUser connects who at user level, approved by login.
func (e *env) connectUser(who lifecycle.Caller, vendorID, login string) connection.Connection {
	e.t.Helper()
	e.connect(who, vendorID, "user", "", login)
	return e.conn(connection.UserKey(account, vendorID, who.UserID))
}

// refreshAtVendor uses a refresh token at the sandbox now, as the scan
// would, and returns what the sandbox answered.
func (e *env) refreshAtVendor(c connection.Connection, refreshToken string) (string, error) {
	e.t.Helper()
	v, _ := vendors.Lookup(c.Vendor)
	var sp *connection.Settings
	if set, err := e.store.GetSettings(e.t.Context(), c.Account, c.Vendor); err == nil {
		sp = &set
	}
	client, err := e.svc.Clients.Client(e.t.Context(), v, sp, c.Instance)
	if err != nil {
		e.t.Fatalf("client for %s: %v", c.Key, err)
	}
	tok, err := client.Refresh(e.t.Context(), refreshToken)
	if err != nil {
		return "", err
	}
	return tok.RefreshToken, nil
}

// rotatedAway asserts the vendor takes a rotated refresh token no more
// once its reuse leeway is over. It asks the sandbox without using the
// token: presented after the leeway, it would end the whole grant.
func (e *env) rotatedAway(refreshToken string) {
	e.t.Helper()
	now := e.clock.Now()
	e.clock.Set(now.Add(11 * time.Minute))
	defer e.clock.Set(now)
	if _, live := e.sandbox.Vendor.RefreshTokenUser(refreshToken); live {
		e.t.Fatal("a rotated refresh token still works after the vendor's reuse leeway")
	}
}

// deadAtVendor asserts the sandbox refuses a refresh token for good.
func (e *env) deadAtVendor(c connection.Connection, refreshToken string) {
	e.t.Helper()
	if _, err := e.refreshAtVendor(c, refreshToken); !errors.Is(err, provider.ErrRefused) {
		e.t.Fatalf("refresh token of %s at the sandbox: %v, want it refused", c.Key, err)
	}
}

// ---- what people see ----

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

// view is the list element of a vendor as who sees it, with user-level
// data.
func (e *env) view(who lifecycle.Caller, vendorID string) integrations.View {
	e.t.Helper()
	return sandboxtest.View(e.t, e.lister(), who, vendorID)
}

func (e *env) counts(vendorID string) integrations.Details {
	e.t.Helper()
	return sandboxtest.Counts(e.t, e.lister(), manager, vendorID)
}

func (e *env) lister() integrations.Lister {
	return integrations.Lister{Store: e.store, Now: e.clock.Now, WarningWindow: warnWindow}
}

// notices are who's in-app notices, newest first.
func (e *env) notices(who lifecycle.Caller) []connection.Notice {
	e.t.Helper()
	ns, err := e.store.ListNotices(e.t.Context(), account, who.UserID)
	if err != nil {
		e.t.Fatal(err)
	}
	return ns
}

// wantNotices asserts who's in-app notices are exactly these kinds, with
// the seed's sentence on a disconnection.
func (e *env) wantNotices(who lifecycle.Caller, vendorID string, kinds ...connection.NoticeKind) []connection.Notice {
	e.t.Helper()
	ns := e.notices(who)
	var got []connection.NoticeKind
	for _, n := range ns {
		got = append(got, n.Kind)
		if n.Vendor != vendorID {
			e.t.Errorf("notice of %s: vendor %s, want %s", who.UserID, n.Vendor, vendorID)
		}
		want := snDisconnected
		if vendorID == "confluence" {
			want = cfDisconnected
		}
		if n.Kind == connection.NoticeDisconnected && n.Message != want {
			e.t.Errorf("disconnected notice says %q, want %q", n.Message, want)
		}
	}
	if len(got) != len(kinds) || (len(kinds) > 0 && !reflect.DeepEqual(got, kinds)) {
		e.t.Fatalf("notices of %s: %v, want %v", who.UserID, got, kinds)
	}
	return ns
}

// email is one message as the tests look at it.
type email struct {
	to, subject, text string
}

func (e *env) emails() []email {
	var out []email
	for _, m := range e.outbox.Messages() {
		out = append(out, email{strings.Join(m.To, ","), m.Subject, m.Text})
	}
	return out
}

// wantEmails asserts the emails sent since the first `since`, whatever
// their order, are one per (recipient, subject) given, each with the
// right reconnect link; it returns the count so far.
func (e *env) wantEmails(since int, want ...email) int {
	e.t.Helper()
	all := e.emails()
	if len(all) < since {
		e.t.Fatalf("%d emails, fewer than the %d before", len(all), since)
	}
	got := all[since:]
	key := func(m email) string { return m.to + " | " + m.subject }
	var gk, wk []string
	for _, m := range got {
		gk = append(gk, key(m))
	}
	for _, m := range want {
		wk = append(wk, key(m))
	}
	sort.Strings(gk)
	sort.Strings(wk)
	if !reflect.DeepEqual(gk, wk) {
		e.t.Fatalf("emails sent:\n  %s\nwant:\n  %s", strings.Join(gk, "\n  "), strings.Join(wk, "\n  "))
	}
	for _, m := range got {
		for _, w := range want {
			if key(m) == key(w) && !strings.Contains(m.text, w.text) {
				e.t.Errorf("email %s: text %q does not contain %q", key(m), m.text, w.text)
			}
		}
	}
	return len(all)
}

func expiring(who lifecycle.Caller, vendorName, link string) email {
	return email{who.Email, vendorName + " will soon be disconnected", link}
}

func disconnected(who lifecycle.Caller, vendorName, link string) email {
	return email{who.Email, vendorName + " has been disconnected", vendorName + " has unexpectedly been disconnected. Please reconnect your " +
		vendorName + " account.\n\nReconnect on " + map[bool]string{true: "your profile's External apps page", false: "the " + vendorName + " integration page"}[link == userLink] + ": " + link}
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}
