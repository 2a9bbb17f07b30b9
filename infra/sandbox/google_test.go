package sandbox

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/vendors"
)

var googleScopeNames = []string{"openid", "https://www.googleapis.com/auth/userinfo.email",
	"https://www.googleapis.com/auth/userinfo.profile", "https://www.googleapis.com/auth/drive.readonly"}

// google is the deployment's Google app, as the service builds it.
func (e *env) google(style oauth2.AuthStyle, scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = googleScopeNames
	}
	base := e.url("/_sandbox/googledrive")
	return &oauth2.Config{
		ClientID:     "google-app.apps.googleusercontent.com",
		ClientSecret: "google-secret",
		Endpoint: oauth2.Endpoint{
			AuthURL:   base + "/o/oauth2/v2/auth",
			TokenURL:  base + "/token",
			AuthStyle: style,
		},
		RedirectURL: callback,
		Scopes:      scopes,
	}
}

// googleParams are the registry's: offline access, consent every time.
var googleParams = []oauth2.AuthCodeOption{
	oauth2.SetAuthURLParam("access_type", "offline"),
	oauth2.SetAuthURLParam("prompt", "consent"),
}

func googleOpts(extra ...oauth2.AuthCodeOption) []oauth2.AuthCodeOption {
	return slices.Concat(googleParams, extra)
}

type googleUserJSON struct {
	Sub           string  `json:"sub"`
	Name          string  `json:"name"`
	GivenName     string  `json:"given_name"`
	Email         string  `json:"email"`
	EmailVerified bool    `json:"email_verified"`
	HD            *string `json:"hd"`
}

// The whole flow as the service runs it: a refresh token with the code,
// the scopes as Google spells them, refreshes that answer no refresh
// token and leave the one issued working, the client's credentials in the
// body or as HTTP Basic, PKCE S256.
func TestGoogleFlow(t *testing.T) {
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInParams, oauth2.AuthStyleInHeader} {
		e := newEnv(t, Config{})
		cfg := e.google(style, "openid", "email", "profile", "https://www.googleapis.com/auth/drive.readonly")
		verifier := oauth2.GenerateVerifier()
		code := e.code(cfg.AuthCodeURL("st", googleOpts(oauth2.S256ChallengeOption(verifier))...))
		tok, err := cfg.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if tok.RefreshToken == "" || tok.Extra("expires_in") != float64(3600) || tok.TokenType != "Bearer" {
			t.Fatalf("exchange: %+v", tok)
		}
		if got := tok.Extra("scope"); got != strings.Join(googleScopeNames, " ") {
			t.Fatalf("scope %q: email and profile must come back by their full names", got)
		}
		g, _ := vendors.Lookup("googledrive")
		if reason, missing := provider.Deficient(g, tok); reason != "" {
			t.Fatalf("the registry refuses the sandbox's answer: %s %v", reason, missing)
		}
		for range 3 {
			var raw tokenJSON
			st := e.postForm("/_sandbox/googledrive/token", url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
				"client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret},
			}, &raw)
			if st != http.StatusOK || raw.AccessToken == "" || raw.RefreshToken != "" || raw.Scope != strings.Join(googleScopeNames, " ") {
				t.Fatalf("refresh: %d %+v, want an access token and no refresh_token", st, raw)
			}
			e.clock.Advance(time.Hour)
		}
		e.mustRefresh(cfg, tok.RefreshToken)
	}
}

// access_type=offline brings a refresh token, and without prompt=consent
// only for the account's first consent to the client: a reconnect without
// it would be left without one.
func TestGoogleOfflineAndConsent(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.google(oauth2.AuthStyleInParams)
	offline := oauth2.SetAuthURLParam("access_type", "offline")
	for _, tc := range []struct {
		name string
		opts []oauth2.AuthCodeOption
		want bool
	}{
		{"online by default", nil, false},
		{"online", []oauth2.AuthCodeOption{knob("access_type", "online"), knob("prompt", "consent")}, false},
		{"offline, first consent", []oauth2.AuthCodeOption{offline}, true},
		{"offline again, consent standing", []oauth2.AuthCodeOption{offline}, false},
		{"offline again, select_account only", []oauth2.AuthCodeOption{offline, knob("prompt", "select_account")}, false},
		{"offline with prompt=consent", []oauth2.AuthCodeOption{offline, knob("prompt", "select_account consent")}, true},
		{"another account's first consent", []oauth2.AuthCodeOption{offline, knob("sandbox_user", "bob")}, true},
		{"the same login elsewhere is another account", []oauth2.AuthCodeOption{offline, knob("sandbox_site", GooglePersonal)}, true},
	} {
		tok := e.connect(cfg, tc.opts...)
		if got := tok.RefreshToken != ""; got != tc.want {
			t.Fatalf("%s: refresh token %v, want %v", tc.name, got, tc.want)
		}
	}
	// Once the app's access is revoked, the next consent is a first one.
	tok := e.connect(cfg, googleParams...)
	if st := e.postForm("/_sandbox/googledrive/revoke", url.Values{"token": {tok.RefreshToken}}, nil); st != http.StatusOK {
		t.Fatalf("revoke: %d", st)
	}
	if tok := e.connect(cfg, offline); tok.RefreshToken == "" {
		t.Fatal("no refresh token after the access was revoked")
	}

	for k, v := range map[string]string{"access_type": "forever", "prompt": "login", "sandbox_site": "acme,beta"} {
		status, loc, body := e.openAuthorize(cfg.AuthCodeURL("st", googleOpts(knob(k, v))...))
		if status != http.StatusBadRequest || loc != "" || body == "" {
			t.Errorf("%s=%s: %d %q", k, v, status, loc)
		}
	}
	if status, _, _ := e.openAuthorize(cfg.AuthCodeURL("st", knob("prompt", "none consent"))); status != http.StatusBadRequest {
		t.Errorf("prompt=none consent: %d", status)
	}
}

// A refresh token dies 180 days after its last use; each refresh is a use.
// A dead one is 400 invalid_grant, which the registry reads as dead.
func TestGoogleInactivity(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.google(oauth2.AuthStyleInParams)
	tok := e.connect(cfg, googleParams...)
	e.clock.Advance(180*day - time.Second)
	e.mustRefresh(cfg, tok.RefreshToken)
	e.clock.Advance(180*day - time.Second)
	e.mustRefresh(cfg, tok.RefreshToken)
	e.clock.Advance(180 * day)
	_, err := e.refresh(cfg, tok.RefreshToken)
	re := retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
	if re.ErrorDescription != "Token has been expired or revoked." {
		t.Fatalf("description %q", re.ErrorDescription)
	}
	g, _ := vendors.Lookup("googledrive")
	if !g.IsRefusal(re.Response.StatusCode, re.ErrorCode) {
		t.Fatal("the registry does not read a dead Google grant as dead")
	}
	if DefaultGoogle.Access != g.Refresh.AccessTTL || DefaultGoogle.Refresh != g.Refresh.Inactivity || g.Refresh.Rotating {
		t.Fatal("sandbox defaults differ from the vendor registry")
	}
}

// The userinfo endpoint: the account's stable sub, its email and names as
// the scopes allow, and hd for a Workspace account only.
func TestGoogleUserinfo(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.google(oauth2.AuthStyleInParams)
	userinfo := func(tok *oauth2.Token) (int, googleUserJSON) {
		var u googleUserJSON
		st := e.get("/_sandbox/googledrive/v1/userinfo", tok.AccessToken, &u)
		return st, u
	}
	st, ws := userinfo(e.connect(cfg, googleOpts(knob("sandbox_user", "Ada.Lovelace"))...))
	if st != http.StatusOK || ws.Sub != GoogleSubject("ada.lovelace", "acme") || len(ws.Sub) != 21 ||
		ws.Email != "ada.lovelace@acme.example.com" || !ws.EmailVerified || ws.Name != "Ada Lovelace User" || ws.GivenName != "Ada" ||
		ws.HD == nil || *ws.HD != "acme.example.com" {
		t.Fatalf("workspace account: %d %+v", st, ws)
	}
	if _, again := userinfo(e.connect(cfg, googleOpts(knob("sandbox_user", "ada.lovelace"))...)); again.Sub != ws.Sub {
		t.Fatal("the same account got another sub")
	}
	_, personal := userinfo(e.connect(cfg, googleOpts(knob("sandbox_user", "ada.lovelace"), knob("sandbox_site", GooglePersonal))...))
	if personal.HD != nil || personal.Email != "ada.lovelace@gmail.com" || personal.Sub == ws.Sub {
		t.Fatalf("personal account: %+v", personal)
	}
	if _, other := userinfo(e.connect(cfg, googleOpts(knob("sandbox_site", "beta"))...)); *other.HD != "beta.example.com" {
		t.Fatalf("another domain: %+v", other)
	}
	_, narrow := userinfo(e.connect(e.google(oauth2.AuthStyleInParams, "openid", "https://www.googleapis.com/auth/drive.readonly"), googleParams...))
	if narrow.Sub == "" || narrow.Email != "" || narrow.Name != "" {
		t.Fatalf("openid alone: %+v", narrow)
	}
	if st, _ := userinfo(e.connect(e.google(oauth2.AuthStyleInParams, "https://www.googleapis.com/auth/drive.readonly"), googleParams...)); st != http.StatusForbidden {
		t.Fatalf("Drive alone: %d", st)
	}
	if st, _ := userinfo(&oauth2.Token{AccessToken: "made-up"}); st != http.StatusUnauthorized {
		t.Fatalf("unknown token: %d", st)
	}
}

// Revocation takes the access or refresh token alone (in the body or the
// query), ends every grant of that Google account to that client, and
// leaves other accounts' grants; a token already dead is 400
// invalid_token. The revoke knob still works at the same path.
func TestGoogleRevoke(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.google(oauth2.AuthStyleInParams)
	app, user := e.connect(cfg, googleParams...), e.connect(cfg, googleParams...)
	bob := e.connect(cfg, googleOpts(knob("sandbox_user", "bob"))...)
	personal := e.connect(cfg, googleOpts(knob("sandbox_site", GooglePersonal))...)
	otherApp := e.google(oauth2.AuthStyleInParams)
	otherApp.ClientID = "other-app.apps.googleusercontent.com"
	other := e.connect(otherApp, googleParams...)

	var out map[string]string
	if st := e.postForm("/_sandbox/googledrive/revoke", url.Values{"token": {user.AccessToken}}, &out); st != http.StatusOK {
		t.Fatalf("revoke: %d %v", st, out)
	}
	for _, dead := range []*oauth2.Token{app, user} {
		_, err := e.refresh(cfg, dead.RefreshToken)
		retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
		if st := e.get("/_sandbox/googledrive/v1/userinfo", dead.AccessToken, nil); st != http.StatusUnauthorized {
			t.Fatalf("revoked access token: %d", st)
		}
	}
	e.mustRefresh(cfg, bob.RefreshToken)
	e.mustRefresh(cfg, personal.RefreshToken)
	e.mustRefresh(otherApp, other.RefreshToken)

	if st := e.postForm("/_sandbox/googledrive/revoke", url.Values{"token": {app.RefreshToken}}, &out); st != http.StatusBadRequest || out["error"] != "invalid_token" {
		t.Fatalf("revoking a dead token: %d %v", st, out)
	}
	// In the query, as Google's curl example has it; with the client's
	// credentials, they must be its own.
	if st := e.post("/_sandbox/googledrive/revoke?token=" + url.QueryEscape(bob.RefreshToken)); st != http.StatusOK {
		t.Fatalf("token in the query: %d", st)
	}
	if st := e.postForm("/_sandbox/googledrive/revoke", url.Values{"token": {personal.RefreshToken}, "client_id": {cfg.ClientID}, "client_secret": {"wrong"}}, nil); st != http.StatusUnauthorized {
		t.Fatalf("wrong client secret: %d", st)
	}
	if st := e.postForm("/_sandbox/googledrive/revoke", url.Values{}, nil); st != http.StatusBadRequest {
		t.Fatalf("no token: %d", st)
	}
	if st := e.post("/_sandbox/googledrive/revoke?user=admin"); st != http.StatusNoContent {
		t.Fatalf("the revoke knob: %d", st)
	}
	_, err := e.refresh(cfg, personal.RefreshToken)
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")

	e.post("/_sandbox/googledrive/outage?status=503")
	if st := e.postForm("/_sandbox/googledrive/revoke", url.Values{"token": {"x"}}, nil); st != http.StatusServiceUnavailable {
		t.Fatalf("revoke during an outage: %d", st)
	}
}
