package sandbox

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/vendors"
	"golang.org/x/oauth2"
)

// vendorCase drives the tests common to both vendors.
type vendorCase struct {
	id         string
	cfg        func(e *env) *oauth2.Config
	opts       []oauth2.AuthCodeOption
	identity   string // path of the identity lookup
	deadStatus int
	deadCode   string
}

var vendorCases = []vendorCase{
	{
		id:         "servicenow",
		cfg:        func(e *env) *oauth2.Config { return e.serviceNow("acme", "c", "s") },
		identity:   "/_sandbox/servicenow/acme" + sysUserPath,
		deadStatus: http.StatusUnauthorized,
		deadCode:   "server_error",
	},
	{
		id:         "confluence",
		cfg:        func(e *env) *oauth2.Config { return e.atlassian(oauth2.AuthStyleInHeader) },
		opts:       atlassianParams,
		identity:   "/_sandbox/confluence/me",
		deadStatus: http.StatusForbidden,
		deadCode:   "invalid_grant",
	},
	{
		id:         "googledrive",
		cfg:        func(e *env) *oauth2.Config { return e.google(oauth2.AuthStyleInParams) },
		opts:       googleParams,
		identity:   "/_sandbox/googledrive/v1/userinfo",
		deadStatus: http.StatusBadRequest,
		deadCode:   "invalid_grant",
	},
}

// TestRevokeKnob: the knob kills the refresh tokens of every grant of the
// login at the vendor, and nothing else. Access tokens already issued keep
// working until they expire, as at a real vendor (DESIGN §6); a code
// approved before, and every later authorization, make live grants.
func TestRevokeKnob(t *testing.T) {
	for _, vc := range vendorCases {
		t.Run(vc.id, func(t *testing.T) {
			e := newEnv(t, Config{AccessTTL: 10 * time.Minute})
			cfg := vc.cfg(e)
			as := func(user string) []oauth2.AuthCodeOption {
				return append(slices.Clip(vc.opts), knob("sandbox_user", user))
			}
			connect := func(user string) *oauth2.Token { return e.connect(cfg, as(user)...) }
			ada, ada2, bob := connect("ada"), connect("ada"), connect("bob")
			// ada's second grant has refreshed once (for a rotating vendor
			// its first refresh token is retired, within the leeway).
			old := ada2.RefreshToken
			ada2 = e.mustRefresh(cfg, ada2.RefreshToken)
			pending := e.code(cfg.AuthCodeURL("st", as("ada")...))

			if st := e.post("/_sandbox/" + vc.id + "/revoke?user=ADA"); st != http.StatusNoContent {
				t.Fatalf("revoke: %d", st)
			}
			v, _ := vendors.Lookup(vc.id)
			for _, rt := range []string{ada.RefreshToken, ada2.RefreshToken, old} {
				_, err := e.refresh(cfg, rt)
				re := retrieveError(t, err, vc.deadStatus, vc.deadCode)
				if !v.IsRefusal(re.Response.StatusCode, re.ErrorCode) {
					t.Fatal("the registry does not read a revoked grant as dead")
				}
			}
			for _, tok := range []*oauth2.Token{ada, ada2} {
				if st := e.get(vc.identity, tok.AccessToken, nil); st != http.StatusOK {
					t.Fatalf("an access token issued before the revoke: %d, want it working until it expires", st)
				}
			}
			// A code approved before the revoke is a new grant, alive.
			tok, err := cfg.Exchange(e.ctx(), pending)
			if err != nil {
				t.Fatalf("a code approved before the revoke: %v", err)
			}
			e.mustRefresh(cfg, tok.RefreshToken)
			e.clock.Advance(10 * time.Minute)
			if st := e.get(vc.identity, ada.AccessToken, nil); st != http.StatusUnauthorized {
				t.Fatalf("an access token past its lifetime: %d", st)
			}
			// Others are untouched, and the login can authorize again.
			e.mustRefresh(cfg, bob.RefreshToken)
			e.mustRefresh(cfg, connect("ada").RefreshToken)

			if st := e.post("/_sandbox/" + vc.id + "/revoke"); st != http.StatusBadRequest {
				t.Fatalf("revoke without user: %d", st)
			}
			if st := e.get("/_sandbox/"+vc.id+"/revoke?user=ada", "", nil); st != http.StatusMethodNotAllowed {
				t.Fatalf("GET revoke: %d", st)
			}
		})
	}
}

func TestOutageKnob(t *testing.T) {
	for _, vc := range vendorCases {
		t.Run(vc.id, func(t *testing.T) {
			e := newEnv(t, Config{})
			cfg := vc.cfg(e)
			tok := e.connect(cfg, vc.opts...)
			other := "confluence"
			if vc.id == "confluence" {
				other = "servicenow"
			}

			if st := e.post("/_sandbox/" + vc.id + "/outage?status=503"); st != http.StatusNoContent {
				t.Fatalf("outage on: %d", st)
			}
			_, err := e.refresh(cfg, tok.RefreshToken)
			re := retrieveError(t, err, http.StatusServiceUnavailable, "temporarily_unavailable")
			v, _ := vendors.Lookup(vc.id)
			if v.IsRefusal(re.Response.StatusCode, re.ErrorCode) {
				t.Fatal("an outage reads as a dead refresh token")
			}
			var body map[string]any
			if st := e.get(vc.identity, tok.AccessToken, &body); st != http.StatusServiceUnavailable || body["error"] == nil {
				t.Fatalf("identity during outage: %d %v", st, body)
			}
			if vc.id == "confluence" {
				if st := e.get("/_sandbox/confluence/oauth/token/accessible-resources", tok.AccessToken, nil); st != http.StatusServiceUnavailable {
					t.Fatalf("accessible-resources during outage: %d", st)
				}
			}
			// Only that vendor is out.
			if st := e.post("/_sandbox/" + other + "/outage?status=0"); st != http.StatusNoContent {
				t.Fatalf("other vendor knob: %d", st)
			}
			if st := e.post("/_sandbox/" + vc.id + "/outage?status=200"); st != http.StatusBadRequest {
				t.Fatalf("status 200: %d", st)
			}
			if st := e.post("/_sandbox/" + vc.id + "/outage?status=x"); st != http.StatusBadRequest {
				t.Fatalf("status x: %d", st)
			}

			if st := e.post("/_sandbox/" + vc.id + "/outage?status=0"); st != http.StatusNoContent {
				t.Fatalf("outage off: %d", st)
			}
			// The grant survived the outage.
			e.mustRefresh(cfg, tok.RefreshToken)
			if st := e.get(vc.identity, tok.AccessToken, nil); st != http.StatusOK {
				t.Fatalf("identity after outage: %d", st)
			}
		})
	}
}

func TestOutageOfOneVendorLeavesTheOther(t *testing.T) {
	e := newEnv(t, Config{})
	e.post("/_sandbox/servicenow/outage?status=500")
	e.connect(e.atlassian(oauth2.AuthStyleInHeader), atlassianParams...)
	_, err := e.serviceNow("acme", "c", "s").Exchange(e.ctx(), e.code(e.serviceNow("acme", "c", "s").AuthCodeURL("st")))
	retrieveError(t, err, http.StatusInternalServerError, "temporarily_unavailable")
}

func TestNotFoundAndMethods(t *testing.T) {
	e := newEnv(t, Config{})
	for _, path := range []string{
		"/_sandbox/",
		"/_sandbox/nosuchvendor/authorize",
		"/_sandbox/servicenow",
		"/_sandbox/servicenow/acme",
		"/_sandbox/servicenow/acme/",
		"/_sandbox/servicenow/acme/oauth_token.do/",
		"/_sandbox/servicenow/acme/api/now/table/incident",
		"/_sandbox/servicenow/a_b/oauth_auth.do",
		"/_sandbox/confluence/oauth/revoke",
		"/_sandbox/confluence/oauth/token/revoke",
		"/_sandbox/confluence/me/",
	} {
		var body map[string]any
		if st := e.get(path, "", &body); st != http.StatusNotFound || body["error"] != "not_found" {
			t.Errorf("GET %s: %d %v", path, st, body)
		}
	}
	for path, method := range map[string]string{
		"/_sandbox/servicenow/acme/oauth_token.do":        http.MethodGet,
		"/_sandbox/servicenow/acme/oauth_revoke_token.do": http.MethodGet,
		"/_sandbox/confluence/oauth/token":                http.MethodGet,
		"/_sandbox/confluence/authorize":                  http.MethodPost,
		"/_sandbox/confluence/me":                         http.MethodPost,
		"/_sandbox/servicenow/outage":                     http.MethodGet,
	} {
		req, _ := http.NewRequest(method, e.url(path), nil)
		if st, h := e.do(req, nil); st != http.StatusMethodNotAllowed || h.Get("Allow") == "" {
			t.Errorf("%s %s: %d", method, path, st)
		}
	}
}

// Behind http.StripPrefix the same routes work.
func TestStrippedMount(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/_sandbox", New(Config{})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/_sandbox/confluence/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("stripped mount: %d", resp.StatusCode)
	}
}

func TestTokensAreRandomAndDistinct(t *testing.T) {
	e := newEnv(t, Config{})
	seen := map[string]bool{}
	add := func(tok string) {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) < 16 {
			t.Fatalf("token of %d bytes (%v)", len(b), err)
		}
		if seen[tok] {
			t.Fatal("a token came out twice")
		}
		seen[tok] = true
	}
	sn := e.serviceNow("acme", "c", "s")
	at := e.atlassian(oauth2.AuthStyleInHeader)
	for range 5 {
		code := e.code(sn.AuthCodeURL("st"))
		add(code)
		tok, err := sn.Exchange(e.ctx(), code)
		if err != nil {
			t.Fatal(err)
		}
		add(tok.AccessToken)
		add(tok.RefreshToken)
		a := e.connect(at, atlassianParams...)
		add(a.AccessToken)
		add(a.RefreshToken)
		add(e.mustRefresh(at, a.RefreshToken).RefreshToken)
	}
}

// Many grants go through the periodic sweep without losing live ones.
func TestSweepKeepsLiveGrants(t *testing.T) {
	e := newEnv(t, Config{AccessTTL: time.Minute})
	cfg := e.atlassian(oauth2.AuthStyleInHeader, "read:me") // no refresh token: access only
	keep := e.connect(cfg, atlassianParams...)
	sn := e.serviceNow("acme", "c", "s")
	keepSN := e.connect(sn)
	for range 600 {
		code := e.code(sn.AuthCodeURL("st"))
		if _, err := sn.Exchange(e.ctx(), code); err != nil {
			t.Fatal(err)
		}
	}
	if st := e.get("/_sandbox/confluence/me", keep.AccessToken, nil); st != http.StatusOK {
		t.Fatalf("live access token lost: %d", st)
	}
	kept := e.mustRefresh(sn, keepSN.RefreshToken)
	if st := e.post("/_sandbox/servicenow/revoke?user=admin"); st != http.StatusNoContent {
		t.Fatal(st)
	}
	if _, err := e.refresh(sn, kept.RefreshToken); err == nil {
		t.Fatal("revoke missed a swept-over grant's refresh token")
	}
	if st := e.get("/_sandbox/servicenow/acme"+sysUserPath, kept.AccessToken, nil); st != http.StatusOK {
		t.Fatalf("revoke killed a swept-over grant's access token: %d", st)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	cfg, err := ConfigFromEnv(env(nil))
	if err != nil || cfg.AccessTTL != 0 || cfg.RefreshTTL != 0 || cfg.AbsoluteTTL != 0 || cfg.Clock != nil {
		t.Fatalf("empty env: %+v %v", cfg, err)
	}
	cfg, err = ConfigFromEnv(env(map[string]string{
		"SANDBOX_ACCESS_TTL": "2m", "SANDBOX_REFRESH_TTL": " 1h30m ", "SANDBOX_REFRESH_ABSOLUTE_TTL": "48h",
	}))
	if err != nil || cfg.AccessTTL != 2*time.Minute || cfg.RefreshTTL != 90*time.Minute || cfg.AbsoluteTTL != 48*time.Hour {
		t.Fatalf("env: %+v %v", cfg, err)
	}
	cfg, err = ConfigFromEnv(env(map[string]string{"SANDBOX_ACCESS_TTL": "0"}))
	if err != nil || cfg.AccessTTL != 0 {
		t.Fatalf("zero: %+v %v", cfg, err)
	}
	for _, bad := range []map[string]string{
		{"SANDBOX_ACCESS_TTL": "30"},
		{"SANDBOX_REFRESH_TTL": "100d"},
		{"SANDBOX_REFRESH_TTL": "-1h"},
		{"SANDBOX_REFRESH_ABSOLUTE_TTL": "soon"},
	} {
		if _, err := ConfigFromEnv(env(bad)); err == nil {
			t.Errorf("%v: no error", bad)
		} else {
			for k := range bad {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("error %q does not name %s", err, k)
				}
			}
		}
	}
}

func TestLifetimesFor(t *testing.T) {
	check := func(cfg Config, id string, want Lifetimes) {
		t.Helper()
		got, ok := cfg.LifetimesFor(id)
		if !ok || got != want {
			t.Errorf("%s: got %+v (%v), want %+v", id, got, ok, want)
		}
	}
	check(Config{}, "servicenow", Lifetimes{Access: 30 * time.Minute, Refresh: 100 * day24})
	check(Config{}, "confluence", Lifetimes{Access: time.Hour, Refresh: 90 * day24, Absolute: 365 * day24})

	global := Config{AccessTTL: time.Minute, RefreshTTL: time.Hour, AbsoluteTTL: 2 * time.Hour}
	check(global, "servicenow", Lifetimes{Access: time.Minute, Refresh: time.Hour})
	check(global, "confluence", Lifetimes{Access: time.Minute, Refresh: time.Hour, Absolute: 2 * time.Hour})

	per := global
	per.ServiceNow = Lifetimes{Refresh: 3 * time.Hour}
	per.Atlassian = Lifetimes{Access: 7 * time.Minute}
	check(per, "servicenow", Lifetimes{Access: time.Minute, Refresh: 3 * time.Hour})
	check(per, "confluence", Lifetimes{Access: 7 * time.Minute, Refresh: time.Hour, Absolute: 2 * time.Hour})

	check(per, "jira", Lifetimes{Access: 7 * time.Minute, Refresh: time.Hour, Absolute: 2 * time.Hour}) // Atlassian's too
	if _, ok := (Config{}).LifetimesFor("nosuchvendor"); ok {
		t.Error("nosuchvendor: the sandbox does not speak it")
	}
	// The defaults are the registry's policies.
	sn, _ := vendors.Lookup("servicenow")
	conf, _ := vendors.Lookup("confluence")
	if DefaultServiceNow.Access != sn.Refresh.AccessTTL || DefaultServiceNow.Refresh != sn.Refresh.Lifespan ||
		DefaultAtlassian.Access != conf.Refresh.AccessTTL || DefaultAtlassian.Refresh != conf.Refresh.Inactivity ||
		DefaultAtlassian.Absolute != conf.Refresh.Absolute {
		t.Error("sandbox defaults differ from the vendor registry")
	}
}

// sandbox_no_refresh=1: the code exchange answers without a refresh token,
// whatever the dialect's rule; everything else about the grant works.
func TestNoRefreshKnob(t *testing.T) {
	for _, vc := range vendorCases {
		t.Run(vc.id, func(t *testing.T) {
			e := newEnv(t, Config{})
			cfg := vc.cfg(e)
			tok := e.connect(cfg, append(slices.Clone(vc.opts), knob("sandbox_no_refresh", "1"))...)
			if tok.AccessToken == "" || tok.RefreshToken != "" {
				t.Fatalf("exchange with sandbox_no_refresh: access %t, refresh %q", tok.AccessToken != "", tok.RefreshToken)
			}
			if got, want := tok.Extra("scope"), strings.Join(cfg.Scopes, " "); got != want {
				t.Fatalf("scope %v, want the requested %q", got, want)
			}
			if st := e.get(vc.identity, tok.AccessToken, nil); st != http.StatusOK {
				t.Fatalf("identity lookup with the access token: %d", st)
			}
			// Without the knob (or with it off) a refresh token comes back.
			for _, off := range []string{"", "0"} {
				opts := slices.Clone(vc.opts)
				if off != "" {
					opts = append(opts, knob("sandbox_no_refresh", off))
				}
				if tok := e.connect(cfg, opts...); tok.RefreshToken == "" {
					t.Fatalf("sandbox_no_refresh=%q: no refresh token", off)
				}
			}
		})
	}
}

// sandbox_scope grants only the scopes it names, and the token response
// says so; Atlassian without offline_access issues no refresh token.
func TestScopeKnob(t *testing.T) {
	t.Run("servicenow", func(t *testing.T) {
		e := newEnv(t, Config{})
		cfg := e.serviceNow("acme", "c", "s")
		cfg.Scopes = []string{"useraccount", "incident_read"}
		tok := e.connect(cfg, knob("sandbox_scope", "incident_read"))
		if tok.Extra("scope") != "incident_read" || tok.RefreshToken == "" {
			t.Fatalf("scope %v, refresh %t", tok.Extra("scope"), tok.RefreshToken != "")
		}
		// Refreshing keeps the grant's narrowed scope.
		if got := e.mustRefresh(cfg, tok.RefreshToken).Extra("scope"); got != "incident_read" {
			t.Fatalf("refreshed scope %v", got)
		}
	})
	t.Run("confluence without offline_access", func(t *testing.T) {
		e := newEnv(t, Config{})
		cfg := e.atlassian(oauth2.AuthStyleInHeader)
		tok := e.connect(cfg, atlassianOpts(knob("sandbox_scope", "read:me  search:confluence"))...)
		if tok.Extra("scope") != "read:me search:confluence" || tok.RefreshToken != "" {
			t.Fatalf("scope %v, refresh %t", tok.Extra("scope"), tok.RefreshToken != "")
		}
	})
	t.Run("confluence without read:me", func(t *testing.T) {
		e := newEnv(t, Config{})
		cfg := e.atlassian(oauth2.AuthStyleInHeader)
		tok := e.connect(cfg, atlassianOpts(knob("sandbox_scope", "offline_access search:confluence"))...)
		if tok.Extra("scope") != "offline_access search:confluence" || tok.RefreshToken == "" {
			t.Fatalf("scope %v, refresh %t", tok.Extra("scope"), tok.RefreshToken != "")
		}
		// The narrowed grant is what the API enforces.
		if st := e.get("/_sandbox/confluence/me", tok.AccessToken, nil); st != http.StatusForbidden {
			t.Fatalf("/me without read:me: %d", st)
		}
	})
	t.Run("empty grants nothing", func(t *testing.T) {
		e := newEnv(t, Config{})
		tok := e.connect(e.serviceNow("acme", "c", "s"), knob("sandbox_scope", ""))
		if s, ok := tok.Extra("scope").(string); !ok || s != "" {
			t.Fatalf("scope %#v, want present and empty", tok.Extra("scope"))
		}
	})
	t.Run("a scope that was not requested", func(t *testing.T) {
		e := newEnv(t, Config{})
		cfg := e.atlassian(oauth2.AuthStyleInHeader)
		status, loc, body := e.openAuthorize(cfg.AuthCodeURL("st", atlassianOpts(knob("sandbox_scope", "read:me write:confluence-content"))...))
		if status != http.StatusBadRequest || loc != "" || !strings.Contains(body, "write:confluence-content") {
			t.Fatalf("%d %q %s", status, loc, body)
		}
	})
}

// Every registry vendor the sandbox speaks is pointed at it, each base at
// /_sandbox/{id}, an instance at /_sandbox/{id}/{name}.
func TestBaseURLs(t *testing.T) {
	got := BaseURLs("http://127.0.0.1:3000/")
	for k, want := range map[string]string{
		"servicenow.instance": "http://127.0.0.1:3000/_sandbox/servicenow/{name}",
		"confluence.auth":     "http://127.0.0.1:3000/_sandbox/confluence",
		"confluence.api":      "http://127.0.0.1:3000/_sandbox/confluence",
		"jira.auth":           "http://127.0.0.1:3000/_sandbox/jira",
		"jira.api":            "http://127.0.0.1:3000/_sandbox/jira",
		"dropbox.www":         "http://127.0.0.1:3000/_sandbox/dropbox",
		"dropbox.api":         "http://127.0.0.1:3000/_sandbox/dropbox",
		"box.account":         "http://127.0.0.1:3000/_sandbox/box",
		"box.api":             "http://127.0.0.1:3000/_sandbox/box",
		"sharepoint.login":    "http://127.0.0.1:3000/_sandbox/sharepoint",
		"sharepoint.graph":    "http://127.0.0.1:3000/_sandbox/sharepoint",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	for _, v := range vendors.Registry {
		if _, ok := dialects[v.ID]; !ok {
			t.Errorf("the sandbox does not speak registry vendor %s: add its dialect", v.ID)
		}
		for name := range v.Bases {
			if got[v.ID+"."+name] == "" {
				t.Errorf("no override for %s.%s", v.ID, name)
			}
		}
	}
	if env := BaseURLsEnv("http://h"); !strings.Contains(env, "confluence.api=http://h/_sandbox/confluence,confluence.auth=") {
		t.Errorf("BaseURLsEnv = %q", env)
	}
}
