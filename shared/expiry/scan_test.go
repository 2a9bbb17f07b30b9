package expiry_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/expiry"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault"
)

// runConcurrently runs the scanner twice at once at t.
func (e *env) runConcurrently(t time.Time) []expiry.Report {
	e.t.Helper()
	e.clock.Set(t)
	reps := make([]expiry.Report, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = e.scanner.Run(context.Background(), t)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil || !reps[i].Complete || reps[i].Failed != 0 {
			e.t.Fatalf("concurrent scan %d: %+v, %v", i, reps[i], err)
		}
	}
	return reps
}

// A ServiceNow app connection and one user connection, through their whole
// life: quiet until the warning window, one expiring notice each however
// often (and however concurrently) the scan runs, expired after the
// lifespan with one disconnected notice each, and repaired by reconnect.
func TestServiceNowLifespan(t *testing.T) {
	e := newEnv(t, memstore.New())
	app := e.connectApp("servicenow")
	user := e.connectUser(bob, "servicenow", "bob")
	for _, c := range []connection.Connection{app, user} {
		sameTime(t, c.Key.String()+" refresh expiry", c.RefreshTokenExpiresAt, at(100))
		sameTime(t, c.Key.String()+" next check", c.NextCheckAt, at(90))
	}
	if got := e.counts("servicenow"); got.Total != 1 || got.Connected != 1 {
		t.Fatalf("counters = %+v", got)
	}

	// Before the window: nothing is even due.
	for _, d := range []float64{0, 1, 30, 89, 89.99} {
		if rep := e.run(at(d)); rep.Checked != 0 || rep.Notices != 0 {
			t.Fatalf("day %v: %+v", d, rep)
		}
	}
	n := e.wantEmails(0)
	e.wantNotices(manager, "servicenow")
	e.wantNotices(bob, "servicenow")

	// The window opens: two scans at once send one email each.
	reps := e.runConcurrently(at(90))
	if got := reps[0].Notices + reps[1].Notices; got != 2 {
		t.Errorf("notices reported by the concurrent runs: %d, want 2 (%+v)", got, reps)
	}
	n = e.wantEmails(n, expiring(manager, "ServiceNow", appLink), expiring(bob, "ServiceNow", userLink))
	for _, m := range e.emails() {
		if !strings.Contains(m.text, "ServiceNow will be disconnected on 14 April 2027") {
			t.Errorf("expiring email does not say when: %q", m.text)
		}
	}
	// However often it runs again.
	for _, d := range []float64{90, 90, 91, 95, 99.9} {
		e.run(at(d))
	}
	n = e.wantEmails(n)
	e.wantNotices(manager, "servicenow", connection.NoticeExpiring)
	ns := e.wantNotices(bob, "servicenow", connection.NoticeExpiring)
	if ns[0].Level != connection.LevelUser || !strings.Contains(ns[0].Message, "14 April 2027") {
		t.Errorf("bob's notice = %+v", ns[0])
	}
	if v := e.view(bob, "servicenow"); v.Status != connection.StatusExpiring || v.RefreshTokenExpired ||
		v.UserConnection.Status != connection.StatusExpiring || !v.UserConnection.Connected {
		t.Errorf("view in the window = %+v / %+v", v, v.UserConnection)
	}

	// After the lifespan: both expired, one disconnected notice each.
	rep := e.run(at(100))
	if rep.Expired != 2 || rep.Notices != 2 {
		t.Errorf("report at expiry = %+v", rep)
	}
	n = e.wantEmails(n, disconnected(manager, "ServiceNow", appLink), disconnected(bob, "ServiceNow", userLink))
	for _, k := range []connection.Key{app.Key, user.Key} {
		c := e.conn(k)
		if !c.Expired || !c.NextCheckAt.IsZero() || c.ExpiredReason == "" {
			t.Errorf("%s after expiry: expired %v, next check %v, reason %q", k, c.Expired, c.NextCheckAt, c.ExpiredReason)
		}
		sameTime(t, "expired at", c.ExpiredAt, at(100))
	}
	v := e.view(manager, "servicenow")
	if !v.Integrated || !v.RefreshTokenExpired || v.Status != connection.StatusExpired {
		t.Errorf("app view after expiry = %+v", v)
	}
	if got := *v.ConnectionDetails; got.Total != 1 || got.Connected != 0 {
		t.Errorf("counters after expiry = %+v, want total 1, connected 0", got)
	}
	if uc := e.view(bob, "servicenow").UserConnection; !uc.RefreshTokenExpired || uc.Connected || uc.Status != connection.StatusExpired {
		t.Errorf("bob's view after expiry = %+v", uc)
	}
	// The expiring notice is gone; the disconnected one says the seed's sentence.
	e.wantNotices(manager, "servicenow", connection.NoticeDisconnected)
	e.wantNotices(bob, "servicenow", connection.NoticeDisconnected)

	for _, d := range []float64{100, 101, 150} {
		if rep := e.run(at(d)); rep.Notices != 0 || rep.Expired != 0 {
			t.Errorf("day %v: %+v", d, rep)
		}
	}
	n = e.wantEmails(n)
	if got := e.counts("servicenow"); got.Connected != 0 {
		t.Errorf("counters moved again: %+v", got)
	}

	// Reconnect repairs both: flag and notices cleared, counters back.
	e.clock.Set(at(150))
	e.connect(manager, "servicenow", "app", "reconnect", "")
	e.connect(bob, "servicenow", "user", "reconnect", "bob")
	for _, k := range []connection.Key{app.Key, user.Key} {
		c := e.conn(k)
		if c.Expired || c.Generation != 1 || c.ID == "" {
			t.Errorf("%s after reconnect: %+v", k, c)
		}
		sameTime(t, "refresh expiry after reconnect", c.RefreshTokenExpiresAt, at(250))
	}
	e.wantNotices(manager, "servicenow")
	e.wantNotices(bob, "servicenow")
	if got := e.counts("servicenow"); got.Total != 1 || got.Connected != 1 {
		t.Errorf("counters after reconnect = %+v", got)
	}
	if v := e.view(manager, "servicenow"); v.RefreshTokenExpired || v.Status != connection.StatusConnected {
		t.Errorf("view after reconnect = %+v", v)
	}
	e.run(at(151))
	n = e.wantEmails(n)
	// The new generation gets its own warning.
	e.run(at(240))
	e.wantEmails(n, expiring(manager, "ServiceNow", appLink), expiring(bob, "ServiceNow", userLink))
}

// A Confluence connection scanned monthly stays alive for the year: every
// keep-alive stores the rotated refresh token (the old one dies at the
// vendor), then it is warned before the absolute limit and expires at it.
func TestConfluenceMonthlyForAYear(t *testing.T) {
	e := newEnv(t, memstore.New())
	c := e.connectApp("confluence")
	sameTime(t, "absolute limit", c.AbsoluteExpiresAt, at(365))
	sameTime(t, "first keep-alive", c.NextCheckAt, at(45))
	prev, prevTok := c, e.tokens(c)

	var refreshedOn []float64
	n := 0
	for d := 30.0; d <= 360; d += 30 {
		rep := e.run(at(d))
		cur := e.conn(c.Key)
		if cur.Expired || rep.Expired != 0 {
			t.Fatalf("day %v: expired (%+v)", d, rep)
		}
		if rep.Refreshed == 0 {
			if cur.SecretVersion != prev.SecretVersion {
				t.Fatalf("day %v: tokens changed without a refresh", d)
			}
		} else {
			refreshedOn = append(refreshedOn, d)
			tok := e.tokens(cur)
			if cur.SecretVersion == prev.SecretVersion || tok.RefreshToken == prevTok.RefreshToken || tok.RefreshToken == "" {
				t.Fatalf("day %v: the rotated refresh token was not stored as a new version", d)
			}
			e.rotatedAway(prevTok.RefreshToken)
			sameTime(t, "last refreshed", cur.LastRefreshedAt, at(d))
			sameTime(t, "access expiry (from the scan's time)", cur.AccessTokenExpiresAt, at(d).Add(time.Hour))
			sameTime(t, "refresh expiry", cur.RefreshTokenExpiresAt, minTime(at(d+90), at(365)))
			sameTime(t, "absolute limit kept", cur.AbsoluteExpiresAt, at(365))
			prev, prevTok = cur, tok
		}
		if d < 355 {
			n = e.wantEmails(0)
			e.wantNotices(manager, "confluence")
		}
	}
	// Half-window keep-alive: a monthly scan refreshes every other month,
	// and not at all once the inactivity window reaches the absolute limit.
	if want := []float64{60, 120, 180, 240, 300}; !reflect.DeepEqual(refreshedOn, want) {
		t.Errorf("refreshed on days %v, want %v", refreshedOn, want)
	}
	// Day 360 is within 10 days of the limit: one expiring notice.
	n = e.wantEmails(n, expiring(manager, "Confluence", appLink))
	ns := e.wantNotices(manager, "confluence", connection.NoticeExpiring)
	if !strings.Contains(ns[0].Message, "Confluence will be disconnected on 4 January 2028") {
		t.Errorf("expiring notice = %q", ns[0].Message)
	}
	if v := e.view(manager, "confluence"); v.Status != connection.StatusExpiring || v.RefreshTokenExpired {
		t.Errorf("view before the limit = %+v", v)
	}
	e.run(at(364))
	n = e.wantEmails(n)

	// At 365 days it is over, for the scan and for the vendor alike.
	rep := e.run(at(365))
	if rep.Expired != 1 || rep.Refreshed != 0 {
		t.Errorf("report at the limit = %+v", rep)
	}
	e.wantEmails(n, disconnected(manager, "Confluence", appLink))
	e.wantNotices(manager, "confluence", connection.NoticeDisconnected)
	cur := e.conn(c.Key)
	if !cur.Expired || !e.view(manager, "confluence").RefreshTokenExpired {
		t.Errorf("not expired at the limit: %+v", cur)
	}
	e.deadAtVendor(cur, e.tokens(cur).RefreshToken)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// A grant revoked at the vendor is found dead at its next keep-alive.
func TestConfluenceRevokedAtVendor(t *testing.T) {
	e := newEnv(t, memstore.New())
	c := e.connectApp("confluence")
	e.clock.Set(at(1))
	e.sandbox.Knob(t, "confluence/revoke?user=admin")

	if rep := e.run(at(30)); rep.Checked != 0 {
		t.Fatalf("checked before its keep-alive: %+v", rep)
	}
	if e.conn(c.Key).Expired {
		t.Fatal("expired before anything told")
	}
	rep := e.run(at(45))
	if rep.Expired != 1 || rep.Refreshed != 0 || rep.Notices != 1 {
		t.Errorf("report = %+v", rep)
	}
	cur := e.conn(c.Key)
	if !cur.Expired || !strings.Contains(cur.ExpiredReason, "refused") || !cur.NextCheckAt.IsZero() {
		t.Errorf("after the keep-alive: %+v", cur)
	}
	if cur.SecretVersion != c.SecretVersion {
		t.Error("tokens changed")
	}
	e.wantEmails(0, disconnected(manager, "Confluence", appLink))
	e.wantNotices(manager, "confluence", connection.NoticeDisconnected)
	if v := e.view(manager, "confluence"); !v.RefreshTokenExpired || v.Status != connection.StatusExpired {
		t.Errorf("view = %+v", v)
	}
	e.run(at(46))
	e.wantEmails(1)
}

// A vendor outage during a keep-alive flags nothing and is retried on the
// next run; once the vendor is back the refresh goes through; an outage
// longer than the grace period flags the connection, with a notice.
func TestVendorOutage(t *testing.T) {
	e := newEnv(t, memstore.New())
	c := e.connectApp("confluence")

	e.clock.Set(at(45))
	e.sandbox.Knob(t, "confluence/outage?status=503")
	for _, d := range []float64{45, 46} {
		rep := e.run(at(d))
		if rep.Checked != 1 || rep.Refreshed != 0 || rep.Expired != 0 || rep.Notices != 0 {
			t.Fatalf("day %v in the outage: %+v", d, rep)
		}
		cur := e.conn(c.Key)
		if cur.Expired || cur.SecretVersion != c.SecretVersion {
			t.Fatalf("day %v: flagged or changed in an outage: %+v", d, cur)
		}
		sameTime(t, "vendor error since", cur.VendorErrorSince, at(45))
		sameTime(t, "still due", cur.NextCheckAt, at(d))
	}
	e.wantEmails(0)
	e.wantNotices(manager, "confluence")
	if v := e.view(manager, "confluence"); v.RefreshTokenExpired || v.Status != connection.StatusConnected {
		t.Errorf("view in the outage = %+v", v)
	}

	e.sandbox.Knob(t, "confluence/outage?status=0")
	rep := e.run(at(47))
	if rep.Refreshed != 1 || rep.Expired != 0 {
		t.Fatalf("after the outage: %+v", rep)
	}
	cur := e.conn(c.Key)
	if !cur.VendorErrorSince.IsZero() || cur.SecretVersion == c.SecretVersion || cur.Expired {
		t.Fatalf("after the outage: %+v", cur)
	}
	sameTime(t, "next keep-alive", cur.NextCheckAt, at(47+45))

	// A long outage: flagged once it has lasted OutageGrace.
	e.clock.Set(at(92))
	e.sandbox.Knob(t, "confluence/outage?status=503")
	for _, d := range []float64{92, 93, 94.9} {
		if rep := e.run(at(d)); rep.Expired != 0 {
			t.Fatalf("day %v: flagged within the grace period: %+v", d, rep)
		}
	}
	e.wantEmails(0)
	rep = e.run(at(95))
	if rep.Expired != 1 || rep.Notices != 1 {
		t.Errorf("past the grace period: %+v", rep)
	}
	cur = e.conn(c.Key)
	if !cur.Expired || !strings.Contains(cur.ExpiredReason, "vendor failing") {
		t.Errorf("past the grace period: %+v", cur)
	}
	e.wantEmails(0, disconnected(manager, "Confluence", appLink))
	e.wantNotices(manager, "confluence", connection.NoticeDisconnected)
	e.run(at(96))
	e.wantEmails(1)
}

// The scan adopts rotated tokens a previous run stored without pointing the
// connection at them, rather than expiring a live grant.
func TestAdoptsStoredRotatedTokens(t *testing.T) {
	e := newEnv(t, memstore.New())
	c := e.connectApp("confluence")
	old := e.tokens(c)

	// A run at day 10 refreshed (the old token died at the vendor), stored
	// the rotated tokens, and crashed before saving the connection.
	e.clock.Set(at(10))
	live, err := e.refreshAtVendor(c, old.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := vault.PutTokens(t.Context(), e.vault, c.SecretName, vault.Tokens{AccessToken: "x", RefreshToken: live, TokenType: "Bearer", RotatedFrom: c.SecretVersion})
	if err != nil {
		t.Fatal(err)
	}
	e.rotatedAway(old.RefreshToken)
	if e.conn(c.Key).SecretVersion != c.SecretVersion {
		t.Fatal("the connection moved")
	}

	rep := e.run(at(45))
	if rep.Refreshed != 1 || rep.Expired != 0 || rep.Notices != 0 {
		t.Fatalf("report = %+v", rep)
	}
	cur := e.conn(c.Key)
	if cur.Expired || cur.SecretVersion == c.SecretVersion || cur.SecretVersion == orphan {
		t.Fatalf("after the scan: expired %v, version %s (old %s, orphan %s)", cur.Expired, cur.SecretVersion, c.SecretVersion, orphan)
	}
	now := e.tokens(cur)
	if now.RefreshToken == live || now.RefreshToken == old.RefreshToken {
		t.Fatal("the adopted token was not rotated and stored")
	}
	e.rotatedAway(live)
	e.wantEmails(0)
	e.wantNotices(manager, "confluence")
}

// TestDoesNotAdoptForeignTokens: a newer secret version that no refresh of
// the connection's version wrote (a refused or losing authorization, maybe
// by another vendor user) is never adopted: the dead grant is reported.
func TestDoesNotAdoptForeignTokens(t *testing.T) {
	e := newEnv(t, memstore.New())
	c := e.connectApp("confluence")
	old := e.tokens(c)
	e.clock.Set(at(10))
	live, err := e.refreshAtVendor(c, old.RefreshToken) // kills old at the vendor
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vault.PutTokens(t.Context(), e.vault, c.SecretName, vault.Tokens{AccessToken: "x", RefreshToken: live, TokenType: "Bearer"}); err != nil {
		t.Fatal(err)
	}
	rep := e.run(at(45))
	if rep.Refreshed != 0 || rep.Expired != 1 {
		t.Fatalf("report = %+v", rep)
	}
	if cur := e.conn(c.Key); !cur.Expired || cur.SecretVersion != c.SecretVersion {
		t.Fatalf("after the scan: expired %v, version %s (want %s)", cur.Expired, cur.SecretVersion, c.SecretVersion)
	}
}

// quotaMailer reports a chosen daily allowance and sends into an outbox.
type quotaMailer struct {
	*memmail.Outbox
	mu        sync.Mutex
	remaining float64
}

func (m *quotaMailer) set(remaining float64) {
	m.mu.Lock()
	m.remaining = remaining
	m.mu.Unlock()
}

func (m *quotaMailer) Quota(context.Context) (mail.Quota, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return mail.Quota{MaxPerSecond: 14, Remaining24h: m.remaining}, nil
}

// The outbox: a throttled send is recorded unsent and sent by the next
// run, once; a spent quota stops this run and the next one sends the rest.
func TestOutbox(t *testing.T) {
	t.Run("throttled", func(t *testing.T) {
		e := newEnv(t, memstore.New())
		app := e.connectApp("servicenow")
		user := e.connectUser(bob, "servicenow", "bob")
		e.outbox.ThrottleNext(1)
		rep := e.run(at(90))
		if rep.Notices != 0 {
			t.Errorf("report = %+v", rep)
		}
		e.wantEmails(0)
		for _, who := range []lifecycle.Caller{manager, bob} {
			ns := e.wantNotices(who, "servicenow", connection.NoticeExpiring)
			if !ns[0].SentAt.IsZero() {
				t.Errorf("notice of %s marked sent", who.UserID)
			}
		}
		for _, k := range []connection.Key{app.Key, user.Key} {
			sameTime(t, k.String()+" still due", e.conn(k).NextCheckAt, at(90))
		}
		// The next run, even at the same scheduled time, sends them.
		if rep := e.run(at(90)); rep.Notices != 2 {
			t.Errorf("retry = %+v", rep)
		}
		n := e.wantEmails(0, expiring(manager, "ServiceNow", appLink), expiring(bob, "ServiceNow", userLink))
		for _, d := range []float64{90, 91, 95} {
			e.run(at(d))
		}
		e.wantEmails(n)
		for _, k := range []connection.Key{app.Key, user.Key} {
			sameTime(t, k.String()+" next check", e.conn(k).NextCheckAt, at(100))
		}
	})
	t.Run("quota", func(t *testing.T) {
		var qm *quotaMailer
		e := newEnv(t, memstore.New(), withMailer(func(o *memmail.Outbox) mail.Mailer {
			qm = &quotaMailer{Outbox: o, remaining: 1}
			return qm
		}))
		e.connectApp("servicenow")
		e.connectUser(bob, "servicenow", "bob")
		if rep := e.run(at(90)); rep.Notices != 1 {
			t.Errorf("report = %+v", rep)
		}
		if got := len(e.emails()); got != 1 {
			t.Fatalf("%d emails with a quota of one", got)
		}
		first := e.emails()[0].to
		qm.set(1000)
		e.run(at(91))
		second := expiring(bob, "ServiceNow", userLink)
		if first == bob.Email {
			second = expiring(manager, "ServiceNow", appLink)
		}
		n := e.wantEmails(1, second)
		e.run(at(92))
		e.wantEmails(n)
	})
}

// failingMailer fails every send while down.
type failingMailer struct {
	*memmail.Outbox
	mu   sync.Mutex
	down bool
}

func (f *failingMailer) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *failingMailer) Send(ctx context.Context, m mail.Message) error {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		return errors.New("mail provider unavailable")
	}
	return f.Outbox.Send(ctx, m)
}

// A mail provider that fails does not hold up the connection's own change:
// it is flagged expired (counters moved) at once, and its notice goes out
// with the next run that can send.
func TestMailFailureStillFlagsExpiry(t *testing.T) {
	var fm *failingMailer
	e := newEnv(t, memstore.New(), withMailer(func(o *memmail.Outbox) mail.Mailer {
		fm = &failingMailer{Outbox: o}
		return fm
	}))
	e.connectApp("servicenow")
	user := e.connectUser(bob, "servicenow", "bob")
	e.run(at(90))
	n := e.wantEmails(0, expiring(manager, "ServiceNow", appLink), expiring(bob, "ServiceNow", userLink))

	fm.setDown(true)
	e.clock.Set(at(100))
	rep, err := e.scanner.Run(t.Context(), at(100))
	if err != nil || rep.Expired != 2 || rep.Notices != 0 || rep.Failed != 2 {
		t.Fatalf("report with mail down = %+v, %v", rep, err)
	}
	c := e.conn(user.Key)
	if !c.Expired {
		t.Fatal("not flagged expired while mail is down")
	}
	sameTime(t, "still due for its notice", c.NextCheckAt, at(100))
	if got := e.counts("servicenow"); got.Connected != 0 {
		t.Errorf("counters = %+v", got)
	}
	e.wantNotices(bob, "servicenow", connection.NoticeDisconnected)
	e.wantEmails(n)

	fm.setDown(false)
	if rep := e.run(at(100)); rep.Expired != 0 || rep.Notices != 2 {
		t.Errorf("report with mail back = %+v", rep)
	}
	n = e.wantEmails(n, disconnected(manager, "ServiceNow", appLink), disconnected(bob, "ServiceNow", userLink))
	if c := e.conn(user.Key); !c.NextCheckAt.IsZero() {
		t.Errorf("still due after its notice went out: %v", c.NextCheckAt)
	}
	if got := e.counts("servicenow"); got.Connected != 0 {
		t.Errorf("counters moved twice: %+v", got)
	}
	e.run(at(101))
	e.wantEmails(n)
}

// Leases: a connection another run holds is skipped and left alone; a lease
// whose holder crashed (lapsed at the scan's time) is taken over.
func TestLease(t *testing.T) {
	t.Run("held", func(t *testing.T) {
		e := newEnv(t, memstore.New())
		app := e.connectApp("servicenow")
		e.connectUser(bob, "servicenow", "bob")
		if _, err := e.store.AcquireLease(t.Context(), app.Key, "another-run", at(90), at(90).Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		held := e.conn(app.Key)
		rep := e.run(at(90))
		if rep.Busy != 1 || rep.Notices != 1 {
			t.Errorf("report = %+v", rep)
		}
		if got := e.conn(app.Key); !reflect.DeepEqual(got, held) {
			t.Errorf("a held connection changed:\n got %+v\nwant %+v", got, held)
		}
		e.wantEmails(0, expiring(bob, "ServiceNow", userLink))
		e.wantNotices(manager, "servicenow")
	})
	t.Run("lapsed", func(t *testing.T) {
		e := newEnv(t, memstore.New())
		app := e.connectApp("servicenow")
		if _, err := e.store.AcquireLease(t.Context(), app.Key, "crashed-run", at(90).Add(-time.Hour), at(90).Add(-55*time.Minute)); err != nil {
			t.Fatal(err)
		}
		rep := e.run(at(90))
		if rep.Busy != 0 || rep.Notices != 1 {
			t.Errorf("report = %+v", rep)
		}
		e.wantEmails(0, expiring(manager, "ServiceNow", appLink))
		c := e.conn(app.Key)
		if c.LeaseOwner != "" || !c.LeaseUntil.IsZero() {
			t.Errorf("lease left behind: %q until %v", c.LeaseOwner, c.LeaseUntil)
		}
		sameTime(t, "next check", c.NextCheckAt, at(100))
	})
}

// workClock is a fake real-time clock that moves only when told: the
// tests move it a second per email sent, so a run's budget is spent by
// its work, whatever order its workers go in.
type workClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *workClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *workClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// tickingMailer moves a workClock a second per email.
type tickingMailer struct {
	mail.Mailer
	clock *workClock
}

func (m tickingMailer) Send(ctx context.Context, msg mail.Message) error {
	err := m.Mailer.Send(ctx, msg)
	m.clock.advance(time.Second)
	return err
}

// A run that reaches its budget stops between connections; the next run
// does the rest, without repeating or skipping a notice.
func TestBudget(t *testing.T) {
	clock := &workClock{t: time.Unix(0, 0)}
	e := newEnv(t, memstore.New(), withMailer(func(o *memmail.Outbox) mail.Mailer { return tickingMailer{o, clock} }))
	e.connectApp("servicenow")
	want := []email{expiring(manager, "ServiceNow", appLink)}
	for _, name := range []string{"bob", "carol", "dan", "erin"} {
		who := person("u-"+name, name, false)
		e.connectUser(who, "servicenow", name)
		want = append(want, expiring(who, "ServiceNow", userLink))
	}
	e.scanner.Budget = 3 * time.Second
	e.scanner.Clock = clock.Now
	e.scanner.Concurrency = 1 // one check at a time: the budget is spent after exactly three

	e.clock.Set(at(90))
	first, err := e.scanner.Run(t.Context(), at(90))
	if err != nil || !first.StoppedEarly || first.Complete || first.Checked != 3 || first.Notices != 3 {
		t.Fatalf("first run = %+v, %v; want it stopped after 3 connections", first, err)
	}
	e.scanner.Clock = nil
	second := e.run(at(90))
	if second.StoppedEarly || second.Checked != 2 || second.Notices != 2 {
		t.Fatalf("second run = %+v, want the 2 left", second)
	}
	n := e.wantEmails(0, want...)
	e.run(at(91))
	e.wantEmails(n)
}

// countingStore counts what a scan reads.
type countingStore struct {
	store.Store
	mu                                   sync.Mutex
	gets, leases, lists, snapshots, dues int
}

func (s *countingStore) count(f *int, n int) {
	s.mu.Lock()
	*f += n
	s.mu.Unlock()
}

func (s *countingStore) GetConnection(ctx context.Context, k connection.Key) (connection.Connection, error) {
	s.count(&s.gets, 1)
	return s.Store.GetConnection(ctx, k)
}

func (s *countingStore) AcquireLease(ctx context.Context, k connection.Key, owner string, now, until time.Time) (connection.Connection, error) {
	s.count(&s.leases, 1)
	return s.Store.AcquireLease(ctx, k, owner, now, until)
}

func (s *countingStore) ListUserConnections(ctx context.Context, account, vendor, token string, limit int) ([]connection.Connection, string, error) {
	s.count(&s.lists, 1)
	return s.Store.ListUserConnections(ctx, account, vendor, token, limit)
}

func (s *countingStore) Snapshot(ctx context.Context, account, userID string, vendors []string) (map[string]connection.VendorSnapshot, error) {
	s.count(&s.snapshots, 1)
	return s.Store.Snapshot(ctx, account, userID, vendors)
}

func (s *countingStore) Due(ctx context.Context, shard int, now time.Time, token string, limit int) ([]connection.Connection, string, error) {
	cs, next, err := s.Store.Due(ctx, shard, now, token, limit)
	s.count(&s.dues, len(cs))
	return cs, next, err
}

func (s *countingStore) reads() [5]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return [5]int{s.gets, s.leases, s.lists, s.snapshots, s.dues}
}

// The scan's work grows with the connections that are due: however many
// are not, it reads none of them.
func TestOnlyDueConnectionsAreRead(t *testing.T) {
	mem := memstore.New()
	e := newEnv(t, mem)
	e.connectApp("servicenow") // due at day 90
	var ops []store.Op
	for i := 0; i < 300; i++ {
		k := connection.UserKey(fmt.Sprintf("acct-%d", i%7), "servicenow", fmt.Sprintf("user-%d", i))
		c := connection.Connection{Key: k, ID: fmt.Sprintf("c%d", i), RefreshTokenExpiresAt: at(400), CreatedAt: t0}
		switch i % 3 {
		case 0, 1:
			c.NextCheckAt = at(390) // far from due
		case 2:
			c.Expired, c.ExpiredAt = true, t0 // expired and told: never checked again
		}
		ops = append(ops, store.CreateConnection{Conn: c})
		if len(ops) == 50 {
			if err := mem.Apply(t.Context(), ops...); err != nil {
				t.Fatal(err)
			}
			ops = nil
		}
	}
	counting := &countingStore{Store: mem}
	e.scanner.Store = counting
	e.scanner.PageSize = 7

	rep := e.run(at(30))
	if rep.Checked != 0 || counting.reads() != [5]int{} {
		t.Fatalf("a scan with nothing due read connections: %+v, reads (get, lease, list, snapshot, due) %v", rep, counting.reads())
	}
	rep = e.run(at(90))
	if rep.Checked != 1 || rep.Notices != 1 {
		t.Fatalf("report = %+v", rep)
	}
	if got := counting.reads(); got != [5]int{0, 1, 0, 0, 1} {
		t.Fatalf("reads (get, lease, list, snapshot, due) = %v, want only the due connection", got)
	}
}

// A connection stored without a refresh token (by a callback from before
// they were refused) never looks healthy: its keep-alive finds it dead —
// expired, with a notice — instead of failing as an "outage" run after run.
func TestStoredWithoutRefreshTokenIsDead(t *testing.T) {
	e := newEnv(t, memstore.New())
	c := e.connectApp("confluence")
	toks := e.tokens(c)
	toks.RefreshToken = ""
	version, err := vault.PutTokens(t.Context(), e.vault, c.SecretName, toks)
	if err != nil {
		t.Fatal(err)
	}
	c.SecretVersion = version
	if err := e.store.Apply(t.Context(), store.UpdateConnection{Conn: c}); err != nil {
		t.Fatal(err)
	}

	rep := e.run(at(45))
	if rep.Expired != 1 || rep.Refreshed != 0 || rep.Notices != 1 {
		t.Fatalf("report = %+v", rep)
	}
	if cur := e.conn(c.Key); !cur.Expired || !cur.VendorErrorSince.IsZero() {
		t.Fatalf("after the scan: %+v", cur)
	}
	e.wantNotices(manager, "confluence", connection.NoticeDisconnected)
}
