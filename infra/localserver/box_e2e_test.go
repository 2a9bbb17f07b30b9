package localserver_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/integrations"
)

// TestLocalBox walks Box through the local server as the README's curl
// walkthrough does, on the sandbox's Box dialect (single-use refresh
// tokens that die after 60 days unused, one enterprise per grant,
// revocation): listed under type=fileStorage; connected at app and user
// level on one enterprise; reconnect, user_mismatch, site_mismatch and a
// change of user (the replaced grant revoked at Box); an outage that the
// scan survives without spending the single-use token; monthly
// keep-alives for 210 days; a grant revoked at Box found dead by the next
// keep-alive, with its notice; a reconnect; disconnects that revoke
// (best effort during an outage).
func TestLocalBox(t *testing.T) {
	e := newEnv(t, nil)
	e.secret("sandbox-box-secret", "the Box app's client secret")
	acme := sandbox.BoxEnterpriseID("acme")
	appKey, bobKey := connection.AppKey("a1", "box"), connection.UserKey("a1", "box", "u2")

	box := find(e, e.list(ada, "?type=fileStorage"), "box")
	if box.Name != "Box" || !box.Configured || box.Integrated || box.Status != connection.StatusNotConnected {
		t.Fatalf("fresh Box: %+v", box)
	}

	// Connect: admin of the acme enterprise.
	res := e.connect(ada, "box", "app", "", nil)
	if u := res.Connection.ConnectedUser; u == nil || u.Name != "Admin User" || u.Email != "admin@acme.example.com" {
		t.Fatalf("connected user %+v", res.Connection.ConnectedUser)
	}
	app := e.stored(appKey)
	if app.SiteID != acme || app.Instance != "" || app.GrantedScope != "root_readonly" || !app.RefreshTokenExpiresAt.Equal(t0.Add(60*day)) {
		t.Fatalf("stored: site %q instance %q scope %q refresh expiry %v", app.SiteID, app.Instance, app.GrantedScope, app.RefreshTokenExpiresAt)
	}
	if raw := e.listRaw(ada, "?type=fileStorage"); !strings.Contains(raw, `"status":"connected"`) || strings.Contains(raw, `"instance"`) {
		t.Fatalf("listed %s", raw)
	}
	e.wantActive("box", e.accessToken(appKey), "admin", "acme", "the app's access token")
	e.wantError(e.get("/v1/account/integrations/box/oauth2/url?flow=app", &ada), 409, "already_connected", "a second connect")

	// Repairs: another Box user, another enterprise, then the same user.
	e.wantError(e.callback(ada, "box", e.approve(e.authURL(ada, "box", "app", "reconnect"), url.Values{"sandbox_user": {"mallory"}})),
		409, "user_mismatch", "reconnect as another Box user")
	e.wantError(e.callback(ada, "box", e.approve(e.authURL(ada, "box", "app", "changeUser"), url.Values{"sandbox_user": {"carol"}, "sandbox_site": {"beta"}})),
		409, "site_mismatch", "change of user in another enterprise")
	if got := e.stored(appKey); got.SecretVersion != app.SecretVersion || got.Version != app.Version {
		t.Fatal("a refused repair changed the connection")
	}
	if re := e.connect(ada, "box", "app", "reconnect", nil); re.UserChanged {
		t.Fatalf("reconnect by the same Box user: %+v", re)
	}
	replaced := e.accessToken(appKey)
	ch := e.connect(ada, "box", "app", "changeUser", url.Values{"sandbox_user": {"carol"}})
	if !ch.UserChanged || ch.Connection.ConnectedUser.Name != "Carol User" || e.stored(appKey).ID != app.ID {
		t.Fatalf("change of user: %+v", ch)
	}
	e.wantInactive("box", replaced, "the grant a change of user replaced, revoked at Box")

	// User level: only on the app's enterprise.
	e.wantError(e.callback(bob, "box", e.approve(e.authURL(bob, "box", "user", ""), url.Values{"sandbox_user": {"bob"}, "sandbox_site": {"beta"}})),
		409, "site_mismatch", "bob in another enterprise")
	e.connect(bob, "box", "user", "", url.Values{"sandbox_user": {"bob"}})
	if v := find(e, e.list(ada, "?includeUserLevelConnectionData=true"), "box"); *v.ConnectionDetails != (integrations.Details{Total: 1, Connected: 1}) {
		t.Fatalf("connection details %+v", v.ConnectionDetails)
	}

	// Day 30, Box down: both keep-alives fail as an outage (recorded, not
	// an expiry), each tried twice (the retry meant for a lost answer)
	// without spending the single-use token; the connections stay
	// connected, and the next day's run keeps them alive.
	before := e.stats("box")
	e.want(e.call(http.MethodPost, "/_sandbox/box/outage?status=503", nil, ""), http.StatusNoContent, "outage on")
	if rep := e.scan(t0.Add(30 * day)); rep.Checked != 2 || rep.Refreshed != 0 || rep.Expired != 0 {
		t.Fatalf("scan during the outage: %+v", rep)
	}
	if c := e.stored(appKey); !c.VendorErrorSince.Equal(t0.Add(30*day)) || c.Expired {
		t.Fatalf("after the failed keep-alive: failing since %v, expired %v", c.VendorErrorSince, c.Expired)
	}
	if got := e.stats("box"); got.RefreshToken != before.RefreshToken+4 {
		t.Fatalf("refresh requests during the outage: %d, want 4", got.RefreshToken-before.RefreshToken)
	}
	e.want(e.call(http.MethodPost, "/_sandbox/box/outage?status=0", nil, ""), http.StatusNoContent, "outage off")
	if v := find(e, e.list(ada, ""), "box"); v.Status != connection.StatusConnected {
		t.Fatalf("after the outage: %+v", v)
	}

	// Monthly keep-alives, each one single-use rotation per connection.
	for d := 31; d <= 211; d += 30 {
		if rep := e.scan(t0.Add(time.Duration(d) * day)); rep.Refreshed != 2 || rep.Expired != 0 || rep.Notices != 0 {
			t.Fatalf("day %d: %+v", d, rep)
		}
		e.harvest(appKey)
		e.harvest(bobKey)
		e.wantActive("box", e.accessToken(appKey), "carol", "acme", "the app's access token after a keep-alive")
		if c := e.stored(appKey); !c.RefreshTokenExpiresAt.Equal(t0.Add(time.Duration(d+60) * day)) {
			t.Fatalf("day %d: refresh expiry %v", d, c.RefreshTokenExpiresAt)
		}
	}
	if got := e.outbox(); len(got) != 0 {
		t.Fatalf("a grant kept alive got emails: %+v", got)
	}

	// Carol's grant revoked at Box: the next keep-alive finds it dead.
	e.clock.Set(t0.Add(215 * day))
	e.want(e.call(http.MethodPost, "/_sandbox/box/revoke?user=carol", nil, ""), http.StatusNoContent, "revoke at Box")
	if rep := e.scan(t0.Add(241 * day)); rep.Expired != 1 || rep.Refreshed != 1 || rep.Notices != 1 {
		t.Fatalf("day 241: %+v", rep)
	}
	ns := e.notifications(ada)
	if len(ns) != 1 || ns[0].Kind != connection.NoticeDisconnected || ns[0].Message != "Box has unexpectedly been disconnected. Please reconnect your Box account." {
		t.Fatalf("ada's notices %+v", ns)
	}
	if v := find(e, e.list(ada, ""), "box"); !v.RefreshTokenExpired || v.Status != connection.StatusExpired {
		t.Fatalf("listed after the revocation %+v", v)
	}
	if re := e.connect(ada, "box", "app", "reconnect", url.Values{"sandbox_user": {"carol"}}); re.Connection.RefreshTokenExpired {
		t.Fatalf("reconnect: %+v", re)
	}
	if ns := e.notifications(ada); len(ns) != 0 {
		t.Fatalf("notices after the reconnect %+v", ns)
	}

	// Disconnects revoke at Box; during an outage revocation is best
	// effort: the connection goes, the grant stays at Box.
	bobToken, appToken := e.accessToken(bobKey), e.accessToken(appKey)
	e.want(e.call(http.MethodPost, "/_sandbox/box/outage?status=503", nil, ""), http.StatusNoContent, "outage on")
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/box?flow=user", &bob, ""), http.StatusNoContent, "bob disconnects")
	e.want(e.call(http.MethodPost, "/_sandbox/box/outage?status=0", nil, ""), http.StatusNoContent, "outage off")
	e.wantActive("box", bobToken, "bob", "acme", "bob's grant, not revoked during the outage")
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/box?flow=app", &ada, ""), http.StatusNoContent, "ada disconnects")
	e.wantInactive("box", appToken, "the app's grant after the disconnect")
	if v := find(e, e.list(ada, ""), "box"); v.Integrated || v.Status != connection.StatusNotConnected {
		t.Fatalf("listed after the disconnects %+v", v)
	}
	if !strings.Contains(e.log.String(), "could not revoke the grant at the vendor") {
		t.Fatal("the failed revocation was not logged")
	}
	e.assertNoLeaks()
}
