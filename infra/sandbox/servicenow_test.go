package sandbox

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/vendors"
	"golang.org/x/oauth2"
)

func TestServiceNowFlowWithPKCE(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.serviceNow("acme", "sn-client", "sn-secret")
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state-xyz", oauth2.S256ChallengeOption(verifier), knob("sandbox_user", "Ada.Lovelace"))

	u := e.authorize(authURL)
	if got := u.Query().Get("state"); got != "state-xyz" {
		t.Fatalf("state = %q", got)
	}
	tok, err := cfg.Exchange(e.ctx(), u.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Type() != "Bearer" || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("token = %+v", tok)
	}
	if got := tok.Extra("expires_in"); got != float64(1799) {
		t.Fatalf("expires_in = %v, want 1799", got)
	}
	if got := tok.Extra("scope"); got != "useraccount" {
		t.Fatalf("scope = %v", got)
	}

	// Identity through x/oauth2's own client (Bearer header).
	resp, err := cfg.Client(e.ctx(), tok).Get(e.url("/_sandbox/servicenow/acme" + sysUserPath))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sys_user via oauth2 client: %d", resp.StatusCode)
	}
	var users snUsers
	if st := e.get("/_sandbox/servicenow/acme"+sysUserPath, tok.AccessToken, &users); st != http.StatusOK {
		t.Fatalf("sys_user: %d", st)
	}
	if len(users.Result) != 1 {
		t.Fatalf("result = %+v", users)
	}
	got := users.Result[0]
	if got.UserName != "ada.lovelace" || got.Name != "Ada Lovelace User" ||
		got.Email != "ada.lovelace@acme.example.com" || got.SysID != ServiceNowSysID("acme", "ada.lovelace") || len(got.SysID) != 32 {
		t.Fatalf("user = %+v", got)
	}

	// Refresh: a new access token and the SAME refresh token, in the raw answer.
	var raw tokenJSON
	st := e.postForm("/_sandbox/servicenow/acme/oauth_token.do", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_id": {"sn-client"}, "client_secret": {"sn-secret"},
	}, &raw)
	if st != http.StatusOK || raw.RefreshToken != tok.RefreshToken || raw.AccessToken == tok.AccessToken ||
		raw.TokenType != "Bearer" || raw.ExpiresIn == nil || *raw.ExpiresIn != 1799 || raw.Scope != "useraccount" {
		t.Fatalf("refresh: %d %+v", st, raw)
	}
	// And through x/oauth2.
	again := e.mustRefresh(cfg, tok.RefreshToken)
	if again.RefreshToken != tok.RefreshToken || again.AccessToken == raw.AccessToken {
		t.Fatal("x/oauth2 refresh: want a new access token and the same refresh token")
	}
	// Older access tokens keep working until they expire.
	if st := e.get("/_sandbox/servicenow/acme"+sysUserPath, tok.AccessToken, nil); st != http.StatusOK {
		t.Fatalf("old access token: %d", st)
	}
	// A token of acme means nothing at beta.
	var denied snUsers
	if st := e.get("/_sandbox/servicenow/beta"+sysUserPath, tok.AccessToken, &denied); st != http.StatusUnauthorized ||
		denied.Status != "failure" || denied.Error == nil || denied.Error.Message != "User Not Authenticated" ||
		denied.Error.Detail != "Required to provide Auth information" {
		t.Fatalf("other instance: %d %+v", st, denied)
	}
}

func TestServiceNowDefaultUserAndNoScope(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.serviceNow("acme", "c", "s")
	cfg.Scopes = nil
	tok := e.connect(cfg)
	if tok.Extra("scope") != "useraccount" {
		t.Fatalf("scope = %v", tok.Extra("scope"))
	}
	var users snUsers
	e.get("/_sandbox/servicenow/acme"+sysUserPath, tok.AccessToken, &users)
	if len(users.Result) != 1 || users.Result[0].UserName != "admin" || users.Result[0].Name != "Admin User" ||
		users.Result[0].Email != "admin@acme.example.com" {
		t.Fatalf("user = %+v", users)
	}
}

func TestServiceNowRefreshLifespanIsNotExtended(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.serviceNow("acme", "c", "s")
	tok := e.connect(cfg)

	e.clock.Advance(99 * day24)
	if got := e.mustRefresh(cfg, tok.RefreshToken); got.RefreshToken != tok.RefreshToken {
		t.Fatal("refresh token changed")
	}
	e.clock.Advance(day24 - time.Second) // 100 days minus a second after the authorization
	e.mustRefresh(cfg, tok.RefreshToken)
	e.clock.Advance(time.Second) // 100 days: dead, although refreshed a second ago
	_, err := e.refresh(cfg, tok.RefreshToken)
	re := retrieveError(t, err, http.StatusUnauthorized, "server_error")
	if re.ErrorDescription != "access_denied" {
		t.Fatalf("error_description = %q", re.ErrorDescription)
	}
	sn, _ := vendors.Lookup("servicenow")
	if !sn.IsRefusal(re.Response.StatusCode, re.ErrorCode) {
		t.Fatal("the registry does not read the sandbox's answer as a dead refresh token")
	}
}

func TestServiceNowLifetimeOverrides(t *testing.T) {
	e := newEnv(t, Config{AccessTTL: 5 * time.Minute, RefreshTTL: 2 * time.Hour})
	cfg := e.serviceNow("acme", "c", "s")
	tok := e.connect(cfg)
	if got := tok.Extra("expires_in"); got != float64(299) {
		t.Fatalf("expires_in = %v", got)
	}
	e.clock.Advance(5*time.Minute - time.Second)
	if st := e.get("/_sandbox/servicenow/acme"+sysUserPath, tok.AccessToken, nil); st != http.StatusOK {
		t.Fatalf("access token before expiry: %d", st)
	}
	e.clock.Advance(time.Second)
	if st := e.get("/_sandbox/servicenow/acme"+sysUserPath, tok.AccessToken, nil); st != http.StatusUnauthorized {
		t.Fatalf("expired access token: %d", st)
	}
	e.clock.Advance(2*time.Hour - 5*time.Minute - time.Second)
	e.mustRefresh(cfg, tok.RefreshToken)
	e.clock.Advance(time.Second)
	_, err := e.refresh(cfg, tok.RefreshToken)
	retrieveError(t, err, http.StatusUnauthorized, "server_error")
}

func TestServiceNowPKCE(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.serviceNow("acme", "c", "s")
	verifier := oauth2.GenerateVerifier()
	code := e.code(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))

	_, err := cfg.Exchange(e.ctx(), code) // no verifier
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
	_, err = cfg.Exchange(e.ctx(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
	if _, err := cfg.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("right verifier: %v", err)
	}
	// Single use.
	_, err = cfg.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")

	// Only S256 is accepted.
	status, loc, _ := e.openAuthorize(cfg.AuthCodeURL("st", knob("code_challenge", oauth2.S256ChallengeFromVerifier(verifier)), knob("code_challenge_method", "plain")))
	if status != http.StatusBadRequest || loc != "" {
		t.Fatalf("plain PKCE: %d %q", status, loc)
	}
	// Without a challenge, no verifier is needed.
	e.connect(cfg)
}

func TestServiceNowCodeRules(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.serviceNow("acme", "c", "s")

	// redirect_uri must be the authorized one.
	code := e.code(cfg.AuthCodeURL("st"))
	other := *cfg
	other.RedirectURL = "http://127.0.0.1:3000/elsewhere"
	_, err := other.Exchange(e.ctx(), code)
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
	noRedirect := *cfg
	noRedirect.RedirectURL = ""
	_, err = noRedirect.Exchange(e.ctx(), code)
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")

	// A code issued to one client cannot be exchanged by another.
	thief := e.serviceNow("acme", "other-client", "other-secret")
	_, err = thief.Exchange(e.ctx(), code)
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")

	// Codes expire.
	e.clock.Advance(CodeTTL)
	_, err = cfg.Exchange(e.ctx(), code)
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")

	// Unknown code, unknown grant type, missing grant type.
	_, err = cfg.Exchange(e.ctx(), "no-such-code")
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
	var raw tokenJSON
	if st := e.postForm("/_sandbox/servicenow/acme/oauth_token.do", url.Values{
		"grant_type": {"password"}, "client_id": {"c"}, "client_secret": {"s"},
	}, &raw); st != http.StatusBadRequest || raw.Error != "unsupported_grant_type" {
		t.Fatalf("password grant: %d %+v", st, raw)
	}
	if st := e.postForm("/_sandbox/servicenow/acme/oauth_token.do", url.Values{
		"client_id": {"c"}, "client_secret": {"s"},
	}, &raw); st != http.StatusBadRequest || raw.Error != "invalid_request" {
		t.Fatalf("no grant type: %d %+v", st, raw)
	}
	// ServiceNow takes form bodies only.
	if st := e.postJSON("/_sandbox/servicenow/acme/oauth_token.do", map[string]string{
		"grant_type": "authorization_code", "client_id": "c", "client_secret": "s",
	}, &raw); st != http.StatusBadRequest || raw.Error != "invalid_request" {
		t.Fatalf("JSON body: %d %+v", st, raw)
	}
}

func TestServiceNowSandboxSiteMismatch(t *testing.T) {
	e := newEnv(t, Config{})
	acme := e.serviceNow("acme", "c", "s")
	code := e.code(acme.AuthCodeURL("st", knob("sandbox_site", "beta"), knob("sandbox_user", "bob")))

	var raw tokenJSON
	st := e.postForm("/_sandbox/servicenow/acme/oauth_token.do", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback},
		"client_id": {"c"}, "client_secret": {"s"},
	}, &raw)
	if st != http.StatusBadRequest || raw.Error != "invalid_grant" {
		t.Fatalf("code of beta at acme: %d %+v", st, raw)
	}
	// The instance that approved it takes it.
	beta := e.serviceNow("beta", "c", "s")
	tok, err := beta.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatal(err)
	}
	var users snUsers
	if st := e.get("/_sandbox/servicenow/beta"+sysUserPath, tok.AccessToken, &users); st != http.StatusOK ||
		users.Result[0].Email != "bob@beta.example.com" {
		t.Fatalf("beta identity: %d %+v", st, users)
	}
	// And the refresh token works only at beta.
	_, err = e.refresh(acme, tok.RefreshToken)
	retrieveError(t, err, http.StatusUnauthorized, "server_error")
	e.mustRefresh(beta, tok.RefreshToken)
}

func TestServiceNowDeny(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.serviceNow("acme", "c", "s")
	u := e.authorize(cfg.AuthCodeURL("st-9", knob("sandbox_deny", "1")))
	q := u.Query()
	if q.Get("error") != "access_denied" || q.Get("error_description") == "" || q.Get("state") != "st-9" || q.Has("code") {
		t.Fatalf("deny redirect: %s", u)
	}
}

func TestServiceNowInvalidClient(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.serviceNow("acme", "c", "right")
	tok := e.connect(cfg) // fixes the secret of client c at acme

	wrong := e.serviceNow("acme", "c", "wrong")
	_, err := e.refresh(wrong, tok.RefreshToken)
	re := retrieveError(t, err, http.StatusUnauthorized, "invalid_client")
	sn, _ := vendors.Lookup("servicenow")
	if sn.IsRefusal(re.Response.StatusCode, re.ErrorCode) {
		t.Fatal("invalid_client must not read as a dead refresh token")
	}
	_, err = wrong.Exchange(e.ctx(), e.code(wrong.AuthCodeURL("st")))
	retrieveError(t, err, http.StatusUnauthorized, "invalid_client")

	var raw tokenJSON
	if st := e.postForm("/_sandbox/servicenow/acme/oauth_token.do", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"c"},
	}, &raw); st != http.StatusUnauthorized || raw.Error != "invalid_client" {
		t.Fatalf("missing secret: %d %+v", st, raw)
	}

	// ServiceNow takes client_id and client_secret in the body only: the
	// right credentials as HTTP Basic are refused, at the exchange and at a
	// refresh, as an Authorization header is a user's login there.
	basic := e.serviceNow("acme", "c", "right")
	basic.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	_, err = e.refresh(basic, tok.RefreshToken)
	retrieveError(t, err, http.StatusUnauthorized, "invalid_client")
	_, err = basic.Exchange(e.ctx(), e.code(basic.AuthCodeURL("st")))
	retrieveError(t, err, http.StatusUnauthorized, "invalid_client")
	// Credentials that need form-encoding travel in the body.
	odd := e.serviceNow("acme", "client with space", "s&e=c+ret")
	oddTok := e.connect(odd)
	e.mustRefresh(odd, oddTok.RefreshToken)

	// Each instance has its own client registry.
	e.connect(e.serviceNow("beta", "c", "another"))
}

func TestServiceNowRevokeEndpoint(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.serviceNow("acme", "c", "s")
	first := e.connect(cfg)
	second := e.connect(cfg)
	const path = "/_sandbox/servicenow/acme/oauth_revoke_token.do"

	var out map[string]any
	if st := e.postForm(path, url.Values{"token": {first.AccessToken}, "client_id": {"c"}, "client_secret": {"bad"}}, &out); st != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %d %v", st, out)
	}
	out = nil
	if st := e.postForm(path, url.Values{"token": {"unknown"}, "client_id": {"c"}, "client_secret": {"s"}}, &out); st != http.StatusOK || len(out) != 0 {
		t.Fatalf("unknown token: %d %v", st, out)
	}
	out = nil
	if st := e.postForm(path, url.Values{"token": {first.AccessToken}, "client_id": {"c"}, "client_secret": {"s"}}, &out); st != http.StatusOK || out == nil || len(out) != 0 {
		t.Fatalf("revoke: %d %v", st, out)
	}
	_, err := e.refresh(cfg, first.RefreshToken)
	retrieveError(t, err, http.StatusUnauthorized, "server_error")
	if st := e.get("/_sandbox/servicenow/acme"+sysUserPath, first.AccessToken, nil); st != http.StatusUnauthorized {
		t.Fatalf("revoked access token: %d", st)
	}
	// The other grant lives; revoking by refresh token works as well.
	e.mustRefresh(cfg, second.RefreshToken)
	e.postForm(path, url.Values{"token": {second.RefreshToken}, "client_id": {"c"}, "client_secret": {"s"}}, nil)
	_, err = e.refresh(cfg, second.RefreshToken)
	retrieveError(t, err, http.StatusUnauthorized, "server_error")

	// ServiceNow's revocation needs no authentication: the token alone
	// revokes its grant.
	third := e.connect(cfg)
	if st := e.postForm(path, url.Values{"token": {third.RefreshToken}}, nil); st != http.StatusOK {
		t.Fatalf("revoke without client credentials: %d", st)
	}
	_, err = e.refresh(cfg, third.RefreshToken)
	retrieveError(t, err, http.StatusUnauthorized, "server_error")

	// But the client's credentials as HTTP Basic are refused, as at the
	// token endpoint, and the grant lives.
	fourth := e.connect(cfg)
	req, _ := http.NewRequest(http.MethodPost, e.url(path), strings.NewReader(url.Values{"token": {fourth.RefreshToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("c", "s")
	out = nil
	if st, _ := e.do(req, &out); st != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Fatalf("revoke with HTTP Basic: %d %v", st, out)
	}
	e.mustRefresh(cfg, fourth.RefreshToken)
}

func TestAuthorizeBadRequests(t *testing.T) {
	e := newEnv(t, Config{})
	sn := e.url("/_sandbox/servicenow/acme/oauth_auth.do?")
	at := e.url("/_sandbox/confluence/authorize?")
	good := "client_id=c&redirect_uri=" + url.QueryEscape(callback) + "&state=s"
	atGood := good + "&response_type=code&scope=read%3Ame&audience=api.atlassian.com"
	for name, u := range map[string]string{
		"sn no client_id":        sn + "response_type=code&redirect_uri=" + url.QueryEscape(callback),
		"sn no redirect_uri":     sn + "response_type=code&client_id=c",
		"sn no response_type":    sn + good,
		"sn response_type token": sn + good + "&response_type=token",
		"sn relative redirect":   sn + "response_type=code&client_id=c&redirect_uri=%2Fconsole%2Fcallback",
		"sn bad user":            sn + good + "&response_type=code&sandbox_user=%3Cscript%3E",
		"sn bad site":            sn + good + "&response_type=code&sandbox_site=a.b",
		"sn two sites":           sn + good + "&response_type=code&sandbox_site=acme,beta",
		"at no audience":         e.url("/_sandbox/confluence/authorize?") + good + "&response_type=code&scope=read%3Ame",
		"at wrong audience":      at + good + "&response_type=code&scope=read%3Ame&audience=api.example.com",
		"at no scope":            at + good + "&response_type=code&audience=api.atlassian.com",
		"at bad site list":       at + atGood + "&sandbox_site=acme,,beta",
	} {
		status, loc, body := e.openAuthorize(u)
		if status != http.StatusBadRequest || loc != "" || !strings.Contains(body, "Invalid authorization request") {
			t.Errorf("%s: %d %q", name, status, loc)
		}
	}
	if status, _, _ := e.openAuthorize(at + atGood); status != http.StatusFound {
		t.Fatalf("control: %d", status)
	}
}

// The registry's own templates, with base overrides pointing at the
// sandbox, reach the right routes.
func TestRegistryEndpointsReachSandbox(t *testing.T) {
	e := newEnv(t, Config{})
	overrides := BaseURLs(e.url("/"))
	for _, v := range vendors.Registry {
		t.Run(v.ID, func(t *testing.T) {
			if _, ok := (Config{}).LifetimesFor(v.ID); !ok {
				t.Fatalf("the sandbox does not speak %s", v.ID)
			}
			instance := ""
			if len(v.InstanceHosts) > 0 {
				instance = "https://acme.service-now.com"
			}
			style := oauth2.AuthStyleInHeader
			if v.ClientSecretInBody {
				style = oauth2.AuthStyleInParams
			}
			cfg := &oauth2.Config{
				ClientID: "id", ClientSecret: "secret", RedirectURL: callback, Scopes: v.Scopes,
				Endpoint: oauth2.Endpoint{
					AuthURL:   v.Endpoint(v.AuthURL, instance, overrides),
					TokenURL:  v.Endpoint(v.TokenURL, instance, overrides),
					AuthStyle: style,
				},
			}
			var opts []oauth2.AuthCodeOption
			for k, val := range v.AuthParams {
				opts = append(opts, knob(k, val))
			}
			verifier := oauth2.GenerateVerifier()
			if v.PKCE {
				opts = append(opts, oauth2.S256ChallengeOption(verifier))
			}
			code := e.code(cfg.AuthCodeURL("st", opts...))
			var xopts []oauth2.AuthCodeOption
			if v.PKCE {
				xopts = append(xopts, oauth2.VerifierOption(verifier))
			}
			tok, err := cfg.Exchange(e.ctx(), code, xopts...)
			if err != nil {
				t.Fatal(err)
			}
			if tok.RefreshToken == "" {
				t.Fatal("no refresh token")
			}
			e.mustRefresh(cfg, tok.RefreshToken)
			if v.RevokeURL != "" {
				// The service's own revocation, in the registry's client
				// authentication style, is accepted and kills the grant.
				c := provider.New(v, instance, provider.Credentials{ClientID: "id", ClientSecret: "secret"}, callback, overrides, e.srv.Client())
				if err := c.Revoke(t.Context(), tok); err != nil {
					t.Fatalf("revoke: %v", err)
				}
				if _, err := e.refresh(cfg, tok.RefreshToken); err == nil {
					t.Fatal("the grant survived its revocation")
				}
			}
		})
	}
}

// A client that authenticates to ServiceNow in another style than the
// registry's (HTTP Basic instead of the body) fails at the sandbox as it
// would at ServiceNow: its refreshes and its revocations are refused, and
// the grant lives on.
func TestServiceNowRefusesTheOtherClientAuthStyle(t *testing.T) {
	e := newEnv(t, Config{})
	overrides := map[string]string{"servicenow.instance": e.url("/_sandbox/servicenow/{name}")}
	sn, _ := vendors.Lookup("servicenow")
	if !sn.ClientSecretInBody {
		t.Fatal("ServiceNow documents client_id and client_secret as body parameters")
	}
	creds := provider.Credentials{ClientID: "c", ClientSecret: "s"}
	tok := e.connect(e.serviceNow("acme", creds.ClientID, creds.ClientSecret))

	wrong := sn
	wrong.ClientSecretInBody = false
	c := provider.New(wrong, "https://acme.service-now.com", creds, callback, overrides, e.srv.Client())
	if _, err := c.Refresh(t.Context(), tok.RefreshToken); err == nil {
		t.Fatal("a refresh with HTTP Basic was accepted")
	}
	if err := c.Revoke(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}); err == nil {
		t.Fatal("a revocation with HTTP Basic was accepted")
	}
	right := provider.New(sn, "https://acme.service-now.com", creds, callback, overrides, e.srv.Client())
	if _, err := right.Refresh(t.Context(), tok.RefreshToken); err != nil {
		t.Fatalf("the grant did not survive the refused revocation: %v", err)
	}
}
