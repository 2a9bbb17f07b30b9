package localserver_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/infra/localserver"
	"github.com/workplace/connections/infra/sandbox"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/integrations"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vendors"
)

// googleRefresh uses a refresh token at the sandbox's Google token
// endpoint, as the deployment's app, and returns the status and error
// code: what Google would answer the service now.
func (e *env) googleRefresh(refreshToken string) (int, string) {
	e.t.Helper()
	app := localserver.SandboxApp("googledrive")
	resp, err := http.PostForm(e.base+"/_sandbox/googledrive/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refreshToken},
		"client_id": {app.ClientID}, "client_secret": {app.ClientSecret},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error        string `json:"error"`
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode == http.StatusOK && body.RefreshToken != "" {
		e.t.Fatal("Google answered a refresh with a refresh token: it does not rotate")
	}
	return resp.StatusCode, body.Error
}

// refreshTokenOf is the refresh token a connection holds now.
func (e *env) refreshTokenOf(k connection.Key) string {
	e.t.Helper()
	c := e.stored(k)
	toks, err := vault.GetTokens(e.t.Context(), e.deps.Vault, c.SecretName, c.SecretVersion)
	if err != nil || toks.RefreshToken == "" {
		e.t.Fatalf("tokens of %s: %v", k, err)
	}
	return toks.RefreshToken
}

// TestLocalGoogleDrive walks Google Drive through the HTTP API as the
// README does: listed under fileStorage, connected at app and user level
// on a Workspace domain with the parameters that bring a refresh token
// every time, reconnected, refused on another domain (or a personal
// account) and for another user, its user changed (the replaced grant
// revoked at Google), kept alive by the scan past the six months a
// refresh token lives unused, found dead once revoked at Google, and
// disconnected with revocation; an outage refuses nothing; the token
// broker hands its access token with the Drive API's base.
func TestLocalGoogleDrive(t *testing.T) {
	e := newEnv(t, nil)
	app := localserver.SandboxApp("googledrive")
	e.secret(app.ClientSecret, "the Google app's client secret")
	appKey, bobKey := connection.AppKey("a1", "googledrive"), connection.UserKey("a1", "googledrive", "u2")

	views := e.list(ada, "?type=fileStorage")
	if v := find(e, views, "googledrive"); v.Name != "Google Drive" || v.Type != vendors.TypeFileStorage || !v.Configured || v.Integrated {
		t.Fatalf("fresh Google Drive: %+v", v)
	}
	for _, v := range views {
		if v.Type != vendors.TypeFileStorage {
			t.Fatalf("type=fileStorage lists %+v", v)
		}
	}

	// The authorization URL: Google's endpoint, offline access with the
	// consent screen, PKCE, the scopes as Google's answers spell them.
	u, _ := url.Parse(e.authURL(ada, "googledrive", "app", ""))
	q := u.Query()
	if u.Path != "/_sandbox/googledrive/o/oauth2/v2/auth" || q.Get("access_type") != "offline" || q.Get("prompt") != "consent" ||
		q.Get("code_challenge_method") != "S256" || q.Get("client_id") != app.ClientID ||
		q.Get("scope") != "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile https://www.googleapis.com/auth/drive.readonly" {
		t.Fatalf("authorization URL %s", u.Redacted())
	}

	// App level, on the Workspace domain acme.example.com.
	res := e.connect(ada, "googledrive", "app", "", nil)
	if cu := res.Connection.ConnectedUser; cu == nil || cu.Name != "Admin User" || cu.Email != "admin@acme.example.com" ||
		!res.Connection.RefreshTokenExpiresAt.Equal(t0.Add(180*day)) || res.Connection.Instance != "" {
		t.Fatalf("connect: %+v", res.Connection)
	}
	c := e.stored(appKey)
	if c.SiteID != sandbox.GoogleDomain("acme") || c.ConnectedUser.ID != sandbox.GoogleSubject("admin", "acme") ||
		c.GrantedScope != q.Get("scope") {
		t.Fatalf("stored: site %q user %q scope %q", c.SiteID, c.ConnectedUser.ID, c.GrantedScope)
	}
	first := e.refreshTokenOf(appKey)

	// The token broker answers its access token with the Drive API's
	// base, and Google's API takes it.
	tok := e.token(`{"account":"a1","vendor":"googledrive"}`)
	if tok.APIBaseURL != e.base+"/_sandbox/googledrive/drive/v3" || tok.Level != connection.LevelApp || tok.Instance != "" {
		t.Fatalf("broker: %+v", tok)
	}
	e.wantActive("googledrive", tok.AccessToken, "admin", "acme", "the broker's token")

	// Reconnect by the same Google account: a new refresh token (prompt=consent);
	// the old one is left as Google leaves it, live.
	e.clock.Set(t0.Add(2 * day))
	re := e.connect(ada, "googledrive", "app", "reconnect", nil)
	if re.UserChanged || !re.Connection.RefreshTokenExpiresAt.Equal(t0.Add(182*day)) || e.refreshTokenOf(appKey) == first {
		t.Fatalf("reconnect: %+v", re)
	}
	if st, _ := e.googleRefresh(first); st != http.StatusOK {
		t.Fatalf("the reconnect killed the previous refresh token: %d", st)
	}

	// Refused, and nothing changes: another Workspace domain, a personal
	// account, another user of the same domain.
	before := e.listRaw(ada, "?includeUserLevelConnectionData=true")
	for _, tc := range []struct {
		knobs url.Values
		code  string
	}{
		{url.Values{"sandbox_site": {"beta"}}, "site_mismatch"},
		{url.Values{"sandbox_site": {sandbox.GooglePersonal}}, "site_mismatch"},
		{url.Values{"sandbox_user": {"carol"}}, "user_mismatch"},
	} {
		r := e.callback(ada, "googledrive", e.approve(e.authURL(ada, "googledrive", "app", "reconnect"), tc.knobs))
		e.wantError(r, http.StatusConflict, tc.code, "reconnect "+tc.knobs.Encode())
		if got := e.listRaw(ada, "?includeUserLevelConnectionData=true"); got != before {
			t.Fatalf("%s changed the list:\n%s\n%s", tc.code, before, got)
		}
	}

	// User level: bob on the same domain; not on another.
	e.wantError(e.callback(bob, "googledrive", e.approve(e.authURL(bob, "googledrive", "user", ""),
		url.Values{"sandbox_user": {"bob"}, "sandbox_site": {"beta"}})), http.StatusConflict, "site_mismatch", "bob on another domain")
	e.connect(bob, "googledrive", "user", "", url.Values{"sandbox_user": {"bob"}})
	v := find(e, e.list(bob, "?type=fileStorage&includeUserLevelConnectionData=true"), "googledrive")
	if *v.ConnectionDetails != (integrations.Details{Total: 1, Connected: 1}) || !v.UserConnection.Connected || v.UserConnection.ConnectedUser.Email != "bob@acme.example.com" {
		t.Fatalf("bob's user level: %+v %+v", v.ConnectionDetails, v.UserConnection)
	}

	// Change of user: carol's grant replaces admin's, which is revoked at
	// Google (both of admin's refresh tokens: revocation ends the account's
	// access to the app).
	adminToken := e.refreshTokenOf(appKey)
	ch := e.connect(cat, "googledrive", "app", "changeUser", url.Values{"sandbox_user": {"carol"}})
	if !ch.UserChanged || ch.Connection.ConnectedUser.Email != "carol@acme.example.com" {
		t.Fatalf("change user: %+v", ch)
	}
	for _, tok := range []string{adminToken, first} {
		if st, code := e.googleRefresh(tok); st != http.StatusBadRequest || code != "invalid_grant" {
			t.Fatalf("the replaced grant after the change of user: %d %s", st, code)
		}
	}

	// Bob disconnects: his grant is revoked at Google.
	bobToken := e.refreshTokenOf(bobKey)
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/googledrive?flow=user", &bob, ""), http.StatusNoContent, "bob disconnects")
	if st, code := e.googleRefresh(bobToken); st != http.StatusBadRequest || code != "invalid_grant" {
		t.Fatalf("bob's grant after his disconnect: %d %s", st, code)
	}

	// An outage refuses nothing and stores nothing.
	e.want(e.call(http.MethodPost, "/_sandbox/googledrive/outage?status=503", nil, ""), http.StatusNoContent, "outage on")
	before = e.listRaw(ada, "?includeUserLevelConnectionData=true")
	e.wantError(e.callback(cat, "googledrive", e.approve(e.authURL(cat, "googledrive", "app", "reconnect"), url.Values{"sandbox_user": {"carol"}})),
		http.StatusBadGateway, "vendor_error", "reconnect during an outage")
	if got := e.listRaw(ada, "?includeUserLevelConnectionData=true"); got != before {
		t.Fatalf("an outage changed the list:\n%s\n%s", before, got)
	}
	e.want(e.call(http.MethodPost, "/_sandbox/googledrive/outage?status=0", nil, ""), http.StatusNoContent, "outage off")

	// The scan keeps the grant alive: it refreshes once half of the six
	// months have passed since the last use, and never warns (a refresh
	// moves the expiry). Carol's grant dates from day 2.
	day := func(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }
	if rep := e.scan(day(91)); rep.Refreshed != 0 || rep.Notices != 0 {
		t.Fatalf("day 91: %+v", rep)
	}
	if rep := e.scan(day(92)); rep.Refreshed != 1 || rep.Notices != 0 || rep.Expired != 0 {
		t.Fatalf("day 92: %+v", rep)
	}
	if c := e.stored(appKey); !c.RefreshTokenExpiresAt.Equal(day(272)) || c.Expired {
		t.Fatalf("after the keep-alive: expires %v, expired %v", c.RefreshTokenExpiresAt, c.Expired)
	}
	refreshed := 0
	for _, d := range []int{120, 150, 180, 210, 240, 270} { // well past six months after the consent
		rep := e.scan(day(d))
		if rep.Expired != 0 || rep.Notices != 0 {
			t.Fatalf("day %d: %+v", d, rep)
		}
		refreshed += rep.Refreshed
	}
	if v := find(e, e.list(ada, ""), "googledrive"); refreshed != 1 || v.Status != connection.StatusConnected || !v.RefreshTokenExpiresAt.Equal(day(390)) {
		t.Fatalf("day 270, after %d more keep-alives: %+v", refreshed, v)
	}

	// Revoked at Google (the user removed the app): the next keep-alive
	// (day 300) finds it dead, and the app manager is told.
	e.want(e.call(http.MethodPost, "/_sandbox/googledrive/revoke?user=carol", nil, ""), http.StatusNoContent, "revoke at Google")
	if rep := e.scan(day(299)); rep.Checked != 0 {
		t.Fatalf("day 299: %+v", rep)
	}
	if rep := e.scan(day(300)); rep.Expired != 1 || rep.Notices != 1 {
		t.Fatalf("day 300 after the revocation: %+v", rep)
	}
	if v := find(e, e.list(ada, ""), "googledrive"); v.Status != connection.StatusExpired || !v.RefreshTokenExpired {
		t.Fatalf("after the revocation: %+v", v)
	}
	if ns := e.notifications(cat); len(ns) != 1 || ns[0].Kind != connection.NoticeDisconnected || !strings.Contains(ns[0].Message, "Google Drive has unexpectedly been disconnected") {
		t.Fatalf("cat's notices: %+v", ns)
	}

	// Reconnect, then disconnect: revoked at Google, gone from the list.
	e.connect(cat, "googledrive", "app", "reconnect", url.Values{"sandbox_user": {"carol"}})
	carolToken := e.refreshTokenOf(appKey)
	if st, _ := e.googleRefresh(carolToken); st != http.StatusOK {
		t.Fatalf("the reconnected grant: %d", st)
	}
	carolAccess := e.token(`{"account":"a1","vendor":"googledrive"}`).AccessToken
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/googledrive?flow=app&cascade=true", &ada, ""), http.StatusNoContent, "disconnect")
	if st, code := e.googleRefresh(carolToken); st != http.StatusBadRequest || code != "invalid_grant" {
		t.Fatalf("the grant after the disconnect: %d %s", st, code)
	}
	e.wantInactive("googledrive", carolAccess, "an access token of the revoked grant")
	if v := find(e, e.list(ada, ""), "googledrive"); v.Integrated || v.Status != connection.StatusNotConnected {
		t.Fatalf("after the disconnect: %+v", v)
	}
	e.assertNoLeaks()
}
