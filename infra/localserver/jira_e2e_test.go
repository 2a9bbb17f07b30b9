package localserver_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/vault"
)

// TestLocalJira walks Jira through the local server as a newcomer would,
// over HTTP: it uses the Atlassian app Confluence uses (no settings, no
// secret of its own), asks for the Jira scopes, needs a site chosen when a
// grant covers several, connects at app and user level, reconnects,
// changes user, refuses a grant on another site, keeps its grants alive by
// the scan, rides out an outage, finds a grant revoked at Atlassian dead,
// and disconnects — deleting the tokens, since Atlassian offers 3LO apps no
// revocation. Its grants are its own: Confluence, connected beside it
// with the same app, is untouched throughout.
func TestLocalJira(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	appKey, bobKey := connection.AppKey("a1", "jira"), connection.UserKey("a1", "jira", bob.user)
	cfKey := connection.AppKey("a1", "confluence")

	if _, err := e.deps.Vault.Get(ctx, "connections/deployment/jira/client", ""); err == nil {
		t.Fatal("Jira has a deployment secret of its own; it uses the Atlassian app's")
	}
	if v := find(e, e.list(ada, "?type=supportAndTicketing"), "jira"); !v.Configured || v.Integrated {
		t.Fatalf("fresh Jira: %+v", v)
	}

	// The authorization URL: Atlassian's, with the Jira scopes and the
	// Atlassian app's client id.
	u, _ := url.Parse(e.authURL(ada, "jira", "app", ""))
	q := u.Query()
	if u.Path != "/_sandbox/jira/authorize" || q.Get("client_id") != sandboxAtlassianApp || q.Get("audience") != "api.atlassian.com" ||
		q.Get("prompt") != "consent" || q.Get("scope") != "read:jira-work read:jira-user read:me offline_access" ||
		q.Get("code_challenge_method") != "S256" || q.Get("response_type") != "code" {
		t.Fatalf("authorization URL %s", u.Redacted())
	}

	// A grant over two sites needs a choice; siteUrl makes it.
	two := url.Values{"sandbox_site": {"acme,beta"}}
	e.wantError(e.callback(ada, "jira", e.approve(e.authURL(ada, "jira", "app", ""), two)), 409, "site_choice_required", "a Jira grant over two sites")
	e.want(e.call(http.MethodPut, "/v1/account/integrations/jira/settings", &ada, `{"siteUrl":"https://beta.atlassian.net"}`), http.StatusOK, "Jira siteUrl")
	res := e.connect(ada, "jira", "app", "", two)
	app := e.stored(appKey)
	if res.Connection.Instance != "https://beta.atlassian.net" || app.SiteID != sandbox.AtlassianCloudID("beta") ||
		res.Connection.ConnectedUser == nil || res.Connection.ConnectedUser.Name != "Admin User" || res.UserChanged {
		t.Fatalf("Jira connect: %+v, stored site %q", res, app.SiteID)
	}
	if want := "read:jira-work read:jira-user read:me offline_access"; app.GrantedScope != want {
		t.Fatalf("granted scope %q, want %q", app.GrantedScope, want)
	}
	if !app.RefreshTokenExpiresAt.Equal(t0.Add(90 * day)) {
		t.Fatalf("refresh expiry %v, want the 90-day inactivity window", app.RefreshTokenExpiresAt)
	}
	e.wantActive("jira", e.accessToken(appKey), "admin", "acme,beta", "Jira's access token at Jira")

	// Confluence beside it, with the same app: a grant of its own.
	e.connect(ada, "confluence", "app", "", nil)
	e.wantInactive("confluence", e.accessToken(appKey), "Jira's access token at Confluence")
	e.wantInactive("jira", e.accessToken(cfKey), "Confluence's access token at Jira")
	cfBefore := e.stored(cfKey)

	// Reconnect by the same Atlassian user: same connection, new tokens.
	re := e.connect(ada, "jira", "app", "reconnect", two)
	if after := e.stored(appKey); re.UserChanged || after.ID != app.ID || after.Generation != app.Generation+1 || after.SecretVersion == app.SecretVersion {
		t.Fatalf("reconnect: %+v → %+v", app, after)
	}
	app = e.stored(appKey)
	// By another user, or on another site: refused, nothing moves.
	listBefore := e.listRaw(ada, "?includeUserLevelConnectionData=true")
	e.wantError(e.callback(ada, "jira", e.approve(e.authURL(ada, "jira", "app", "reconnect"), url.Values{"sandbox_user": {"carol"}, "sandbox_site": {"beta"}})),
		409, "user_mismatch", "Jira reconnect by carol")
	e.wantError(e.callback(cat, "jira", e.approve(e.authURL(cat, "jira", "app", "changeUser"), url.Values{"sandbox_user": {"dave"}, "sandbox_site": {"acme"}})),
		409, "site_mismatch", "Jira change of user onto acme")
	if got := e.stored(appKey); got != app {
		t.Fatalf("a refused repair changed the connection:\n%+v\n%+v", app, got)
	}
	if got := e.listRaw(ada, "?includeUserLevelConnectionData=true"); got != listBefore {
		t.Fatalf("a refused repair changed the list:\n%s\n%s", listBefore, got)
	}
	// Change User onto the same site.
	ch := e.connect(cat, "jira", "app", "changeUser", url.Values{"sandbox_user": {"dave"}, "sandbox_site": {"beta"}})
	if !ch.UserChanged || ch.Connection.ConnectedUser.Name != "Dave User" || ch.Connection.Instance != "https://beta.atlassian.net" {
		t.Fatalf("change of user: %+v", ch)
	}
	if got := e.stored(appKey); got.ID != app.ID || got.ConnectedBy.UserID != cat.user {
		t.Fatalf("after the change of user: %+v", got)
	}

	// User level: on the app's site only.
	e.wantError(e.callback(bob, "jira", e.approve(e.authURL(bob, "jira", "user", ""), url.Values{"sandbox_user": {"bob"}, "sandbox_site": {"acme"}})),
		409, "site_mismatch", "bob's grant on acme")
	e.connect(bob, "jira", "user", "", url.Values{"sandbox_user": {"bob"}, "sandbox_site": {"beta"}})
	if v := find(e, e.list(bob, "?includeUserLevelConnectionData=true"), "jira"); !v.UserConnection.Connected ||
		v.UserConnection.ConnectedUser == nil || v.UserConnection.ConnectedUser.Name != "Bob User" {
		t.Fatalf("bob's Jira: %+v", v.UserConnection)
	}

	// The token broker hands out Jira tokens with Atlassian's gateway URL
	// for the connected site; the live check asks Atlassian who they are.
	site := sandbox.AtlassianCloudID("beta")
	for _, tc := range []struct{ body, user string }{
		{`{"account":"a1","vendor":"jira"}`, "dave"},
		{`{"account":"a1","vendor":"jira","user":"u2"}`, "bob"},
	} {
		tok := e.token(tc.body)
		e.wantActive("jira", tok.AccessToken, tc.user, "beta", "the broker's Jira token for "+tc.user)
		if tok.APIBaseURL != e.base+"/_sandbox/jira/ex/jira/"+site || tok.Instance != "https://beta.atlassian.net" {
			t.Fatalf("Jira token for %s: %+v", tc.user, tok)
		}
	}
	if res := e.checkConn(ada, "jira", "app"); !res.Valid || res.Status != connection.StatusConnected {
		t.Fatalf("live check of Jira: %+v", res)
	}

	// Day 50: the scan keeps every Atlassian grant alive, Jira's and
	// Confluence's alike, with no notice.
	before := map[connection.Key]connection.Connection{appKey: e.stored(appKey), bobKey: e.stored(bobKey), cfKey: e.stored(cfKey)}
	if rep := e.scan(t0.Add(50 * day)); rep.Refreshed != 3 || rep.Notices != 0 || rep.Expired != 0 {
		t.Fatalf("day 50: %+v", rep)
	}
	kept := map[connection.Key]connection.Connection{}
	for k, b := range before {
		c := e.stored(k)
		if c.SecretVersion == b.SecretVersion || !c.RefreshTokenExpiresAt.Equal(t0.Add(140*day)) || c.Expired {
			t.Fatalf("keep-alive of %s: %+v", k, c)
		}
		kept[k] = c
		e.harvest(k)
	}

	// An outage at Jira when its next check is due: nothing is marked,
	// the failure is recorded and looked at again on the next run;
	// Confluence is kept alive regardless. Once it ends, Jira is too.
	due := e.stored(appKey).NextCheckAt
	e.want(e.call(http.MethodPost, "/_sandbox/jira/outage?status=503", nil, ""), http.StatusNoContent, "Jira outage on")
	if rep := e.scan(due); rep.Checked != 3 || rep.Refreshed != 1 || rep.Expired != 0 || rep.Notices != 0 {
		t.Fatalf("scan during the outage: %+v", rep)
	}
	for _, k := range []connection.Key{appKey, bobKey} {
		c := e.stored(k)
		if c.Expired || !c.VendorErrorSince.Equal(due) || !c.NextCheckAt.Equal(due) ||
			c.SecretVersion != kept[k].SecretVersion || !c.RefreshTokenExpiresAt.Equal(kept[k].RefreshTokenExpiresAt) {
			t.Fatalf("the outage changed %s: %+v", k, c)
		}
	}
	if v := find(e, e.list(ada, ""), "jira"); v.Status != connection.StatusConnected || v.RefreshTokenExpired {
		t.Fatalf("Jira listed during the outage: %+v", v)
	}
	e.want(e.call(http.MethodPost, "/_sandbox/jira/outage?status=0", nil, ""), http.StatusNoContent, "Jira outage off")
	if rep := e.scan(due.Add(time.Hour)); rep.Refreshed != 2 || rep.Expired != 0 {
		t.Fatalf("scan after the outage: %+v", rep)
	}
	for _, k := range []connection.Key{appKey, bobKey} {
		if c := e.stored(k); !c.VendorErrorSince.IsZero() || c.SecretVersion == kept[k].SecretVersion || c.Expired {
			t.Fatalf("%s after the outage: %+v", k, c)
		}
		e.harvest(k)
	}

	// Bob's grant revoked at Atlassian: his next check finds it dead and
	// tells him; the app level and Confluence, checked by the same run,
	// live on.
	e.want(e.call(http.MethodPost, "/_sandbox/jira/revoke?user=bob", nil, ""), http.StatusNoContent, "revoke bob at Jira")
	if rep := e.scan(e.stored(bobKey).NextCheckAt); rep.Checked != 3 || rep.Expired != 1 || rep.Notices != 1 || rep.Refreshed != 2 {
		t.Fatalf("scan after bob's revocation: %+v", rep)
	}
	if ns := e.notifications(bob); len(ns) != 1 || ns[0].Kind != connection.NoticeDisconnected || ns[0].Vendor != "jira" ||
		ns[0].Message != "Jira has unexpectedly been disconnected. Please reconnect your Jira account." {
		t.Fatalf("bob's notifications: %+v", ns)
	}
	if !e.stored(bobKey).Expired || e.stored(appKey).Expired || e.stored(cfKey).Expired {
		t.Fatal("the revocation of bob's Jira grant reached another connection")
	}
	if got := e.stored(cfKey); got.ID != cfBefore.ID || got.Generation != cfBefore.Generation {
		t.Fatalf("Confluence was repaired or replaced: %+v", got)
	}

	// Disconnect: bob's, then the app level. Atlassian offers no
	// revocation, so the tokens are deleted and the grant itself lives on
	// at Atlassian until the user removes the app there.
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/jira?flow=user", &bob, ""), http.StatusNoContent, "bob disconnects Jira")
	c := e.stored(appKey)
	toks, err := vault.GetTokens(ctx, e.deps.Vault, c.SecretName, c.SecretVersion)
	if err != nil {
		t.Fatal(err)
	}
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/jira?flow=app", &ada, ""), http.StatusNoContent, "disconnect Jira")
	if _, err := e.deps.Store.GetConnection(ctx, appKey); err == nil {
		t.Fatal("the Jira connection survived its disconnect")
	}
	e.wantActive("jira", toks.AccessToken, "dave", "beta", "a disconnected Jira grant at Atlassian (nothing to revoke it with)")
	if v := find(e, e.list(ada, ""), "jira"); v.Integrated || v.Status != connection.StatusNotConnected {
		t.Fatalf("Jira after the disconnect: %+v", v)
	}
	if v := find(e, e.list(ada, ""), "confluence"); !v.Integrated || v.Status != connection.StatusConnected {
		t.Fatalf("Confluence after Jira's disconnect: %+v", v)
	}
	if msgs := e.outbox(); len(msgs) != 1 || !strings.Contains(msgs[0].Subject, "Jira") || msgs[0].To[0] != bob.email {
		t.Fatalf("emails: %+v", msgs)
	}
	e.assertNoLeaks()
}

// sandboxAtlassianApp is the client id the local server seeds for the
// Atlassian app.
const sandboxAtlassianApp = "sandbox-atlassian-app"
