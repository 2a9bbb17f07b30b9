package localserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/workplace/connections/infra/sandbox"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/integrations"
	"github.com/workplace/connections/shared/vault"
)

// TestLocalSharePoint walks SharePoint & OneDrive through the local
// server's HTTP API as the README's walkthrough does, against the sandbox's
// Microsoft dialect: Entra's organizations endpoint, Graph's scope
// spelling, the tenant as the site, rotating refresh tokens kept alive by
// the scan before 90 days unused, the token broker's Graph base and the
// live check, a grant revoked at Microsoft found dead, and a disconnect that can only forget the grant (Microsoft offers apps
// no per-token revocation).
func TestLocalSharePoint(t *testing.T) {
	e := newEnv(t, nil)
	e.secret("sandbox-sharepoint-secret", "the Entra app's client secret")
	contoso := url.Values{"sandbox_site": {"contoso"}}
	with := func(kv ...string) url.Values {
		v := url.Values{"sandbox_site": {"contoso"}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	// Listed with the file-storage vendors, configured by the deployment's app.
	if v := find(e, e.list(ada, "?type=fileStorage"), "sharepoint"); !v.Configured || v.Integrated || v.Name != "SharePoint & OneDrive" || v.Type != "fileStorage" {
		t.Fatalf("listed %+v", v)
	}

	// The authorization URL: Entra's organizations endpoint (in the
	// sandbox), Graph's permissions, an account picker, PKCE.
	raw := e.authURL(ada, "sharepoint", "app", "")
	u, _ := url.Parse(raw)
	q := u.Query()
	if u.Path != "/_sandbox/sharepoint/organizations/oauth2/v2.0/authorize" || q.Get("scope") != "offline_access User.Read Files.Read.All Sites.Read.All" ||
		q.Get("prompt") != "select_account" || q.Get("response_mode") != "query" || q.Get("code_challenge_method") != "S256" || q.Get("client_id") != "sandbox-sharepoint-app" {
		t.Fatalf("authorization URL %s", u.Redacted())
	}
	// A grant without Sites.Read.All: refused, nothing stored.
	r := e.callback(ada, "sharepoint", e.approve(raw, with("sandbox_scope", "offline_access User.Read Files.Read.All")))
	e.wantError(r, http.StatusBadGateway, "vendor_error", "a grant without Sites.Read.All")
	if d := errorDetails(e, r); d["reason"] != "scope_not_granted" || !strings.Contains(d["message"].(string), "Sites.Read.All") {
		t.Fatalf("refusal %s", r.body)
	}

	// Connect: the user from Graph's /me, the tenant from /organization.
	res := e.connect(ada, "sharepoint", "app", "", contoso)
	if res.Connection.ConnectedUser == nil || *res.Connection.ConnectedUser != (integrations.ConnectedUser{Name: "Admin User", Email: "admin@contoso.example.com"}) ||
		!res.Connection.RefreshTokenExpiresAt.Equal(t0.Add(90*day)) {
		t.Fatalf("connect: %+v", res.Connection)
	}
	appKey := connection.AppKey("a1", "sharepoint")
	c := e.stored(appKey)
	if c.SiteID != sandbox.MicrosoftTenantID("contoso") || c.ConnectedUser.ID != sandbox.MicrosoftUserID("contoso", "admin") ||
		c.GrantedScope != "User.Read Files.Read.All Sites.Read.All" {
		t.Fatalf("stored %+v", c)
	}

	// Reconnect by the same person; then another person or another
	// tenant is refused and nothing moves.
	e.clock.Set(t0.Add(2 * day))
	if re := e.connect(ada, "sharepoint", "app", "reconnect", contoso); re.UserChanged || e.stored(appKey).ID != c.ID {
		t.Fatalf("reconnect: %+v", re)
	}
	before := e.stored(appKey)
	for _, tc := range []struct {
		action string
		knobs  url.Values
		code   string
	}{
		{"reconnect", with("sandbox_user", "carol"), "user_mismatch"},
		{"changeUser", url.Values{"sandbox_user": {"carol"}, "sandbox_site": {"fabrikam"}}, "site_mismatch"},
	} {
		r := e.callback(ada, "sharepoint", e.approve(e.authURL(ada, "sharepoint", "app", tc.action), tc.knobs))
		e.wantError(r, http.StatusConflict, tc.code, tc.action+" "+tc.knobs.Encode())
		if got := e.stored(appKey); got != before {
			t.Fatalf("%s changed the connection", tc.code)
		}
	}
	// Change of user in the same tenant.
	if ch := e.connect(cat, "sharepoint", "app", "changeUser", with("sandbox_user", "carol")); !ch.UserChanged || ch.Connection.ConnectedUser.Name != "Carol User" {
		t.Fatalf("change user: %+v", ch)
	}

	// User level: Bob in the tenant; Cat's grant in another tenant is refused.
	e.connect(bob, "sharepoint", "user", "", with("sandbox_user", "bob"))
	r = e.callback(cat, "sharepoint", e.approve(e.authURL(cat, "sharepoint", "user", ""), url.Values{"sandbox_user": {"cat"}, "sandbox_site": {"fabrikam"}}))
	e.wantError(r, http.StatusConflict, "site_mismatch", "a user-level grant in another tenant")
	if d := *find(e, e.list(ada, "?includeUserLevelConnectionData=true"), "sharepoint").ConnectionDetails; d != (integrations.Details{Total: 1, Connected: 1}) {
		t.Fatalf("user-level counts %+v", d)
	}

	// The token broker hands out tokens with Graph's API base, which
	// Graph takes; the live check asks Graph who holds the grant.
	for _, tc := range []struct{ body, user string }{
		{`{"account":"a1","vendor":"sharepoint"}`, "carol"},
		{`{"account":"a1","vendor":"sharepoint","user":"u2"}`, "bob"},
	} {
		tok := e.token(tc.body)
		if tok.APIBaseURL != e.base+"/_sandbox/sharepoint/v1.0" {
			t.Fatalf("broker token for %s: %+v", tc.user, tok)
		}
		e.wantActive("sharepoint", tok.AccessToken, tc.user, "contoso", "the broker's token for "+tc.user)
		req, _ := http.NewRequest(http.MethodGet, tok.APIBaseURL+"/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var me struct{ ID string }
		_ = json.NewDecoder(resp.Body).Decode(&me)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || me.ID != sandbox.MicrosoftUserID("contoso", tc.user) {
			t.Fatalf("Graph /me with the broker's token: %d %+v", resp.StatusCode, me)
		}
	}
	if res := e.checkConn(ada, "sharepoint", "app"); !res.Valid || res.Status != connection.StatusConnected {
		t.Fatalf("live check: %+v", res)
	}

	// An outage at Microsoft: a reconnect fails, nothing changes.
	e.want(e.call(http.MethodPost, "/_sandbox/sharepoint/outage?status=503", nil, ""), http.StatusNoContent, "outage on")
	before = e.stored(appKey)
	r = e.callback(cat, "sharepoint", e.approve(e.authURL(cat, "sharepoint", "app", "reconnect"), with("sandbox_user", "carol")))
	e.wantError(r, http.StatusBadGateway, "vendor_error", "reconnect during an outage")
	if got := e.stored(appKey); got != before {
		t.Fatal("a failed reconnect changed the connection")
	}
	e.want(e.call(http.MethodPost, "/_sandbox/sharepoint/outage?status=0", nil, ""), http.StatusNoContent, "outage off")

	// The scan keeps the grant alive before 90 days unused: each refresh
	// rotates the refresh token and moves the expiry 90 days on.
	stored := func(k connection.Key) vault.Tokens {
		t.Helper()
		c := e.stored(k)
		toks, err := vault.GetTokens(context.Background(), e.deps.Vault, c.SecretName, c.SecretVersion)
		if err != nil {
			t.Fatal(err)
		}
		return toks
	}
	oldRT := stored(appKey).RefreshToken
	due := e.stored(appKey).NextCheckAt
	if !due.After(t0.Add(2*day)) || !due.Before(t0.Add(90*day)) {
		t.Fatalf("keep-alive due %v", due)
	}
	if rep := e.scan(due); rep.Refreshed < 1 || rep.Expired != 0 {
		t.Fatalf("keep-alive scan %+v", rep)
	}
	kept := e.stored(appKey)
	if !kept.RefreshTokenExpiresAt.Equal(due.Add(90*day)) || stored(appKey).RefreshToken == oldRT {
		t.Fatalf("after the keep-alive: expiry %v, rotated %v", kept.RefreshTokenExpiresAt, stored(appKey).RefreshToken != oldRT)
	}
	e.harvest(appKey)
	e.harvest(connection.UserKey("a1", "sharepoint", "u2"))
	if v := find(e, e.list(ada, ""), "sharepoint"); v.Status != connection.StatusConnected || v.RefreshTokenExpired {
		t.Fatalf("listed after the keep-alive %+v", v)
	}

	// Bob's grant revoked at Microsoft: his next refresh is refused with
	// invalid_grant and the scan marks his connection expired.
	e.want(e.call(http.MethodPost, "/_sandbox/sharepoint/revoke?user=bob", nil, ""), http.StatusNoContent, "revoke bob at Microsoft")
	bobKey := connection.UserKey("a1", "sharepoint", "u2")
	if rep := e.scan(e.stored(bobKey).NextCheckAt); rep.Expired != 1 {
		t.Fatalf("scan after the revocation %+v", rep)
	}
	if b := e.stored(bobKey); !b.Expired {
		t.Fatalf("bob's connection %+v", b)
	}
	if ns := e.notifications(bob); len(ns) != 1 || ns[0].Kind != connection.NoticeDisconnected {
		t.Fatalf("bob's notifications %+v", ns)
	}
	if e.stored(appKey).Expired {
		t.Fatal("carol's grant died with bob's")
	}

	// Disconnect: Microsoft offers no revocation, so the service forgets
	// the grant (the connections and, after the recovery window, the
	// tokens) and Microsoft still takes the last refresh token.
	last := stored(appKey).RefreshToken
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/sharepoint?flow=app&cascade=true", &ada, ""), http.StatusNoContent, "disconnect with cascade")
	if v := find(e, e.list(ada, "?includeUserLevelConnectionData=true"), "sharepoint"); v.Integrated || *v.ConnectionDetails != (integrations.Details{}) {
		t.Fatalf("after disconnect %+v", v)
	}
	resp, err := http.PostForm(e.base+"/_sandbox/sharepoint/organizations/oauth2/v2.0/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {last},
		"client_id": {"sandbox-sharepoint-app"}, "client_secret": {"sandbox-sharepoint-secret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || tok.RefreshToken == "" {
		t.Fatalf("the grant at Microsoft after disconnect: %d", resp.StatusCode)
	}
	e.secret(tok.RefreshToken, "a refresh token minted after disconnect")
	e.assertNoLeaks()
}
