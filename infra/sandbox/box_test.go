package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/vendors"
)

// box is the deployment's Box app, as the service builds it: the secret in
// the body.
func (e *env) box(style oauth2.AuthStyle) *oauth2.Config {
	base := e.url("/_sandbox/box")
	return &oauth2.Config{
		ClientID:     "box-app",
		ClientSecret: "box-secret",
		Endpoint: oauth2.Endpoint{
			AuthURL:   base + "/api/oauth2/authorize",
			TokenURL:  base + "/oauth2/token",
			AuthStyle: style,
		},
		RedirectURL: callback,
		Scopes:      []string{"root_readonly"},
	}
}

// boxRaw posts a form to Box's token endpoint and returns the status and
// the answer's JSON object.
func (e *env) boxRaw(form url.Values) (int, map[string]any) {
	e.t.Helper()
	resp, err := e.srv.Client().PostForm(e.url("/_sandbox/box/oauth2/token"), form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		e.t.Fatalf("token answer %d is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// Box's token answers: a refresh token with every code, no scope field,
// token_type bearer, 60-minute access tokens; every refresh retires the
// token it used at once (single use, no leeway), and the spent one is Box's
// dead-grant answer, which the registry reads as a dead grant.
func TestBoxFlowAndSingleUse(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.box(oauth2.AuthStyleInParams)
	verifier := oauth2.GenerateVerifier()
	code := e.code(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	status, tok := e.boxRaw(url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback},
		"client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret}, "code_verifier": {verifier},
	})
	if status != http.StatusOK || tok["token_type"] != "bearer" || tok["expires_in"] != float64(3600) ||
		tok["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" || tok["refresh_token"] == "" {
		t.Fatalf("exchange: %d %v", status, tok)
	}
	if _, has := tok["scope"]; has {
		t.Fatalf("Box's token answer has no scope: %v", tok)
	}
	first := tok["refresh_token"].(string)
	second := e.mustRefresh(cfg, first)
	if second.RefreshToken == first || second.Type() != "Bearer" {
		t.Fatalf("a refresh must rotate: %+v", second)
	}
	// At once, not after a leeway: the used token is spent.
	_, err := e.refresh(cfg, first)
	re := retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
	if re.ErrorDescription != "Refresh token has expired" {
		t.Fatalf("error_description %q", re.ErrorDescription)
	}
	bx, _ := vendors.Lookup("box")
	if !bx.IsRefusal(re.Response.StatusCode, re.ErrorCode) {
		t.Fatal("the registry does not read Box's answer as a dead grant")
	}
	// A spent token ends nothing else: the grant's current one works.
	e.mustRefresh(cfg, second.RefreshToken)
}

// Box's refresh token dies after 60 days unused; a refresh is a use.
func TestBoxInactivity(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.box(oauth2.AuthStyleInParams)
	tok := e.connect(cfg)
	e.clock.Advance(59 * day24)
	tok = e.mustRefresh(cfg, tok.RefreshToken)
	e.clock.Advance(59 * day24)
	tok = e.mustRefresh(cfg, tok.RefreshToken)
	e.clock.Advance(60 * day24)
	_, err := e.refresh(cfg, tok.RefreshToken)
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
}

// Box's client authentication is the form body; a client that sends HTTP
// Basic is refused as invalid_client, and the token it presented still
// works for the right client.
func TestBoxClientAuthentication(t *testing.T) {
	e := newEnv(t, Config{})
	body := e.box(oauth2.AuthStyleInParams)
	tok := e.connect(body)
	_, err := e.refresh(e.box(oauth2.AuthStyleInHeader), tok.RefreshToken)
	retrieveError(t, err, http.StatusUnauthorized, "invalid_client")
	e.mustRefresh(body, tok.RefreshToken)
}

// Codes live 30 seconds; PKCE, when asked for, is verified.
func TestBoxCodeRules(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.box(oauth2.AuthStyleInParams)
	code := e.code(cfg.AuthCodeURL("st"))
	e.clock.Advance(31 * time.Second)
	_, err := cfg.Exchange(e.ctx(), code)
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")

	verifier := oauth2.GenerateVerifier()
	code = e.code(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	_, err = cfg.Exchange(e.ctx(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
}

// A grant is one user's in at most one enterprise: sandbox_site names one.
// Without a scope parameter the app's configured scopes are granted.
func TestBoxAuthorizeRules(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.box(oauth2.AuthStyleInParams)
	if status, _, body := e.openAuthorize(cfg.AuthCodeURL("st", knob("sandbox_site", "acme,beta"))); status != http.StatusBadRequest || !strings.Contains(body, "one Box site") {
		t.Fatalf("two enterprises: %d %s", status, body)
	}
	cfg.Scopes = nil
	tok := e.connect(cfg)
	if login, live := e.server.RefreshTokenUser(tok.RefreshToken); !live || login != "admin" {
		t.Fatalf("a grant without a scope parameter: %q %v", login, live)
	}
}

// GET /2.0/users/me: the token's user; the enterprise only when asked for
// in fields; 401 with WWW-Authenticate for a token the API does not take.
func TestBoxUsersMe(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.box(oauth2.AuthStyleInParams)
	tok := e.connect(cfg, knob("sandbox_user", "ada.lovelace"), knob("sandbox_site", "globex"))

	type me struct {
		ID, Type, Name, Login string
		Enterprise            *struct{ ID, Type, Name string }
	}
	var plain, full me
	if st := e.get("/_sandbox/box/2.0/users/me", tok.AccessToken, &plain); st != http.StatusOK {
		t.Fatalf("users/me: %d", st)
	}
	if plain.ID != BoxUserID("ada.lovelace") || plain.Type != "user" || plain.Name != "Ada Lovelace User" ||
		plain.Login != "ada.lovelace@globex.example.com" || plain.Enterprise != nil {
		t.Fatalf("users/me = %+v", plain)
	}
	if st := e.get("/_sandbox/box/2.0/users/me?fields=id,name,login,enterprise", tok.AccessToken, &full); st != http.StatusOK {
		t.Fatalf("users/me with fields: %d", st)
	}
	if full.ID != plain.ID || full.Enterprise == nil || full.Enterprise.ID != BoxEnterpriseID("globex") ||
		full.Enterprise.Type != "enterprise" || full.Enterprise.Name != "globex" || len(full.Enterprise.ID) != 11 {
		t.Fatalf("users/me with fields = %+v", full)
	}
	req, _ := http.NewRequest(http.MethodGet, e.url("/_sandbox/box/2.0/users/me"), nil)
	req.Header.Set("Authorization", "Bearer nope")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) || len(b) != 0 {
		t.Fatalf("a bad token: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), b)
	}
}

// POST /oauth2/revoke: the client's id and secret and a token in the body;
// a bad client is invalid_client and revokes nothing; a good one ends the
// whole grant (refresh and access tokens) with an empty 200.
func TestBoxRevoke(t *testing.T) {
	e := newEnv(t, Config{})
	cfg := e.box(oauth2.AuthStyleInParams)
	tok := e.connect(cfg)
	var bad oauthError
	if st := e.postForm("/_sandbox/box/oauth2/revoke", url.Values{"client_id": {cfg.ClientID}, "client_secret": {"nope"}, "token": {tok.RefreshToken}}, &bad); st != http.StatusBadRequest || bad.Error != "invalid_client" {
		t.Fatalf("bad client: %d %+v", st, bad)
	}
	tok = e.mustRefresh(cfg, tok.RefreshToken)
	var none map[string]any
	if st := e.postForm("/_sandbox/box/oauth2/revoke", url.Values{"client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret}, "token": {tok.RefreshToken}}, &none); st != http.StatusOK || none != nil {
		t.Fatalf("revoke: %d %v", st, none)
	}
	if _, err := e.refresh(cfg, tok.RefreshToken); err == nil {
		t.Fatal("the refresh token survived its revocation")
	}
	if st := e.get("/_sandbox/box/2.0/users/me", tok.AccessToken, nil); st != http.StatusUnauthorized {
		t.Fatalf("the access token survived its grant's revocation: %d", st)
	}
	// An unknown token is answered as a revoked one (RFC 7009).
	if st := e.postForm("/_sandbox/box/oauth2/revoke", url.Values{"client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret}, "token": {"unknown"}}, nil); st != http.StatusOK {
		t.Fatalf("unknown token: %d", st)
	}
}
