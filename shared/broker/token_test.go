package broker_test

import (
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox"
	"github.com/workplace/connections/shared/broker"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/expiry"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
)

func ptr[T any](v T) *T { return &v }

// A token that stays valid long enough is the stored one: no refresh.
func TestTokenStillValid(t *testing.T) {
	e := newEnv(t, nil, nil)
	sn := e.connect(manager, "servicenow", "app", "")
	cf := e.connect(manager, "confluence", "app", "")
	snU := e.connect(bob, "servicenow", "user", "bob")

	tok := e.mustToken(broker.TokenRequest{Account: account, Vendor: "servicenow"})
	want := broker.Token{
		AccessToken: e.tokens(sn).AccessToken, TokenType: "Bearer", ExpiresAt: t0.Add(1799 * time.Second),
		Level: connection.LevelApp, Vendor: "servicenow", Instance: "https://acme.service-now.com",
		APIBaseURL: e.sandbox.Server.URL + "/_sandbox/servicenow/acme",
	}
	if tok != want {
		t.Fatalf("ServiceNow app token:\n got %+v\nwant %+v", tok, want)
	}
	if active, user := e.introspect("servicenow", tok.AccessToken); !active || user != "admin" {
		t.Fatalf("introspect: %v %s", active, user)
	}

	tok = e.mustToken(broker.TokenRequest{Account: account, Vendor: "confluence", MinValiditySeconds: ptr(3000)})
	cloud := sandbox.AtlassianCloudID("acme")
	if tok.AccessToken != e.tokens(cf).AccessToken || tok.Instance != "https://acme.atlassian.net" || cf.SiteID != cloud ||
		tok.APIBaseURL != e.sandbox.Server.URL+"/_sandbox/confluence/ex/confluence/"+cloud || !tok.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("Confluence app token %+v", tok)
	}

	tok = e.mustToken(broker.TokenRequest{Account: account, Vendor: "servicenow", User: bob.UserID, MinValiditySeconds: ptr(0)})
	if tok.AccessToken != e.tokens(snU).AccessToken || tok.Level != connection.LevelUser {
		t.Fatalf("bob's token %+v", tok)
	}
	if active, user := e.introspect("servicenow", tok.AccessToken); !active || user != "bob" {
		t.Fatalf("introspect bob's: %v %s", active, user)
	}
	for _, v := range []string{"servicenow", "confluence"} {
		if n := e.refreshes(v); n != 0 {
			t.Fatalf("%s refreshed %d times for tokens that were valid", v, n)
		}
	}
	e.noTokensLogged(e.tokens(sn).AccessToken, e.tokens(cf).AccessToken, e.tokens(snU).AccessToken, e.tokens(sn).RefreshToken)
}

// A token that would not stay valid long enough is refreshed first, and
// the rotated tokens are stored before the token is handed out.
func TestTokenRefreshedWhenTooShort(t *testing.T) {
	e := newEnv(t, nil, nil)
	cf := e.connect(manager, "confluence", "app", "")
	old := e.tokens(cf)

	// 56 minutes in: 4 minutes left, under the default 5.
	e.clock.Set(t0.Add(56 * time.Minute))
	tok := e.mustToken(broker.TokenRequest{Account: account, Vendor: "confluence"})
	if e.refreshes("confluence") != 1 || tok.AccessToken == old.AccessToken {
		t.Fatalf("refreshes %d, token changed %v", e.refreshes("confluence"), tok.AccessToken != old.AccessToken)
	}
	c := e.conn(cf.Key)
	stored := e.tokens(c)
	if stored.AccessToken != tok.AccessToken || stored.RotatedFrom != cf.SecretVersion || stored.RefreshToken == old.RefreshToken ||
		!tok.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) || !c.AccessTokenExpiresAt.Equal(tok.ExpiresAt) || c.LeaseOwner != "" ||
		!c.LastRefreshedAt.Equal(e.clock.Now()) || !c.RefreshTokenExpiresAt.Equal(e.clock.Now().Add(90*day)) {
		t.Fatalf("after the refresh: connection %+v", c)
	}
	// The secret's current version is the one the connection names.
	cur, err := vault.GetTokens(t.Context(), e.vault, c.SecretName, "")
	if err != nil || cur != stored {
		t.Fatalf("current secret version %+v %v", cur, err)
	}
	if active, _ := e.introspect("confluence", tok.AccessToken); !active {
		t.Fatal("the refreshed token does not work")
	}
	// Now valid again: no second refresh.
	if again := e.mustToken(broker.TokenRequest{Account: account, Vendor: "confluence"}); again != tok || e.refreshes("confluence") != 1 {
		t.Fatalf("second call %+v, refreshes %d", again, e.refreshes("confluence"))
	}
	// minValiditySeconds 0: any token valid now.
	e.clock.Set(t0.Add(56*time.Minute + 59*time.Minute))
	if got := e.mustToken(broker.TokenRequest{Account: account, Vendor: "confluence", MinValiditySeconds: ptr(0)}); got != tok || e.refreshes("confluence") != 1 {
		t.Fatalf("minValiditySeconds 0 with a minute left: %+v, refreshes %d", got, e.refreshes("confluence"))
	}
	e.noTokensLogged(old.AccessToken, old.RefreshToken, stored.AccessToken, stored.RefreshToken)
}

// ServiceNow's access tokens live 30 minutes: a minValiditySeconds longer
// than that is met as well as the vendor can, refreshing once half the
// lifetime is gone rather than on every call.
func TestTokenLongerThanTheVendorIssues(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.connect(manager, "servicenow", "app", "")
	req := broker.TokenRequest{Account: account, Vendor: "servicenow", MinValiditySeconds: ptr(3000)}
	first := e.mustToken(req)
	e.clock.Set(t0.Add(10 * time.Minute))
	if got := e.mustToken(req); got != first || e.refreshes("servicenow") != 0 {
		t.Fatalf("10 minutes in: %+v, refreshes %d", got, e.refreshes("servicenow"))
	}
	e.clock.Set(t0.Add(16 * time.Minute))
	second := e.mustToken(req)
	if second.AccessToken == first.AccessToken || e.refreshes("servicenow") != 1 || !second.ExpiresAt.Equal(e.clock.Now().Add(1799*time.Second)) {
		t.Fatalf("16 minutes in: %+v, refreshes %d", second, e.refreshes("servicenow"))
	}
	if got := e.mustToken(req); got != second || e.refreshes("servicenow") != 1 {
		t.Fatalf("right after: %+v, refreshes %d", got, e.refreshes("servicenow"))
	}
}

func TestTokenBadRequests(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.connect(manager, "servicenow", "app", "")
	for _, tc := range []struct {
		name   string
		req    broker.TokenRequest
		status int
		code   string
	}{
		{"no account", broker.TokenRequest{Vendor: "servicenow"}, 400, "invalid_body"},
		{"no vendor", broker.TokenRequest{Account: account}, 400, "invalid_body"},
		{"bad fallback", broker.TokenRequest{Account: account, Vendor: "servicenow", Fallback: "user"}, 400, "invalid_parameter"},
		{"negative validity", broker.TokenRequest{Account: account, Vendor: "servicenow", MinValiditySeconds: ptr(-1)}, 400, "invalid_parameter"},
		{"validity too long", broker.TokenRequest{Account: account, Vendor: "servicenow", MinValiditySeconds: ptr(3001)}, 400, "invalid_parameter"},
		{"account too long", broker.TokenRequest{Account: strings.Repeat("a", 257), Vendor: "servicenow"}, 400, "invalid_parameter"},
		{"control character", broker.TokenRequest{Account: account, Vendor: "servicenow", User: "u\n1"}, 400, "invalid_parameter"},
		{"unknown vendor", broker.TokenRequest{Account: account, Vendor: "nosuchvendor"}, 404, "unknown_vendor"},
		{"another account", broker.TokenRequest{Account: "acct-2", Vendor: "servicenow"}, 404, "not_connected"},
		{"no app level", broker.TokenRequest{Account: account, Vendor: "confluence"}, 404, "not_connected"},
		{"no user level", broker.TokenRequest{Account: account, Vendor: "servicenow", User: bob.UserID}, 404, "not_connected"},
		{"no user level, fallback none", broker.TokenRequest{Account: account, Vendor: "servicenow", User: bob.UserID, Fallback: "none"}, 404, "not_connected"},
		{"no level at all, fallback app", broker.TokenRequest{Account: account, Vendor: "confluence", User: bob.UserID, Fallback: "app"}, 404, "not_connected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.token(tc.req)
			p := wantProblem(t, err, tc.status, tc.code)
			if tc.code == "not_connected" && p.Details["level"] == nil {
				t.Fatalf("not_connected without its level: %+v", p)
			}
		})
	}
	if e.refreshes("servicenow") != 0 || len(e.outbox.Messages()) != 0 {
		t.Fatal("a refused request reached the vendor or sent mail")
	}
	// fallback=app without a user-level connection: the app's token.
	tok := e.mustToken(broker.TokenRequest{Account: account, Vendor: "servicenow", User: bob.UserID, Fallback: "app"})
	if tok.Level != connection.LevelApp {
		t.Fatalf("fallback answered %+v", tok)
	}
}

// A grant the vendor refuses is found dead by the broker: marked expired,
// audited with the broker's principal, and its disconnected notice sent at
// once, exactly as the scan would.
func TestTokenRefusedRefresh(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.connect(manager, "servicenow", "app", "")
	u := e.connect(bob, "servicenow", "user", "bob")
	e.sandbox.Knob(t, "servicenow/revoke?user=bob")
	// Revoked: the access token still works until it expires.
	tok := e.mustToken(broker.TokenRequest{Account: account, Vendor: "servicenow", User: bob.UserID, MinValiditySeconds: ptr(60)})
	if active, _ := e.introspect("servicenow", tok.AccessToken); !active {
		t.Fatal("an access token died with the revoke knob")
	}
	e.clock.Set(t0.Add(31 * time.Minute))
	_, err := e.token(broker.TokenRequest{Account: account, Vendor: "servicenow", User: bob.UserID})
	p := wantProblem(t, err, http.StatusConflict, "reconnect_required")
	if p.Details["level"] != "user" {
		t.Fatalf("reconnect_required %+v", p)
	}
	c := e.conn(u.Key)
	if !c.Expired || c.LeaseOwner != "" || !c.ExpiredAt.Equal(e.clock.Now()) {
		t.Fatalf("after the refusal: %+v", c)
	}
	entries := e.audit()
	var disc []connection.AuditEntry
	for _, en := range entries {
		if en.Action == connection.AuditDisconnected {
			disc = append(disc, en)
		}
	}
	wantActor := connection.Actor{Type: connection.ActorBroker, ID: principal}
	if len(disc) != 1 || disc[0].Actor != wantActor || disc[0].Details["detectedBy"] != "broker" ||
		disc[0].Details["reason"] != "refresh_refused" || disc[0].Level != connection.LevelUser || disc[0].UserID != bob.UserID {
		t.Fatalf("disconnected entries %+v", disc)
	}
	msgs := e.outbox.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != bob.Email || !strings.Contains(msgs[0].Text, "ServiceNow has unexpectedly been disconnected") {
		t.Fatalf("emails %+v", msgs)
	}
	ns, err := e.store.ListNotices(t.Context(), account, bob.UserID)
	if err != nil || len(ns) != 1 || ns[0].Kind != connection.NoticeDisconnected {
		t.Fatalf("bob's notices %+v %v", ns, err)
	}
	snap, _ := e.store.Snapshot(t.Context(), account, bob.UserID, []string{"servicenow"})
	if got := snap["servicenow"].Counts; got != (connection.Counts{Total: 1, Connected: 0}) {
		t.Fatalf("counters %+v", got)
	}
	// Asked again: 409 at once, nothing more reaches the vendor or bob.
	refreshes := e.refreshes("servicenow")
	_, err = e.token(broker.TokenRequest{Account: account, Vendor: "servicenow", User: bob.UserID})
	wantProblem(t, err, http.StatusConflict, "reconnect_required")
	if e.refreshes("servicenow") != refreshes || len(e.outbox.Messages()) != 1 {
		t.Fatal("an expired connection was refreshed or told about again")
	}
	// fallback=app: the app level's token.
	tok = e.mustToken(broker.TokenRequest{Account: account, Vendor: "servicenow", User: bob.UserID, Fallback: "app"})
	if tok.Level != connection.LevelApp {
		t.Fatalf("fallback %+v", tok)
	}
}

// fallback=app with a user level the vendor refuses just now: the user
// level is marked all the same, and the app level answers.
func TestTokenFallbackMarksTheDeadUserLevel(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.connect(manager, "confluence", "app", "")
	u := e.connect(bob, "confluence", "user", "bob")
	e.sandbox.Knob(t, "confluence/revoke?user=bob")
	e.clock.Set(t0.Add(2 * time.Hour))
	tok := e.mustToken(broker.TokenRequest{Account: account, Vendor: "confluence", User: bob.UserID, Fallback: "app"})
	if tok.Level != connection.LevelApp {
		t.Fatalf("fallback %+v", tok)
	}
	if active, user := e.introspect("confluence", tok.AccessToken); !active || user != "admin" {
		t.Fatalf("the app's token: %v %s", active, user)
	}
	if c := e.conn(u.Key); !c.Expired {
		t.Fatalf("bob's connection %+v", c)
	}
	if msgs := e.outbox.Messages(); len(msgs) != 1 || msgs[0].To[0] != bob.Email {
		t.Fatalf("emails %+v", msgs)
	}
}

// A connection whose refresh token's expiry passed is found dead too.
func TestTokenExpiryPassed(t *testing.T) {
	e := newEnv(t, nil, nil)
	app := e.connect(manager, "servicenow", "app", "")
	e.clock.Set(t0.Add(100 * day))
	_, err := e.token(broker.TokenRequest{Account: account, Vendor: "servicenow"})
	if p := wantProblem(t, err, http.StatusConflict, "reconnect_required"); p.Details["level"] != "app" {
		t.Fatalf("%+v", p)
	}
	if c := e.conn(app.Key); !c.Expired || e.refreshes("servicenow") != 0 {
		t.Fatalf("after the expiry: %+v, refreshes %d", c, e.refreshes("servicenow"))
	}
	if msgs := e.outbox.Messages(); len(msgs) != 1 || msgs[0].To[0] != manager.Email {
		t.Fatalf("emails %+v", msgs)
	}
}

// An outage answers 503 and marks nothing.
func TestTokenVendorOutage(t *testing.T) {
	e := newEnv(t, nil, nil)
	cf := e.connect(manager, "confluence", "app", "")
	e.clock.Set(t0.Add(2 * time.Hour))
	before := e.conn(cf.Key)
	auditBefore := len(e.audit())
	for _, status := range []string{"503", "500", "429"} {
		e.sandbox.Knob(t, "confluence/outage?status="+status)
		_, err := e.token(broker.TokenRequest{Account: account, Vendor: "confluence"})
		wantProblem(t, err, http.StatusServiceUnavailable, "vendor_unavailable")
		if got := e.conn(cf.Key); !reflect.DeepEqual(dropVersion(got), dropVersion(before)) {
			t.Fatalf("outage %s changed the connection:\n got %+v\nwant %+v", status, got, before)
		}
	}
	if len(e.audit()) != auditBefore || len(e.outbox.Messages()) != 0 {
		t.Fatal("an outage left an audit entry or a notice")
	}
	e.sandbox.Knob(t, "confluence/outage?status=0")
	if tok := e.mustToken(broker.TokenRequest{Account: account, Vendor: "confluence"}); tok.ExpiresAt.Before(e.clock.Now()) {
		t.Fatalf("after the outage %+v", tok)
	}
}

// dropVersion is c without what a taken and released lease moves.
func dropVersion(c connection.Connection) connection.Connection {
	c.Version = 0
	return c
}

// 50 parallel broker calls, and two scans, for one rotating connection
// whose access token has expired: one refresh reaches the vendor, every
// call gets the token it stored.
func TestTokenParallelCallsRefreshOnce(t *testing.T) {
	e := newEnv(t, nil, nil)
	parallelRefreshOnce(t, e)
}

func parallelRefreshOnce(t *testing.T, e *env) {
	t.Helper()
	cf := e.connect(manager, "confluence", "app", "")
	// Day 46: the access token is long dead and the keep-alive is due.
	now := t0.Add(46 * day)
	e.clock.Set(now)
	scanner := &expiry.Scanner{Store: e.store, Clients: e.broker.Clients, WarningWindow: 10 * day, OutageGrace: 72 * time.Hour, Log: e.broker.Log}
	const calls = 50
	var wg sync.WaitGroup
	toks := make([]broker.Token, calls)
	errs := make([]error, calls)
	reports := make([]expiry.Report, 2)
	start := make(chan struct{})
	for i := range calls {
		wg.Go(func() {
			<-start
			toks[i], errs[i] = e.token(broker.TokenRequest{Account: account, Vendor: "confluence"})
		})
	}
	for i := range reports {
		wg.Go(func() {
			<-start
			rep, err := scanner.Run(t.Context(), now)
			if err != nil {
				t.Errorf("scan: %v", err)
			}
			reports[i] = rep
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := e.refreshes("confluence"); n != 1 {
		t.Fatalf("the vendor saw %d refreshes, want 1", n)
	}
	c := e.conn(cf.Key)
	stored := e.tokens(c)
	for i, tok := range toks {
		if tok.AccessToken != stored.AccessToken {
			t.Fatalf("call %d got a token that is not the stored one", i)
		}
	}
	if active, _ := e.introspect("confluence", stored.AccessToken); !active || c.LeaseOwner != "" || stored.RotatedFrom != cf.SecretVersion {
		t.Fatalf("after the calls: active %v, connection %+v", active, c)
	}
	if _, live := e.sandbox.Vendor.RefreshTokenUser(stored.RefreshToken); !live {
		t.Fatal("the stored refresh token is not the grant's live one")
	}
	for _, rep := range reports {
		if rep.Failed != 0 {
			t.Fatalf("scan report %+v", rep)
		}
	}
	t.Logf("lease waits: %d; scans %+v", e.waits, reports)
}

// A connection removed between the read and the lease is not_connected.
func TestTokenRemovedMeanwhile(t *testing.T) {
	e := newEnv(t, nil, nil)
	cf := e.connect(manager, "confluence", "app", "")
	e.clock.Set(t0.Add(2 * time.Hour))
	c := e.conn(cf.Key)
	if err := e.store.Apply(t.Context(), store.DeleteConnection{Key: c.Key, Version: c.Version}); err != nil {
		t.Fatal(err)
	}
	_, err := e.token(broker.TokenRequest{Account: account, Vendor: "confluence"})
	wantProblem(t, err, http.StatusNotFound, "not_connected")
}

// A connection the scan flagged for failing refreshes that a broker
// refresh renews is recorded as recovered, by the broker.
func TestTokenRefreshEndsAFailingFlag(t *testing.T) {
	e := newEnv(t, nil, nil)
	cf := e.connect(manager, "confluence", "app", "")
	c := e.conn(cf.Key)
	c.VendorErrorSince = t0.Add(time.Hour)
	if err := e.store.Apply(t.Context(), store.UpdateConnection{Conn: c}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(t0.Add(2 * time.Hour))
	e.mustToken(broker.TokenRequest{Account: account, Vendor: "confluence"})
	if got := e.conn(cf.Key); !got.VendorErrorSince.IsZero() {
		t.Fatalf("still flagged: %+v", got)
	}
	entries := e.audit()
	if len(entries) == 0 || entries[0].Action != connection.AuditRecovered || entries[0].Actor != (connection.Actor{Type: connection.ActorBroker, ID: principal}) ||
		entries[0].Details["failingSince"] != "2027-01-04T10:00:00Z" {
		t.Fatalf("newest entry %+v", entries[0])
	}
}
