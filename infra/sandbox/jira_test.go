package sandbox

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/vendors"
	"golang.org/x/oauth2"
)

// Jira, driven through the service's own vendor client built from the
// registry entry alone (the sandbox's BaseURLs): Atlassian's paths and
// answers under /_sandbox/jira, the Jira scopes granted and listed by
// accessible-resources, the Atlassian lookup's user and sites, rotation
// and a dead grant read as such, and grants of their own, apart from
// Confluence's though both use the Atlassian app.
func TestJiraThroughTheRegistry(t *testing.T) {
	e := newEnv(t, Config{})
	overrides := BaseURLs(e.url("/"))
	creds := provider.Credentials{ClientID: "atlassian-app", ClientSecret: "atlassian-secret"}
	client := func(id string) *provider.Client {
		v, ok := vendors.Lookup(id)
		if !ok {
			t.Fatalf("no %s in the registry", id)
		}
		return provider.New(v, "", creds, callback, overrides, e.srv.Client())
	}
	jira, conf := client("jira"), client("confluence")
	connect := func(c *provider.Client, sites string) (access, refresh string) {
		t.Helper()
		verifier := "v-0123456789-0123456789-0123456789-0123456789"
		code := e.code(c.AuthCodeURL("st", verifier) + "&sandbox_user=ada&sandbox_site=" + sites)
		tok, err := c.Exchange(t.Context(), code, verifier)
		if err != nil {
			t.Fatalf("%s exchange: %v", c.Vendor.ID, err)
		}
		if reason, missing := provider.Deficient(c.Vendor, tok); reason != "" {
			t.Fatalf("%s grant deficient: %s %v", c.Vendor.ID, reason, missing)
		}
		return tok.AccessToken, tok.RefreshToken
	}

	jAccess, jRefresh := connect(jira, "acme,beta")
	if got := jira.AuthCodeURL("st", "v"); !strings.HasPrefix(got, e.url("/_sandbox/jira/authorize?")) {
		t.Fatalf("Jira's authorization URL %s is not the sandbox's Jira", got)
	}
	var res []atResource
	if st := e.get("/_sandbox/jira/oauth/token/accessible-resources", jAccess, &res); st != http.StatusOK || len(res) != 2 {
		t.Fatalf("accessible-resources: %d %+v", st, res)
	}
	for _, r := range res {
		if !slices.Equal(r.Scopes, []string{"read:jira-work", "read:jira-user"}) {
			t.Fatalf("site %s lists scopes %v, want the Jira scopes of the grant", r.Name, r.Scopes)
		}
	}
	who, err := jira.Identify(t.Context(), &oauth2.Token{AccessToken: jAccess, TokenType: "Bearer"})
	if err != nil {
		t.Fatal(err)
	}
	if who.User.ID != AtlassianAccountID("ada") || who.User.Email != "ada@example.com" || len(who.Sites) != 2 {
		t.Fatalf("who %+v", who)
	}
	for _, s := range who.Sites {
		if s.ID != AtlassianCloudID(s.Name) || s.URL != "https://"+s.Name+".atlassian.net" {
			t.Fatalf("site %+v", s)
		}
	}

	// A Confluence grant of the same user and app is another grant: its
	// tokens mean nothing at Jira's endpoints, nor Jira's at Confluence's.
	cAccess, cRefresh := connect(conf, "acme")
	if st := e.get("/_sandbox/jira/me", cAccess, nil); st != http.StatusUnauthorized {
		t.Fatalf("a Confluence token at Jira's /me: %d", st)
	}
	if st := e.get("/_sandbox/confluence/me", jAccess, nil); st != http.StatusUnauthorized {
		t.Fatalf("a Jira token at Confluence's /me: %d", st)
	}
	if _, err := jira.Refresh(t.Context(), cRefresh); !errors.Is(err, provider.ErrRefused) {
		t.Fatalf("a Confluence refresh token at Jira: %v", err)
	}

	// Rotation; the rotated token past the leeway ends the grant, which
	// the registry reads as refused (403 invalid_grant).
	next, err := jira.Refresh(t.Context(), jRefresh)
	if err != nil || next.RefreshToken == jRefresh {
		t.Fatalf("refresh: %v (rotated: %v)", err, next != nil && next.RefreshToken != jRefresh)
	}
	e.clock.Advance(11 * time.Minute)
	if _, err := jira.Refresh(t.Context(), jRefresh); !errors.Is(err, provider.ErrRefused) {
		t.Fatalf("reuse past the leeway: %v", err)
	}
	if _, err := jira.Refresh(t.Context(), next.RefreshToken); !errors.Is(err, provider.ErrRefused) {
		t.Fatalf("the grant outlived the reuse of a rotated token: %v", err)
	}

	// Knobs are Jira's own: revoking ada at Jira leaves her Confluence grant.
	_, jRefresh = connect(jira, "acme")
	if st := e.post("/_sandbox/jira/revoke?user=ada"); st != http.StatusNoContent {
		t.Fatalf("revoke knob: %d", st)
	}
	if _, err := jira.Refresh(t.Context(), jRefresh); !errors.Is(err, provider.ErrRefused) {
		t.Fatalf("a revoked Jira grant: %v", err)
	}
	if _, err := conf.Refresh(t.Context(), cRefresh); err != nil {
		t.Fatalf("revoking at Jira killed the Confluence grant: %v", err)
	}
	if l, ok := (Config{}).LifetimesFor("jira"); !ok || l != DefaultAtlassian {
		t.Fatalf("Jira's lifetimes %+v, want Atlassian's", l)
	}
}
