package sandbox

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/vendors"
)

var microsoftScopes = []string{"offline_access", "User.Read", "Files.Read.All", "Sites.Read.All"}

// microsoft is the deployment's Entra app on the organizations endpoint.
func (e *env) microsoft(style oauth2.AuthStyle, scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = microsoftScopes
	}
	base := e.url("/_sandbox/sharepoint/organizations/oauth2/v2.0")
	return &oauth2.Config{
		ClientID:     "00001111-aaaa-2222-bbbb-3333cccc4444",
		ClientSecret: "entra-secret",
		Endpoint:     oauth2.Endpoint{AuthURL: base + "/authorize", TokenURL: base + "/token", AuthStyle: style},
		RedirectURL:  callback,
		Scopes:       scopes,
	}
}

func microsoftOpts(extra ...oauth2.AuthCodeOption) []oauth2.AuthCodeOption {
	return append([]oauth2.AuthCodeOption{knob("prompt", "select_account"), knob("response_mode", "query")}, extra...)
}

type graphUser struct {
	ID, DisplayName, Mail, UserPrincipalName string
}

type graphOrgs struct {
	Value []struct {
		ID, DisplayName string
		VerifiedDomains []struct{ Name string }
	}
}

type graphErr struct {
	Error struct{ Code, Message string }
}

func TestMicrosoftFlowAndRotation(t *testing.T) {
	sp, _ := vendors.Lookup("sharepoint")
	for name, style := range map[string]oauth2.AuthStyle{"body": oauth2.AuthStyleInParams, "basic": oauth2.AuthStyleInHeader} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Config{})
			// Scopes in any case, with or without Graph's resource prefix.
			cfg := e.microsoft(style, "offline_access", "user.read", "https://graph.microsoft.com/Files.Read.All", "Sites.Read.All")
			tok := e.connect(cfg, microsoftOpts(knob("sandbox_user", "ada"), knob("sandbox_site", "contoso"))...)
			if tok.Type() != "Bearer" || tok.RefreshToken == "" || tok.Extra("expires_in") != float64(3599) {
				t.Fatalf("token = %+v expires_in=%v", tok, tok.Extra("expires_in"))
			}
			// Graph's spelling: no prefix, no offline_access — what the
			// registry requires.
			if got := tok.Extra("scope"); got != "User.Read Files.Read.All Sites.Read.All" {
				t.Fatalf("scope = %v", got)
			}
			if reason, missing := provider.Deficient(sp, tok); reason != "" {
				t.Fatalf("the registry refuses the sandbox's answer: %s %v", reason, missing)
			}

			var me graphUser
			if st := e.get("/_sandbox/sharepoint/v1.0/me?$select=id,displayName,mail,userPrincipalName", tok.AccessToken, &me); st != http.StatusOK {
				t.Fatalf("/me: %d", st)
			}
			if me != (graphUser{MicrosoftUserID("contoso", "ada"), "Ada User", "ada@contoso.example.com", "ada@contoso.onmicrosoft.com"}) {
				t.Fatalf("/me = %+v", me)
			}
			var orgs graphOrgs
			if st := e.get("/_sandbox/sharepoint/v1.0/organization", tok.AccessToken, &orgs); st != http.StatusOK {
				t.Fatalf("/organization: %d", st)
			}
			if len(orgs.Value) != 1 || orgs.Value[0].ID != MicrosoftTenantID("contoso") || orgs.Value[0].DisplayName != "Contoso" ||
				orgs.Value[0].VerifiedDomains[0].Name != "contoso.onmicrosoft.com" {
				t.Fatalf("/organization = %+v", orgs)
			}

			// Each refresh returns a new refresh token; the old one is not
			// revoked and still works, and so does the new one.
			second := e.mustRefresh(cfg, tok.RefreshToken)
			if second.RefreshToken == "" || second.RefreshToken == tok.RefreshToken || second.Extra("scope") != tok.Extra("scope") {
				t.Fatalf("refresh: %+v", second)
			}
			e.clock.Advance(30 * day24)
			third := e.mustRefresh(cfg, tok.RefreshToken)
			if third.RefreshToken == tok.RefreshToken || third.RefreshToken == second.RefreshToken {
				t.Fatal("a refresh with an old token must rotate too")
			}
			e.mustRefresh(cfg, second.RefreshToken)
		})
	}
}

// 90 days unused, from each token's last use, and no absolute limit.
func TestMicrosoftInactivity(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.microsoft(oauth2.AuthStyleInParams)
	tok := e.connect(cfg, microsoftOpts()...)
	for range 5 { // 445 days of refreshes 89 days apart
		e.clock.Advance(89 * day24)
		tok = e.mustRefresh(cfg, tok.RefreshToken)
	}
	e.clock.Advance(90*day24 - time.Second)
	old := tok.RefreshToken
	tok = e.mustRefresh(cfg, old)
	e.clock.Advance(90 * day24) // unused for 90 days: the old token and the new
	for _, rt := range []string{old, tok.RefreshToken} {
		_, err := e.refresh(cfg, rt)
		re := retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
		if !strings.HasPrefix(re.ErrorDescription, "AADSTS70008: ") {
			t.Fatalf("error_description %q", re.ErrorDescription)
		}
		sp, _ := vendors.Lookup("sharepoint")
		if !sp.IsRefusal(re.Response.StatusCode, re.ErrorCode) {
			t.Fatal("the registry does not read the sandbox's answer as a dead refresh token")
		}
	}
}

func TestMicrosoftNoOfflineAccessNoRefreshToken(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.microsoft(oauth2.AuthStyleInParams, "User.Read", "Files.Read.All")
	code := e.code(cfg.AuthCodeURL("st", microsoftOpts()...))
	var raw map[string]any
	st := e.postForm("/_sandbox/sharepoint/organizations/oauth2/v2.0/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback},
		"client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret},
	}, &raw)
	if st != http.StatusOK || raw["access_token"] == "" || raw["scope"] != "User.Read Files.Read.All" {
		t.Fatalf("exchange: %d %v", st, raw["scope"])
	}
	if _, has := raw["refresh_token"]; has {
		t.Fatal("refresh token issued without offline_access")
	}
}

// Graph answers 401 for a missing, dead or revoked token and 403 for one
// without User.Read.
func TestMicrosoftGraphAnswers(t *testing.T) {
	e := newEnv(t, Config{})
	narrow := e.connect(e.microsoft(oauth2.AuthStyleInParams, "Files.Read.All", "offline_access"), microsoftOpts()...)
	for _, p := range []string{"/_sandbox/sharepoint/v1.0/me", "/_sandbox/sharepoint/v1.0/organization"} {
		var ge graphErr
		if st := e.get(p, narrow.AccessToken, &ge); st != http.StatusForbidden || ge.Error.Code != "Authorization_RequestDenied" {
			t.Fatalf("%s without User.Read: %d %+v", p, st, ge)
		}
		if st := e.get(p, "", &ge); st != http.StatusUnauthorized || ge.Error.Code != "InvalidAuthenticationToken" {
			t.Fatalf("%s without a token: %d %+v", p, st, ge)
		}
	}
	cfg := e.microsoft(oauth2.AuthStyleInParams)
	tok := e.connect(cfg, microsoftOpts(knob("sandbox_user", "bob"))...)
	if st := e.post("/_sandbox/sharepoint/revoke?user=bob"); st != http.StatusNoContent {
		t.Fatalf("revoke knob: %d", st)
	}
	// The access token already issued works until it expires; the
	// refresh token does not.
	if st := e.get("/_sandbox/sharepoint/v1.0/me", tok.AccessToken, nil); st != http.StatusOK {
		t.Fatalf("/me with a revoked grant's live access token: %d", st)
	}
	_, err := e.refresh(cfg, tok.RefreshToken)
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
	e.clock.Advance(time.Hour)
	if st := e.get("/_sandbox/sharepoint/v1.0/me", tok.AccessToken, nil); st != http.StatusUnauthorized {
		t.Fatalf("/me with an expired access token: %d", st)
	}

	if st := e.post("/_sandbox/sharepoint/outage?status=503"); st != http.StatusNoContent {
		t.Fatalf("outage knob: %d", st)
	}
	fresh := e.microsoft(oauth2.AuthStyleInParams)
	if _, err := e.refresh(fresh, "whatever"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("refresh during an outage: %v", err)
	}
	if st := e.get("/_sandbox/sharepoint/v1.0/organization", narrow.AccessToken, nil); st != http.StatusServiceUnavailable {
		t.Fatalf("/organization during an outage: %d", st)
	}
}

// The tenant path segment, the one tenant of a grant and Entra's
// authorization parameters.
func TestMicrosoftAuthorizeRules(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.microsoft(oauth2.AuthStyleInParams)
	bad := map[string]string{
		"consumers endpoint": strings.Replace(cfg.AuthCodeURL("st"), "/organizations/", "/consumers/", 1),
		"two tenants":        cfg.AuthCodeURL("st", knob("sandbox_site", "acme,beta")),
		"unknown prompt":     cfg.AuthCodeURL("st", knob("prompt", "always")),
		"form_post":          cfg.AuthCodeURL("st", knob("response_mode", "form_post")),
		"no scope":           e.microsoft(oauth2.AuthStyleInParams, "").AuthCodeURL("st"),
	}
	for name, u := range bad {
		if st, _, _ := e.openAuthorize(u); st != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, st)
		}
	}
	// common serves work accounts too, and its tokens refresh anywhere.
	common := e.microsoft(oauth2.AuthStyleInParams)
	common.Endpoint.AuthURL = strings.Replace(common.Endpoint.AuthURL, "/organizations/", "/common/", 1)
	tok := e.connect(common, microsoftOpts()...)
	e.mustRefresh(cfg, tok.RefreshToken)

	var out map[string]any
	st := e.postForm("/_sandbox/sharepoint/contoso.example/oauth2/v2.0/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret},
	}, &out)
	if st != http.StatusBadRequest || out["error"] != "invalid_request" || !strings.HasPrefix(out["error_description"].(string), "AADSTS90002") {
		t.Fatalf("unknown tenant: %d %v", st, out)
	}
}

func TestMicrosoftCodeRules(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.microsoft(oauth2.AuthStyleInParams)
	verifier := oauth2.GenerateVerifier()
	code := e.code(cfg.AuthCodeURL("st", microsoftOpts(oauth2.S256ChallengeOption(verifier))...))

	// An Atlassian code means nothing to Microsoft.
	at := e.atlassian(oauth2.AuthStyleInParams)
	_, err := cfg.Exchange(e.ctx(), e.code(at.AuthCodeURL("st", atlassianOpts()...)))
	re := retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
	if !strings.HasPrefix(re.ErrorDescription, "AADSTS70000: ") {
		t.Fatalf("error_description %q", re.ErrorDescription)
	}
	_, err = cfg.Exchange(e.ctx(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
	code = e.code(cfg.AuthCodeURL("st", microsoftOpts(oauth2.S256ChallengeOption(verifier))...))
	if _, err := cfg.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
}
