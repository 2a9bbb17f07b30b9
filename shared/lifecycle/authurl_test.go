package lifecycle_test

import (
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/lifecycle"
)

// TestStartAuthorizationPrechecks walks the documented pre-checks in order:
// each case also breaks every later rule, so an answer from a later check
// would show the order is wrong.
func TestStartAuthorizationPrechecks(t *testing.T) {
	type setup func(e *env)
	none := func(*env) {}
	configured := func(e *env) { e.saveServiceNow(manager) }
	appConnected := func(e *env) { e.connectApp("servicenow", nil) }
	userConnected := func(e *env) {
		e.connectApp("servicenow", nil)
		e.connectUser(bob, "servicenow", "bob")
	}
	tests := []struct {
		name   string
		setup  setup
		who    lifecycle.Caller
		req    lifecycle.AuthURLRequest
		opts   []envOption
		status int
		code   string
	}{
		{"unknown vendor", none, bob, lifecycle.AuthURLRequest{Vendor: "nosuchvendor", Flow: "bogus", Action: "bogus"},
			nil, http.StatusNotFound, "unknown_vendor"},
		{"missing flow", none, bob, lifecycle.AuthURLRequest{Vendor: "servicenow", Action: "bogus"},
			nil, http.StatusBadRequest, "invalid_flow"},
		{"bad flow", none, bob, lifecycle.AuthURLRequest{Vendor: "servicenow", Flow: "App", Action: "bogus"},
			nil, http.StatusBadRequest, "invalid_flow"},
		{"bad action", none, bob, lifecycle.AuthURLRequest{Vendor: "servicenow", Flow: "app", Action: "delete"},
			nil, http.StatusBadRequest, "invalid_action"},
		{"app flow by a plain user", none, bob, lifecycle.AuthURLRequest{Vendor: "servicenow", Flow: "app", Action: "reconnect"},
			nil, http.StatusForbidden, "forbidden"},
		{"app flow, no settings", none, manager, lifecycle.AuthURLRequest{Vendor: "servicenow", Flow: "app", Action: "reconnect"},
			nil, http.StatusConflict, "not_configured"},
		{"user flow, no settings", none, bob, lifecycle.AuthURLRequest{Vendor: "servicenow", Flow: "user", Action: "reconnect"},
			nil, http.StatusConflict, "not_configured"},
		{"user flow, no app connection", configured, bob, lifecycle.AuthURLRequest{Vendor: "servicenow", Flow: "user", Action: "reconnect"},
			nil, http.StatusConflict, "app_not_connected"},
		{"user flow, no app connection, confluence", none, bob, lifecycle.AuthURLRequest{Vendor: "confluence", Flow: "user"},
			nil, http.StatusConflict, "app_not_connected"},
		{"app connect, already connected", appConnected, manager, lifecycle.AuthURLRequest{Vendor: "servicenow", Flow: "app"},
			nil, http.StatusConflict, "already_connected"},
		{"user connect, already connected", userConnected, bob, lifecycle.AuthURLRequest{Vendor: "servicenow", Flow: "user"},
			nil, http.StatusConflict, "already_connected"},
		{"app reconnect, not connected", configured, manager, lifecycle.AuthURLRequest{Vendor: "servicenow", Flow: "app", Action: "reconnect"},
			nil, http.StatusConflict, "not_connected"},
		{"app changeUser, not connected", configured, manager, lifecycle.AuthURLRequest{Vendor: "servicenow", Flow: "app", Action: "changeUser"},
			nil, http.StatusConflict, "not_connected"},
		{"user reconnect, not connected", appConnected, bob, lifecycle.AuthURLRequest{Vendor: "servicenow", Flow: "user", Action: "reconnect"},
			nil, http.StatusConflict, "not_connected"},
		{"user changeUser, not connected", appConnected, carol, lifecycle.AuthURLRequest{Vendor: "servicenow", Flow: "user", Action: "changeUser"},
			nil, http.StatusConflict, "not_connected"},
		{"confluence without deployment credentials", none, manager, lifecycle.AuthURLRequest{Vendor: "confluence", Flow: "app"},
			[]envOption{withoutDeploymentSecret}, http.StatusConflict, "not_configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts...)
			tt.setup(e)
			out, err := e.svc.StartAuthorization(t.Context(), tt.who, tt.req)
			wantProblem(t, err, tt.status, tt.code)
			if out.URL != "" {
				t.Fatalf("a refused start returned a URL")
			}
		})
	}
}

// authParams starts an authorization and returns its URL's parts.
func (e *env) authParams(who lifecycle.Caller, vendorID, flow, action string) (*url.URL, url.Values, lifecycle.AuthURL) {
	e.t.Helper()
	out, err := e.svc.StartAuthorization(e.t.Context(), who, lifecycle.AuthURLRequest{Vendor: vendorID, Flow: flow, Action: action})
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := url.Parse(out.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	return u, u.Query(), out
}

// checkState asserts the state carries at least 128 random bits.
func checkState(t *testing.T, state string) {
	t.Helper()
	b, err := hex.DecodeString(state)
	if err != nil || len(b) < 16 {
		t.Fatalf("state %q is not at least 128 bits of hex", state)
	}
}

func TestStartAuthorizationServiceNowURL(t *testing.T) {
	e := newEnv(t)
	e.saveServiceNow(manager)
	u, q, out := e.authParams(manager, "servicenow", "app", "")

	if want := e.sandbox.Server.URL + "/_sandbox/servicenow/acme/oauth_auth.do"; u.Scheme+"://"+u.Host+u.Path != want {
		t.Fatalf("authorization endpoint %s, want %s", u.Scheme+"://"+u.Host+u.Path, want)
	}
	checks := map[string]string{
		"response_type":         "code",
		"client_id":             snClientID,
		"redirect_uri":          sandboxtest.RedirectURL,
		"code_challenge_method": "S256",
		"scope":                 "useraccount",
	}
	for k, want := range checks {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if c := q.Get("code_challenge"); len(c) != 43 || strings.ContainsAny(c, "+/=") {
		t.Errorf("code_challenge %q is not a base64url SHA-256", c)
	}
	if q.Has("code_verifier") || q.Has("client_secret") || strings.Contains(out.URL, e.snSecret) {
		t.Error("the URL carries a secret")
	}
	checkState(t, q.Get("state"))
	if want := start.Add(10 * time.Minute); !out.ExpiresAt.Equal(want) {
		t.Errorf("expiresAt = %s, want %s", out.ExpiresAt, want)
	}

	_, q2, _ := e.authParams(manager, "servicenow", "app", "")
	if q2.Get("state") == q.Get("state") || q2.Get("code_challenge") == q.Get("code_challenge") {
		t.Error("two authorizations share a state or a PKCE challenge")
	}
}

func TestStartAuthorizationConfluenceURL(t *testing.T) {
	e := newEnv(t)
	u, q, out := e.authParams(manager, "confluence", "app", "")

	if want := e.sandbox.Server.URL + "/_sandbox/confluence/authorize"; u.Scheme+"://"+u.Host+u.Path != want {
		t.Fatalf("authorization endpoint %s, want %s", u.Scheme+"://"+u.Host+u.Path, want)
	}
	checks := map[string]string{
		"response_type": "code",
		"client_id":     e.confluenceID,
		"redirect_uri":  sandboxtest.RedirectURL,
		"audience":      "api.atlassian.com",
		"prompt":        "consent",
		// PKCE S256 for Atlassian too (RFC 9700 section 2.1.1).
		"code_challenge_method": "S256",
	}
	for k, want := range checks {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if c := q.Get("code_challenge"); len(c) != 43 || strings.ContainsAny(c, "+/=") {
		t.Errorf("code_challenge %q is not a base64url SHA-256", c)
	}
	scopes := strings.Fields(q.Get("scope"))
	for _, want := range []string{"offline_access", "read:me"} {
		if !slices.Contains(scopes, want) {
			t.Errorf("scope %q lacks %s", q.Get("scope"), want)
		}
	}
	if q.Has("client_secret") || strings.Contains(out.URL, e.confluenceSecret) {
		t.Error("the URL carries the client secret")
	}
	checkState(t, q.Get("state"))
	if want := start.Add(10 * time.Minute); !out.ExpiresAt.Equal(want) {
		t.Errorf("expiresAt = %s, want %s", out.ExpiresAt, want)
	}
}
