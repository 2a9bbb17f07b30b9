package broker_test

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/broker"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/store"
)

func caller(p lifecycle.Caller) broker.Caller {
	return broker.Caller{Account: p.Account, UserID: p.UserID, AppManager: p.AppManager}
}

func (e *env) check(who lifecycle.Caller, vendorID, flow string) (broker.CheckResult, error) {
	return e.broker.Check(e.t.Context(), caller(who), broker.CheckRequest{Vendor: vendorID, Flow: flow})
}

func (e *env) mustCheck(who lifecycle.Caller, vendorID, flow string) broker.CheckResult {
	e.t.Helper()
	res, err := e.check(who, vendorID, flow)
	if err != nil {
		e.t.Fatalf("check %s %s as %s: %v", vendorID, flow, who.UserID, err)
	}
	return res
}

// disconnectedBy are the disconnected entries of the timeline.
func (e *env) disconnectedBy() []connection.AuditEntry {
	var out []connection.AuditEntry
	for _, en := range e.audit() {
		if en.Action == connection.AuditDisconnected {
			out = append(out, en)
		}
	}
	return out
}

func TestCheckValid(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.connect(manager, "servicenow", "app", "")
	e.connect(manager, "confluence", "app", "")
	e.connect(bob, "confluence", "user", "bob")
	for _, c := range []struct {
		who          lifecycle.Caller
		vendor, flow string
	}{{manager, "servicenow", "app"}, {manager, "confluence", "app"}, {bob, "confluence", "user"}} {
		res := e.mustCheck(c.who, c.vendor, c.flow)
		want := broker.CheckResult{Vendor: c.vendor, Flow: connection.Level(c.flow), Valid: true, Status: connection.StatusConnected, CheckedAt: t0}
		if res != want {
			t.Fatalf("check %s %s:\n got %+v\nwant %+v", c.vendor, c.flow, res, want)
		}
	}
	// Two hours on: the access token is refreshed first, then checked.
	e.clock.Set(t0.Add(2 * time.Hour))
	if res := e.mustCheck(bob, "confluence", "user"); !res.Valid || e.refreshes("confluence") != 1 {
		t.Fatalf("after two hours: %+v, refreshes %d", res, e.refreshes("confluence"))
	}
	// Day 95 of ServiceNow's 100: valid, and expiring.
	e.clock.Set(t0.Add(95 * day))
	if res := e.mustCheck(manager, "servicenow", "app"); !res.Valid || res.Status != connection.StatusExpiring {
		t.Fatalf("day 95: %+v", res)
	}
	if len(e.disconnectedBy()) != 0 || len(e.outbox.Messages()) != 0 {
		t.Fatal("a valid check marked something")
	}
}

func TestCheckRefusals(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.connect(manager, "servicenow", "app", "")
	for _, tc := range []struct {
		name         string
		who          lifecycle.Caller
		vendor, flow string
		status       int
		code         string
	}{
		{"unknown vendor", manager, "nosuchvendor", "app", 404, "unknown_vendor"},
		{"no flow", manager, "servicenow", "", 400, "invalid_flow"},
		{"bad flow", manager, "servicenow", "system", 400, "invalid_flow"},
		{"app level by a plain user", bob, "servicenow", "app", 403, "forbidden"},
		{"no user level", bob, "servicenow", "user", 404, "not_connected"},
		{"no app level", manager, "confluence", "app", 404, "not_connected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.check(tc.who, tc.vendor, tc.flow)
			wantProblem(t, err, tc.status, tc.code)
		})
	}
}

// After a revoke the access token works until it expires: the check says
// valid. Past it, the refresh is refused: invalid, marked, told.
func TestCheckFindsARevokedGrant(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.connect(manager, "servicenow", "app", "")
	u := e.connect(bob, "servicenow", "user", "bob")
	e.sandbox.Knob(t, "servicenow/revoke?user=bob")
	if res := e.mustCheck(bob, "servicenow", "user"); !res.Valid {
		t.Fatalf("right after the revoke: %+v", res)
	}
	e.clock.Set(t0.Add(40 * time.Minute))
	res := e.mustCheck(bob, "servicenow", "user")
	want := broker.CheckResult{Vendor: "servicenow", Flow: connection.LevelUser, Status: connection.StatusExpired, CheckedAt: e.clock.Now(), Reason: "refresh_refused"}
	if res != want {
		t.Fatalf("after the access token's lifetime:\n got %+v\nwant %+v", res, want)
	}
	if c := e.conn(u.Key); !c.Expired {
		t.Fatalf("connection %+v", c)
	}
	d := e.disconnectedBy()
	if len(d) != 1 || d[0].Actor != connection.UserActor(bob.UserID) || d[0].Details["detectedBy"] != "check" || d[0].Details["reason"] != "refresh_refused" {
		t.Fatalf("disconnected entries %+v", d)
	}
	if msgs := e.outbox.Messages(); len(msgs) != 1 || msgs[0].To[0] != bob.Email {
		t.Fatalf("emails %+v", msgs)
	}
	// Checked again: still invalid (the connection is expired), nothing new.
	if res := e.mustCheck(bob, "servicenow", "user"); res.Valid || res.Reason != "expired" || len(e.outbox.Messages()) != 1 || len(e.disconnectedBy()) != 1 {
		t.Fatalf("second check %+v", res)
	}
}

// A grant revoked at the vendor (access token included): the identity
// endpoint answers 401, the check refreshes, which is refused.
func TestCheckIdentity401(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.connect(manager, "servicenow", "app", "")
	app := e.conn(connection.AppKey(account, "servicenow"))
	form := url.Values{"token": {e.tokens(app).RefreshToken}}
	resp, err := e.sandbox.Server.Client().PostForm(e.sandbox.Server.URL+"/_sandbox/servicenow/acme/oauth_revoke_token.do", form)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke at the vendor: %v %v", resp, err)
	}
	resp.Body.Close()
	res := e.mustCheck(manager, "servicenow", "app")
	if res.Valid || res.Reason != "refresh_refused" || e.refreshes("servicenow") != 1 {
		t.Fatalf("check of a revoked grant: %+v, refreshes %d", res, e.refreshes("servicenow"))
	}
	if c := e.conn(app.Key); !c.Expired {
		t.Fatalf("connection %+v", c)
	}
}

// The vendor names another user than the one who connected: invalid,
// identity_changed, marked.
func TestCheckIdentityChanged(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.connect(manager, "confluence", "app", "")
	c := e.conn(connection.AppKey(account, "confluence"))
	c.ConnectedUser.ID = "someone-else"
	if err := e.store.Apply(t.Context(), store.UpdateConnection{Conn: c}); err != nil {
		t.Fatal(err)
	}
	res := e.mustCheck(manager, "confluence", "app")
	if res.Valid || res.Reason != "identity_changed" || res.Status != connection.StatusExpired {
		t.Fatalf("check %+v", res)
	}
	if got := e.conn(c.Key); !got.Expired {
		t.Fatalf("connection %+v", got)
	}
	if d := e.disconnectedBy(); len(d) != 1 || d[0].Details["reason"] != "identity_changed" {
		t.Fatalf("entries %+v", d)
	}
}

// A vendor outage changes nothing: 503 vendor_unavailable.
func TestCheckVendorOutage(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.connect(manager, "servicenow", "app", "")
	k := connection.AppKey(account, "servicenow")
	before := e.conn(k)
	e.sandbox.Knob(t, "servicenow/outage?status=503")
	// The identity endpoint is down (the token is still valid).
	_, err := e.check(manager, "servicenow", "app")
	wantProblem(t, err, http.StatusServiceUnavailable, "vendor_unavailable")
	// The token endpoint is down (the token needs a refresh).
	e.clock.Set(t0.Add(time.Hour))
	_, err = e.check(manager, "servicenow", "app")
	wantProblem(t, err, http.StatusServiceUnavailable, "vendor_unavailable")
	if got := e.conn(k); !reflect.DeepEqual(dropVersion(got), dropVersion(before)) || len(e.disconnectedBy()) != 0 {
		t.Fatalf("an outage changed the connection:\n got %+v\nwant %+v", got, before)
	}
	if logs := e.log.String(); strings.Contains(logs, e.tokens(before).AccessToken) {
		t.Fatal("a token is in the log")
	}
}
