package localserver_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/integrations"
	"github.com/workplace/connections/shared/vendors"
)

// TestLocalDropbox walks Dropbox through the HTTP API as the README's
// walkthrough does: a team account connected at app and user level (its
// token from the broker, its live check),
// reconnected, handed to another user, refused on another team or a
// personal account (site_mismatch), disconnected with its grant revoked at
// Dropbox (also when the stored access token has expired), and, since its
// grants never expire, never warned but found dead by the scan's idle
// check once revoked at Dropbox.
func TestLocalDropbox(t *testing.T) {
	e := newEnv(t, nil)
	e.secret("sandbox-dropbox-secret", "the Dropbox app's client secret")
	team := url.Values{"sandbox_site": {"acme"}}
	as := func(login string) url.Values {
		return url.Values{"sandbox_site": {"acme"}, "sandbox_user": {login}}
	}

	views := e.list(ada, "?type=fileStorage")
	if ids := idsOf(views); !slices.Equal(ids, vendors.IDs(vendors.OfType(vendors.TypeFileStorage))) || !slices.Contains(ids, "dropbox") {
		t.Fatalf("type=fileStorage lists %v", ids)
	}
	if v := find(e, views, "dropbox"); v.Integrated || !v.Configured {
		t.Fatalf("Dropbox before connecting: %+v", v)
	}
	u, _ := url.Parse(e.authURL(ada, "dropbox", "app", ""))
	if q := u.Query(); u.Path != "/_sandbox/dropbox/oauth2/authorize" || q.Get("token_access_type") != "offline" ||
		q.Get("code_challenge_method") != "S256" || q.Get("scope") != "account_info.read files.metadata.read files.content.read" {
		t.Fatalf("authorization URL %s", u)
	}

	// A grant Dropbox issues without a refresh token, or without the
	// scopes, is refused and revoked.
	r := e.callback(ada, "dropbox", e.approve(e.authURL(ada, "dropbox", "app", ""), url.Values{"sandbox_no_refresh": {"1"}}))
	e.wantError(r, http.StatusBadGateway, "vendor_error", "no refresh token")
	r = e.callback(ada, "dropbox", e.approve(e.authURL(ada, "dropbox", "app", ""), url.Values{"sandbox_scope": {"account_info.read"}}))
	e.wantError(r, http.StatusBadGateway, "vendor_error", "narrow scope")
	if find(e, e.list(ada, ""), "dropbox").Integrated {
		t.Fatal("a refused grant connected Dropbox")
	}

	// Connect: a member of team acme. The team is the site; the refresh
	// token never expires, so there is no expiry and nothing to warn of.
	res := e.connect(ada, "dropbox", "app", "", team)
	appKey := connection.AppKey("a1", "dropbox")
	c := e.stored(appKey)
	if res.Connection.ConnectedUser == nil || *res.Connection.ConnectedUser != (integrations.ConnectedUser{Name: "Admin User", Email: "admin@example.com"}) ||
		res.Connection.RefreshTokenExpiresAt != nil || res.Connection.Type != "fileStorage" {
		t.Fatalf("connect: %+v", res.Connection)
	}
	if c.SiteID != sandbox.DropboxTeamID("acme") || c.ConnectedUser.ID != sandbox.DropboxAccountID("admin") ||
		!c.RefreshTokenExpiresAt.IsZero() || !c.AccessTokenExpiresAt.Equal(t0.Add(4*time.Hour)) || !c.NextCheckAt.Equal(t0.Add(30*day)) ||
		c.GrantedScope != "account_info.read files.metadata.read files.content.read" {
		t.Fatalf("stored: %+v", c)
	}
	e.wantActive("dropbox", e.accessToken(appKey), "admin", "acme", "the app grant's token")
	// The token broker hands it out with Dropbox's API base; the live
	// check asks Dropbox who it is.
	if tok := e.token(`{"account":"a1","vendor":"dropbox"}`); tok.APIBaseURL != e.base+"/_sandbox/dropbox/2" ||
		tok.Level != connection.LevelApp || !tok.ExpiresAt.Equal(t0.Add(4*time.Hour)) {
		t.Fatalf("broker token %+v", tok)
	}
	if res := e.checkConn(ada, "dropbox", "app"); !res.Valid || res.Status != connection.StatusConnected {
		t.Fatalf("live check %+v", res)
	}
	e.wantError(e.get("/v1/account/integrations/dropbox/oauth2/url?flow=app", &ada), 409, "already_connected", "connect twice")

	// Reconnect by the same Dropbox account: same connection, new grant.
	e.clock.Set(t0.Add(day))
	e.connect(ada, "dropbox", "app", "reconnect", team)
	if got := e.stored(appKey); got.ID != c.ID || got.Generation != c.Generation+1 || got.SecretVersion == c.SecretVersion {
		t.Fatalf("reconnect: %+v", got)
	}
	// Another Dropbox account: user_mismatch; another team or a personal
	// account: site_mismatch; nothing moves.
	before := e.listRaw(ada, "?includeUserLevelConnectionData=true")
	for _, tc := range []struct {
		action, code string
		knobs        url.Values
	}{
		{"reconnect", "user_mismatch", as("carol")},
		{"reconnect", "site_mismatch", url.Values{"sandbox_site": {"globex"}}},
		{"changeUser", "site_mismatch", url.Values{"sandbox_user": {"carol"}}}, // personal
		{"changeUser", "site_mismatch", url.Values{"sandbox_user": {"carol"}, "sandbox_site": {"globex"}}},
	} {
		r := e.callback(ada, "dropbox", e.approve(e.authURL(ada, "dropbox", "app", tc.action), tc.knobs))
		e.wantError(r, 409, tc.code, tc.action+" "+tc.knobs.Encode())
	}
	if got := e.listRaw(ada, "?includeUserLevelConnectionData=true"); got != before {
		t.Fatalf("refused repairs changed the list:\n%s\n%s", before, got)
	}

	// Change User to carol of the same team: the replaced grant is revoked
	// at Dropbox.
	old := e.accessToken(appKey)
	ch := e.connect(cat, "dropbox", "app", "changeUser", as("carol"))
	if !ch.UserChanged || ch.Connection.ConnectedUser.Name != "Carol User" {
		t.Fatalf("change user: %+v", ch)
	}
	e.wantInactive("dropbox", old, "the replaced grant's token")
	e.wantActive("dropbox", e.accessToken(appKey), "carol", "acme", "carol's token")

	// User level: bob of team acme; dave with a personal account is on
	// another site than the app.
	e.connect(bob, "dropbox", "user", "", as("bob"))
	r = e.callback(cat, "dropbox", e.approve(e.authURL(cat, "dropbox", "user", ""), url.Values{"sandbox_user": {"dave"}}))
	e.wantError(r, 409, "site_mismatch", "a personal account at user level")
	if v := find(e, e.list(bob, "?includeUserLevelConnectionData=true"), "dropbox"); *v.ConnectionDetails != (integrations.Details{Total: 1, Connected: 1}) || !v.UserConnection.Connected {
		t.Fatalf("bob's view: %+v %+v", v.ConnectionDetails, v.UserConnection)
	}
	bobKey := connection.UserKey("a1", "dropbox", "u2")

	// Disconnect during a Dropbox outage: the connection goes, the
	// revocation cannot (best effort; the secret is scheduled for
	// deletion), and the grant lives on at Dropbox.
	bobToken := e.accessToken(bobKey)
	e.want(e.call(http.MethodPost, "/_sandbox/dropbox/outage?status=503", nil, ""), http.StatusNoContent, "outage")
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/dropbox?flow=user", &bob, ""), http.StatusNoContent, "bob disconnects in an outage")
	e.want(e.call(http.MethodPost, "/_sandbox/dropbox/outage?status=0", nil, ""), http.StatusNoContent, "outage over")
	e.wantActive("dropbox", bobToken, "bob", "acme", "bob's token after a disconnect in an outage")
	if !strings.Contains(e.log.String(), "could not revoke the grant at the vendor") {
		t.Fatal("the failed revocation was not logged")
	}
	// Again, without the outage: revoked.
	e.connect(bob, "dropbox", "user", "", as("bob"))
	bobToken = e.accessToken(bobKey)
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/dropbox?flow=user", &bob, ""), http.StatusNoContent, "bob disconnects")
	e.wantInactive("dropbox", bobToken, "bob's token after his disconnect")

	// The app level, five hours after its grant: the stored access token
	// has expired, so the disconnect refreshes once to revoke.
	e.clock.Set(t0.Add(day + 5*time.Hour))
	stats := e.stats("dropbox")
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/dropbox?flow=app", &ada, ""), http.StatusNoContent, "app disconnect")
	if got := e.stats("dropbox"); got.RefreshToken != stats.RefreshToken+1 {
		t.Fatalf("refreshes to revoke: %+v then %+v", stats, got)
	}
	if v := find(e, e.list(ada, ""), "dropbox"); v.Integrated || v.Status != connection.StatusNotConnected {
		t.Fatalf("after disconnect: %+v", v)
	}

	// Never warned, kept by idle checks only: connect on day 2, revoke at
	// Dropbox (the user removed the app) on day 3; the scan does nothing
	// until the grant has gone IDLE_CHECK_DAYS (30) unrefreshed, then finds
	// it dead.
	day2 := t0.Add(2 * day)
	e.clock.Set(day2)
	e.connect(ada, "dropbox", "app", "", team)
	e.clock.Set(t0.Add(3 * day))
	e.want(e.call(http.MethodPost, "/_sandbox/dropbox/revoke?user=admin", nil, ""), http.StatusNoContent, "revoke at Dropbox")
	for _, d := range []int{10, 20, 29} {
		if rep := e.scan(day2.Add(time.Duration(d) * day)); rep.Checked != 0 || rep.Notices != 0 {
			t.Fatalf("day %d: %+v", d+2, rep)
		}
	}
	if rep := e.scan(day2.Add(30 * day)); rep.Checked != 1 || rep.Expired != 1 || rep.Notices != 1 {
		t.Fatalf("the idle check: %+v", rep)
	}
	ns := e.notifications(ada)
	if len(ns) != 1 || ns[0].Kind != connection.NoticeDisconnected || ns[0].Vendor != "dropbox" {
		t.Fatalf("notifications %+v", ns)
	}
	for _, m := range e.outbox() {
		if strings.Contains(m.Subject, "will soon be disconnected") {
			t.Fatalf("a Dropbox grant was warned of: %+v", m)
		}
	}
	if v := find(e, e.list(ada, ""), "dropbox"); v.Status != connection.StatusExpired || !v.RefreshTokenExpired {
		t.Fatalf("listed %+v", v)
	}
	// A reconnect brings it back.
	e.connect(ada, "dropbox", "app", "reconnect", team)
	e.assertNoLeaks()
}
