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

	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/vendors"
)

// dropboxApp is the deployment's Dropbox app as the registry builds it:
// HTTP Basic, the registry's scopes.
func (e *env) dropboxApp() *oauth2.Config {
	v, _ := vendors.Lookup("dropbox")
	base := e.url("/_sandbox/dropbox")
	return &oauth2.Config{
		ClientID: "dropbox-app", ClientSecret: "dropbox-secret", RedirectURL: callback, Scopes: v.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth2/authorize", TokenURL: base + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
}

var offline = knob("token_access_type", "offline")

// rpc posts to a Dropbox RPC endpoint with a Bearer token, a content type
// and a body ("" for none), and returns the status and the raw answer.
func (e *env) rpc(route, bearer, contentType, body string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url("/_sandbox/dropbox/2/"+route), strings.NewReader(body))
	if body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type dbxAccount struct {
	AccountID string `json:"account_id"`
	Name      struct {
		DisplayName string `json:"display_name"`
	} `json:"name"`
	Email string `json:"email"`
	Team  *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"team"`
	TeamMemberID string `json:"team_member_id"`
}

func (e *env) dropboxAccount(access string) dbxAccount {
	e.t.Helper()
	st, body := e.rpc("users/get_current_account", access, "", "")
	var a dbxAccount
	if st != http.StatusOK || json.Unmarshal([]byte(body), &a) != nil {
		e.t.Fatalf("get_current_account: %d %s", st, body)
	}
	return a
}

// The token answers are Dropbox's: the exchange names the account and
// carries the refresh token; a refresh carries neither, and the refresh
// token, never rotated, works for as long as the grant stands.
func TestDropboxTokens(t *testing.T) {
	e := newEnv(t, Config{})
	app := e.dropboxApp()
	code := e.code(app.AuthCodeURL("st", offline, knob("sandbox_user", "ada")))
	// The client may authenticate in the body too.
	var x map[string]any
	st := e.postForm("/_sandbox/dropbox/oauth2/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback},
		"client_id": {"dropbox-app"}, "client_secret": {"dropbox-secret"},
	}, &x)
	if st != http.StatusOK || x["token_type"] != "bearer" || x["expires_in"] != 14400.0 || x["refresh_token"] == "" ||
		x["scope"] != "account_info.read files.metadata.read files.content.read" ||
		x["account_id"] != DropboxAccountID("ada") || x["uid"] != DropboxUID("ada") {
		t.Fatalf("exchange: %d %v", st, x)
	}
	refresh := x["refresh_token"].(string)
	for _, after := range []time.Duration{5 * time.Hour, 400 * day24, 3000 * day24} {
		e.clock.Advance(after)
		var r map[string]any
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {"dropbox-app"}, "client_secret": {"dropbox-secret"}}
		if st := e.postForm("/_sandbox/dropbox/oauth2/token", form, &r); st != http.StatusOK || r["access_token"] == "" ||
			r["token_type"] != "bearer" || r["expires_in"] != 14400.0 || r["scope"] == "" {
			t.Fatalf("refresh after %v: %d %v", after, st, r)
		}
		for _, k := range []string{"refresh_token", "account_id", "uid"} {
			if _, ok := r[k]; ok {
				t.Fatalf("a refresh answers no %s: %v", k, r)
			}
		}
		// x/oauth2 keeps the refresh token it had.
		if tok := e.mustRefresh(app, refresh); tok.RefreshToken != refresh || tok.ExpiresIn != 14400 {
			t.Fatalf("x/oauth2 refresh: %+v", tok)
		}
	}
	if _, err := e.refresh(app, "no-such-token"); err == nil {
		t.Fatal("an unknown refresh token was taken")
	} else if re := retrieveError(t, err, http.StatusBadRequest, "invalid_grant"); re.ErrorDescription != "refresh token is invalid or revoked" {
		t.Fatalf("description %q", re.ErrorDescription)
	}
}

// A refresh token only for token_access_type=offline.
func TestDropboxOfflineOnly(t *testing.T) {
	e := newEnv(t, Config{})
	app := e.dropboxApp()
	for _, opts := range [][]oauth2.AuthCodeOption{nil, {knob("token_access_type", "online")}, {knob("token_access_type", "legacy")}} {
		if tok := e.connect(app, opts...); tok.AccessToken == "" || tok.RefreshToken != "" {
			t.Fatalf("%d options: %+v", len(opts), tok)
		}
	}
	if tok := e.connect(app, offline); tok.RefreshToken == "" {
		t.Fatal("offline: no refresh token")
	}
	if status, _, _ := e.openAuthorize(app.AuthCodeURL("st", offline, knob("sandbox_site", "acme,beta"))); status != http.StatusBadRequest {
		t.Fatalf("two teams: %d", status)
	}
}

func TestDropboxCurrentAccount(t *testing.T) {
	e := newEnv(t, Config{})
	app := e.dropboxApp()
	personal := e.connect(app, offline, knob("sandbox_user", "pat"))
	a := e.dropboxAccount(personal.AccessToken)
	if a.AccountID != DropboxAccountID("pat") || a.Name.DisplayName != "Pat User" || a.Email != "pat@example.com" || a.Team != nil || a.TeamMemberID != "" {
		t.Fatalf("personal account %+v", a)
	}
	member := e.connect(app, offline, knob("sandbox_user", "pat"), knob("sandbox_site", "acme"))
	a = e.dropboxAccount(member.AccessToken)
	if a.AccountID != DropboxAccountID("pat") || a.Team == nil || a.Team.ID != DropboxTeamID("acme") || a.Team.Name != "acme" || a.TeamMemberID == "" {
		t.Fatalf("team member %+v", a)
	}
	if DropboxTeamID("acme") == DropboxTeamID("beta") {
		t.Fatal("two teams, one id")
	}

	// An RPC without arguments: no body, or the JSON null.
	if st, body := e.rpc("users/get_current_account", member.AccessToken, "application/json", "null"); st != http.StatusOK {
		t.Fatalf("null body: %d %s", st, body)
	}
	for name, c := range map[string][2]string{
		"empty JSON body": {"application/json", ""},
		"an object":       {"application/json", "{}"},
		"null, as text":   {"text/plain", "null"},
	} {
		if st, body := e.rpc("users/get_current_account", member.AccessToken, c[0], c[1]); st != http.StatusBadRequest ||
			!strings.HasPrefix(body, `Error in call to API function "users/get_current_account": `) {
			t.Errorf("%s: %d %s", name, st, body)
		}
	}
	if st := e.get("/_sandbox/dropbox/2/users/get_current_account", member.AccessToken, nil); st != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", st)
	}

	authError := func(what, bearer, tag string) {
		t.Helper()
		st, body := e.rpc("users/get_current_account", bearer, "", "")
		var out struct {
			Summary string            `json:"error_summary"`
			Error   map[string]string `json:"error"`
		}
		if st != http.StatusUnauthorized || json.Unmarshal([]byte(body), &out) != nil || out.Error[".tag"] != tag || !strings.HasPrefix(out.Summary, tag+"/") {
			t.Fatalf("%s: %d %s, want 401 %s", what, st, body, tag)
		}
	}
	narrow := e.connect(app, offline, knob("sandbox_scope", "files.metadata.read"))
	authError("without account_info.read", narrow.AccessToken, "missing_scope")
	authError("no token", "", "invalid_access_token")
	authError("unknown token", "nope", "invalid_access_token")
	e.clock.Advance(4 * time.Hour)
	authError("after four hours", member.AccessToken, "expired_access_token")
}

// /2/auth/token/revoke takes a live access token and ends its whole grant:
// the refresh token and every access token of it.
func TestDropboxRevoke(t *testing.T) {
	e := newEnv(t, Config{})
	app := e.dropboxApp()
	tok := e.connect(app, offline)
	keep := e.connect(app, offline) // another grant of the same user

	e.clock.Advance(4 * time.Hour)
	if st, body := e.rpc("auth/token/revoke", tok.AccessToken, "", ""); st != http.StatusUnauthorized || !strings.Contains(body, "expired_access_token") {
		t.Fatalf("revoke with an expired token: %d %s", st, body)
	}
	fresh := e.mustRefresh(app, tok.RefreshToken) // the grant lives on
	other := e.mustRefresh(app, tok.RefreshToken) // a second live access token of it
	if st, body := e.rpc("auth/token/revoke", fresh.AccessToken, "", ""); st != http.StatusOK || strings.TrimSpace(body) != "null" {
		t.Fatalf("revoke: %d %s", st, body)
	}
	_, err := e.refresh(app, tok.RefreshToken)
	retrieveError(t, err, http.StatusBadRequest, "invalid_grant")
	if st, body := e.rpc("users/get_current_account", other.AccessToken, "", ""); st != http.StatusUnauthorized || !strings.Contains(body, "invalid_access_token") {
		t.Fatalf("another access token of the revoked grant: %d %s", st, body)
	}
	if st, _ := e.rpc("auth/token/revoke", fresh.AccessToken, "", ""); st != http.StatusUnauthorized {
		t.Fatalf("revoke again: %d", st)
	}
	e.mustRefresh(app, keep.RefreshToken)
}

// The service's own revocation (the registry's Bearer style) kills the
// grant at the sandbox even when the stored access token has expired: it
// refreshes first.
func TestDropboxProviderRevoke(t *testing.T) {
	e := newEnv(t, Config{})
	v, _ := vendors.Lookup("dropbox")
	overrides := map[string]string{"dropbox.www": e.url("/_sandbox/dropbox"), "dropbox.api": e.url("/_sandbox/dropbox")}
	c := provider.New(v, "", provider.Credentials{ClientID: "dropbox-app", ClientSecret: "dropbox-secret"}, callback, overrides, e.srv.Client())
	connect := func() *oauth2.Token {
		t.Helper()
		verifier := oauth2.GenerateVerifier()
		tok, err := c.Exchange(t.Context(), e.code(c.AuthCodeURL("st", verifier)), verifier)
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("the registry's authorization: %+v, %v", tok, err)
		}
		return tok
	}
	for _, age := range []time.Duration{0, 5 * time.Hour} {
		tok := connect()
		e.clock.Advance(age)
		before := e.server.Stats("dropbox").RefreshToken
		if err := c.Revoke(t.Context(), tok); err != nil {
			t.Fatalf("revoke after %v: %v", age, err)
		}
		if _, live := e.server.RefreshTokenUser(tok.RefreshToken); live {
			t.Fatalf("the grant survived its revocation after %v", age)
		}
		if refreshed := e.server.Stats("dropbox").RefreshToken - before; refreshed != map[bool]int64{false: 0, true: 1}[age > 0] {
			t.Fatalf("after %v: %d refreshes to revoke", age, refreshed)
		}
	}
	// A grant revoked already (at Dropbox, and its access token expired
	// since): the refresh is refused, nothing is left to revoke, no error.
	tok := connect()
	if st := e.post("/_sandbox/dropbox/revoke?user=admin"); st != http.StatusNoContent {
		t.Fatalf("revoke knob: %d", st)
	}
	e.clock.Advance(5 * time.Hour)
	before := e.server.Stats("dropbox").RefreshToken
	if err := c.Revoke(t.Context(), tok); err != nil {
		t.Fatalf("revoke of a dead grant: %v", err)
	}
	if n := e.server.Stats("dropbox").RefreshToken - before; n != 1 {
		t.Fatalf("%d refreshes, want the one refused", n)
	}
}

// The generic knobs: an outage answers the token, identity and revocation
// endpoints; the revoke knob kills the user's grants with Dropbox's
// refusal.
func TestDropboxKnobs(t *testing.T) {
	e := newEnv(t, Config{})
	app := e.dropboxApp()
	tok := e.connect(app, offline)
	if st := e.post("/_sandbox/dropbox/outage?status=503"); st != http.StatusNoContent {
		t.Fatalf("outage: %d", st)
	}
	for _, route := range []string{"users/get_current_account", "auth/token/revoke"} {
		if st, _ := e.rpc(route, tok.AccessToken, "", ""); st != http.StatusServiceUnavailable {
			t.Errorf("%s in an outage: %d", route, st)
		}
	}
	_, err := e.refresh(app, tok.RefreshToken)
	retrieveError(t, err, http.StatusServiceUnavailable, "temporarily_unavailable")
	e.post("/_sandbox/dropbox/outage?status=0")
	e.mustRefresh(app, tok.RefreshToken)

	if st := e.post("/_sandbox/dropbox/revoke?user=admin"); st != http.StatusNoContent {
		t.Fatalf("revoke knob: %d", st)
	}
	_, err = e.refresh(app, tok.RefreshToken)
	if re := retrieveError(t, err, http.StatusBadRequest, "invalid_grant"); re.ErrorDescription != "refresh token is invalid or revoked" {
		t.Fatalf("description %q", re.ErrorDescription)
	}
}
