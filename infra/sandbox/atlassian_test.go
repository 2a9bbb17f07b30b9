package sandbox

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/shared/vendors"
	"golang.org/x/oauth2"
)

func TestAtlassianFlowAndRotation(t *testing.T) {
	for name, style := range map[string]oauth2.AuthStyle{
		"basic": oauth2.AuthStyleInHeader,
		"body":  oauth2.AuthStyleInParams,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Config{})
			cfg := e.atlassian(style)
			tok := e.connect(cfg, atlassianOpts(knob("sandbox_user", "ada"))...)
			if tok.Type() != "Bearer" || tok.RefreshToken == "" || tok.Extra("expires_in") != float64(3600) {
				t.Fatalf("token = %+v expires_in=%v", tok, tok.Extra("expires_in"))
			}
			if got := tok.Extra("scope"); got != strings.Join(atlassianScopes, " ") {
				t.Fatalf("scope = %v", got)
			}

			var me atMe
			if st := e.get("/_sandbox/confluence/me", tok.AccessToken, &me); st != http.StatusOK {
				t.Fatalf("/me: %d", st)
			}
			if me.AccountID != AtlassianAccountID("ada") || me.Email != "ada@example.com" || me.Name != "Ada User" ||
				me.Picture == nil || *me.Picture != "" || me.AccountStatus != "active" {
				t.Fatalf("/me = %+v", me)
			}

			second := e.mustRefresh(cfg, tok.RefreshToken)
			if second.RefreshToken == "" || second.RefreshToken == tok.RefreshToken || second.AccessToken == tok.AccessToken {
				t.Fatal("refresh must rotate the refresh token")
			}
			// Within the reuse leeway the old one still works (a client
			// that lost the answer presents it again), rotating again.
			e.clock.Advance(9 * time.Minute)
			third := e.mustRefresh(cfg, tok.RefreshToken)
			if third.RefreshToken == second.RefreshToken || third.RefreshToken == tok.RefreshToken {
				t.Fatal("a reuse within the leeway must rotate the refresh token")
			}
			fourth := e.mustRefresh(cfg, third.RefreshToken)
			// Past it, a rotated token is taken as stolen: refused, and
			// every token of the grant dies, the newest too.
			e.clock.Advance(10 * time.Minute)
			_, err := e.refresh(cfg, third.RefreshToken)
			re := retrieveError(t, err, http.StatusForbidden, "invalid_grant")
			if re.ErrorDescription != "Unknown or invalid refresh token." {
				t.Fatalf("error_description = %q", re.ErrorDescription)
			}
			conf, _ := vendors.Lookup("confluence")
			if !conf.IsRefusal(re.Response.StatusCode, re.ErrorCode) {
				t.Fatal("the registry does not read the sandbox's answer as a dead refresh token")
			}
			_, err = e.refresh(cfg, fourth.RefreshToken)
			retrieveError(t, err, http.StatusForbidden, "invalid_grant")
		})
	}
}

func TestAtlassianJSONBody(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.atlassian(oauth2.AuthStyleInParams)
	code := e.code(cfg.AuthCodeURL("st", atlassianOpts()...))

	var tok tokenJSON
	st := e.postJSON("/_sandbox/confluence/oauth/token", map[string]string{
		"grant_type": "authorization_code", "client_id": cfg.ClientID, "client_secret": cfg.ClientSecret,
		"code": code, "redirect_uri": callback,
	}, &tok)
	if st != http.StatusOK || tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" ||
		tok.ExpiresIn == nil || *tok.ExpiresIn != 3600 || !strings.Contains(tok.Scope, "offline_access") {
		t.Fatalf("exchange: %d %+v", st, tok)
	}
	var next tokenJSON
	st = e.postJSON("/_sandbox/confluence/oauth/token", map[string]string{
		"grant_type": "refresh_token", "client_id": cfg.ClientID, "client_secret": cfg.ClientSecret,
		"refresh_token": tok.RefreshToken,
	}, &next)
	if st != http.StatusOK || next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %d %+v", st, next)
	}
	var dead tokenJSON
	e.clock.Advance(11 * time.Minute) // past the reuse leeway
	st = e.postJSON("/_sandbox/confluence/oauth/token", map[string]string{
		"grant_type": "refresh_token", "client_id": cfg.ClientID, "client_secret": cfg.ClientSecret,
		"refresh_token": tok.RefreshToken,
	}, &dead)
	if st != http.StatusForbidden || dead.Error != "invalid_grant" || dead.ErrorDescription != "Unknown or invalid refresh token." {
		t.Fatalf("old token: %d %+v", st, dead)
	}
	// A wrong secret in JSON is invalid_client.
	st = e.postJSON("/_sandbox/confluence/oauth/token", map[string]string{
		"grant_type": "refresh_token", "client_id": cfg.ClientID, "client_secret": "nope",
		"refresh_token": next.RefreshToken,
	}, &dead)
	if st != http.StatusUnauthorized || dead.Error != "invalid_client" {
		t.Fatalf("wrong secret: %d %+v", st, dead)
	}
}

func TestAtlassianCodeRules(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.atlassian(oauth2.AuthStyleInHeader)
	code := e.code(cfg.AuthCodeURL("st", atlassianOpts()...))

	// A code of Atlassian means nothing to ServiceNow, and the reverse.
	sn := e.serviceNow("acme", cfg.ClientID, cfg.ClientSecret)
	_, err := sn.Exchange(e.ctx(), code)
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
	snCode := e.code(sn.AuthCodeURL("st"))
	_, err = cfg.Exchange(e.ctx(), snCode)
	retrieveError(t, err, http.StatusForbidden, "invalid_grant")

	if _, err := cfg.Exchange(e.ctx(), code); err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Exchange(e.ctx(), code)
	retrieveError(t, err, http.StatusForbidden, "invalid_grant")
}

func TestAtlassianNoOfflineAccessNoRefreshToken(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.atlassian(oauth2.AuthStyleInHeader, "read:me", "read:confluence-content.all")
	code := e.code(cfg.AuthCodeURL("st", atlassianOpts()...))
	var raw map[string]any
	st := e.postForm("/_sandbox/confluence/oauth/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback},
		"client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret},
	}, &raw)
	if st != http.StatusOK || raw["access_token"] == "" {
		t.Fatalf("exchange: %d", st)
	}
	if _, has := raw["refresh_token"]; has {
		t.Fatal("refresh token issued without offline_access")
	}
	if st := e.get("/_sandbox/confluence/me", raw["access_token"].(string), nil); st != http.StatusOK {
		t.Fatalf("/me: %d", st)
	}
}

func TestAtlassianMeNeedsReadMe(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.atlassian(oauth2.AuthStyleInHeader, "read:confluence-content.all", "offline_access")
	tok := e.connect(cfg, atlassianOpts()...)
	if st := e.get("/_sandbox/confluence/me", tok.AccessToken, nil); st != http.StatusForbidden {
		t.Fatalf("/me without read:me: %d", st)
	}
	if st := e.get("/_sandbox/confluence/oauth/token/accessible-resources", tok.AccessToken, nil); st != http.StatusOK {
		t.Fatalf("accessible-resources: %d", st)
	}
}

func TestAtlassianInactivity(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.atlassian(oauth2.AuthStyleInHeader)
	tok := e.connect(cfg, atlassianOpts()...)

	e.clock.Advance(89 * day24)
	tok = e.mustRefresh(cfg, tok.RefreshToken)
	e.clock.Advance(90*day24 - time.Second) // each refresh starts a new 90-day window
	tok = e.mustRefresh(cfg, tok.RefreshToken)
	e.clock.Advance(90 * day24) // unused for 90 days
	_, err := e.refresh(cfg, tok.RefreshToken)
	retrieveError(t, err, http.StatusForbidden, "invalid_grant")
}

func TestAtlassianAbsoluteLimit(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.atlassian(oauth2.AuthStyleInHeader)
	tok := e.connect(cfg, atlassianOpts()...)

	for range 4 { // days 80, 160, 240, 320
		e.clock.Advance(80 * day24)
		tok = e.mustRefresh(cfg, tok.RefreshToken)
	}
	e.clock.Advance(45*day24 - time.Second) // 365 days minus a second after the first grant
	tok = e.mustRefresh(cfg, tok.RefreshToken)
	e.clock.Advance(time.Second) // 365 days, although the token is a second old
	_, err := e.refresh(cfg, tok.RefreshToken)
	retrieveError(t, err, http.StatusForbidden, "invalid_grant")

	// A new authorization starts a new year.
	fresh := e.connect(cfg, atlassianOpts()...)
	e.mustRefresh(cfg, fresh.RefreshToken)
}

func TestAtlassianLifetimeOverrides(t *testing.T) {
	e := newEnv(t, Config{AccessTTL: 10 * time.Minute, RefreshTTL: 2 * time.Hour, AbsoluteTTL: 5 * time.Hour})
	cfg := e.atlassian(oauth2.AuthStyleInHeader)
	tok := e.connect(cfg, atlassianOpts()...)
	if tok.Extra("expires_in") != float64(600) {
		t.Fatalf("expires_in = %v", tok.Extra("expires_in"))
	}
	e.clock.Advance(10 * time.Minute)
	if st := e.get("/_sandbox/confluence/me", tok.AccessToken, nil); st != http.StatusUnauthorized {
		t.Fatalf("expired access token: %d", st)
	}
	e.clock.Advance(100 * time.Minute) // 1h50 after the grant
	tok = e.mustRefresh(cfg, tok.RefreshToken)
	e.clock.Advance(110 * time.Minute) // 3h40
	tok = e.mustRefresh(cfg, tok.RefreshToken)
	e.clock.Advance(80 * time.Minute) // 5 hours after the grant, the token 80 minutes old
	_, err := e.refresh(cfg, tok.RefreshToken)
	retrieveError(t, err, http.StatusForbidden, "invalid_grant")

	idle := e.connect(cfg, atlassianOpts()...)
	e.clock.Advance(2 * time.Hour)
	_, err = e.refresh(cfg, idle.RefreshToken)
	retrieveError(t, err, http.StatusForbidden, "invalid_grant")
}

func TestAtlassianAccessibleResources(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.atlassian(oauth2.AuthStyleInHeader)
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

	// One site by default: acme.
	single := e.connect(cfg, atlassianOpts()...)
	var res []atResource
	if st := e.get("/_sandbox/confluence/oauth/token/accessible-resources", single.AccessToken, &res); st != http.StatusOK || len(res) != 1 {
		t.Fatalf("single site: %d %+v", st, res)
	}
	r := res[0]
	if r.Name != "acme" || r.URL != "https://acme.atlassian.net" || r.ID != AtlassianCloudID("acme") || !uuidRE.MatchString(r.ID) ||
		r.AvatarURL == nil || *r.AvatarURL != "" || slices.Contains(r.Scopes, "offline_access") ||
		!slices.Contains(r.Scopes, "read:confluence-content.all") {
		t.Fatalf("resource = %+v", r)
	}

	// Several sites: every one, in an order that never stays put.
	multi := e.connect(cfg, atlassianOpts(knob("sandbox_site", "acme,beta,gamma"), knob("sandbox_user", "bob"))...)
	var firsts []string
	for range 6 {
		var list []atResource
		if st := e.get("/_sandbox/confluence/oauth/token/accessible-resources", multi.AccessToken, &list); st != http.StatusOK {
			t.Fatalf("accessible-resources: %d", st)
		}
		var names []string
		for _, r := range list {
			names = append(names, r.Name)
			if r.ID != AtlassianCloudID(r.Name) || r.URL != "https://"+r.Name+".atlassian.net" {
				t.Fatalf("resource = %+v", r)
			}
		}
		sorted := slices.Clone(names)
		slices.Sort(sorted)
		if !slices.Equal(sorted, []string{"acme", "beta", "gamma"}) {
			t.Fatalf("sites = %v", names)
		}
		if n := len(firsts); n > 0 && firsts[n-1] == names[0] {
			t.Fatalf("the same site came first twice in a row: %v", names)
		}
		firsts = append(firsts, names[0])
	}
	if firsts[0] == "acme" {
		t.Fatal("the first answer lists the first approved site first")
	}
	for _, site := range []string{"acme", "beta", "gamma"} {
		if !slices.Contains(firsts, site) {
			t.Fatalf("site %s never came first: %v", site, firsts)
		}
	}
	if AtlassianCloudID("acme") == AtlassianCloudID("beta") {
		t.Fatal("cloud ids collide")
	}

	// Bad tokens.
	var unauth map[string]any
	if st := e.get("/_sandbox/confluence/oauth/token/accessible-resources", "nope", &unauth); st != http.StatusUnauthorized || unauth["code"] != float64(401) {
		t.Fatalf("bad token: %d %v", st, unauth)
	}
	if st := e.get("/_sandbox/confluence/me", "", nil); st != http.StatusUnauthorized {
		t.Fatalf("no token: %d", st)
	}
}

func TestAtlassianDeny(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.atlassian(oauth2.AuthStyleInHeader)
	u := e.authorize(cfg.AuthCodeURL("st-3", atlassianOpts(knob("sandbox_deny", "1"))...))
	if q := u.Query(); q.Get("error") != "access_denied" || q.Get("state") != "st-3" || q.Has("code") {
		t.Fatalf("deny redirect: %s", u)
	}
}

// Refreshes of one rotating token race: within the reuse leeway each
// succeeds, and once it is over exactly one of the tokens they got (the
// last issued) still works.
func TestAtlassianConcurrentRefresh(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.atlassian(oauth2.AuthStyleInHeader)
	tok := e.connect(cfg, atlassianOpts()...)

	const n = 16
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			next, err := e.refresh(cfg, tok.RefreshToken)
			if err != nil {
				t.Errorf("refresh %d: %v", i, err)
				return
			}
			got[i] = next.RefreshToken
		})
	}
	wg.Wait()
	e.clock.Advance(11 * time.Minute)
	live := 0
	for _, r := range got {
		if _, ok := e.server.RefreshTokenUser(r); ok {
			live++
		}
	}
	if live != 1 {
		t.Fatalf("%d of the racing refreshes' tokens work after the leeway, want 1", live)
	}
}

// Atlassian takes the client's credentials as HTTP Basic too: both parts
// form-urlencoded first (RFC 6749 section 2.3.1), as x/oauth2 sends them;
// a wrong secret or another Authorization scheme is refused.
func TestAtlassianClientAuthentication(t *testing.T) {
	e := newEnv(t, Config{})
	odd := e.atlassian(oauth2.AuthStyleInHeader)
	odd.ClientID, odd.ClientSecret = "app with space/1", "s&e=c+ret:x"
	tok := e.connect(odd, atlassianOpts()...)
	odd.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	tok = e.mustRefresh(odd, tok.RefreshToken)

	wrong := e.atlassian(oauth2.AuthStyleInHeader)
	wrong.ClientID, wrong.ClientSecret = odd.ClientID, "not-it"
	_, err := e.refresh(wrong, tok.RefreshToken)
	retrieveError(t, err, http.StatusUnauthorized, "invalid_client")

	req, _ := http.NewRequest(http.MethodPost, e.url("/_sandbox/confluence/oauth/token"), strings.NewReader(url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_id": {odd.ClientID}, "client_secret": {odd.ClientSecret},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer something")
	var out map[string]any
	if st, _ := e.do(req, &out); st != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Fatalf("another Authorization scheme: %d %v", st, out)
	}
	e.mustRefresh(odd, tok.RefreshToken)
}

// Atlassian verifies PKCE S256 as ServiceNow does: the code of an
// authorization with a challenge is exchanged only with its verifier, and
// with Atlassian's own refusal (403 invalid_grant); plain is refused.
func TestAtlassianPKCE(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.atlassian(oauth2.AuthStyleInParams)
	verifier := oauth2.GenerateVerifier()
	code := e.code(cfg.AuthCodeURL("st", atlassianOpts(oauth2.S256ChallengeOption(verifier))...))
	_, err := cfg.Exchange(e.ctx(), code) // no verifier
	retrieveError(t, err, http.StatusForbidden, "invalid_grant")
	_, err = cfg.Exchange(e.ctx(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	retrieveError(t, err, http.StatusForbidden, "invalid_grant")
	tok, err := cfg.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("right verifier: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	// The code is spent.
	_, err = cfg.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
	retrieveError(t, err, http.StatusForbidden, "invalid_grant")

	status, loc, _ := e.openAuthorize(cfg.AuthCodeURL("st", atlassianOpts(
		knob("code_challenge", oauth2.S256ChallengeFromVerifier(verifier)), knob("code_challenge_method", "plain"))...))
	if status != http.StatusBadRequest || loc != "" {
		t.Fatalf("plain PKCE: %d %q", status, loc)
	}
}
