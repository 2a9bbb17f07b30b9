package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const callback = "http://127.0.0.1:3000/console/callback"

var atlassianScopes = []string{"read:confluence-content.all", "search:confluence", "read:me", "offline_access"}

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t      *testing.T
	srv    *httptest.Server
	server *Server
	clock  *testClock
}

// newEnv serves a sandbox (mounted as the local server mounts it) on a
// test clock.
func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	clock := &testClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	cfg.Clock = clock.Now
	server := New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/_sandbox/", server)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, server: server, clock: clock}
}

func (e *env) url(path string) string { return e.srv.URL + path }

func (e *env) ctx() context.Context {
	return context.WithValue(e.t.Context(), oauth2.HTTPClient, e.srv.Client())
}

// serviceNow is the OAuth client of one ServiceNow instance, as the service
// builds it: secret in the body.
func (e *env) serviceNow(instance, clientID, secret string) *oauth2.Config {
	base := e.url("/_sandbox/servicenow/" + instance)
	return &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: secret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   base + "/oauth_auth.do",
			TokenURL:  base + "/oauth_token.do",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		RedirectURL: callback,
		Scopes:      []string{"useraccount"},
	}
}

// atlassian is the deployment's Atlassian app.
func (e *env) atlassian(style oauth2.AuthStyle, scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = atlassianScopes
	}
	base := e.url("/_sandbox/confluence")
	return &oauth2.Config{
		ClientID:     "atlassian-app",
		ClientSecret: "atlassian-secret",
		Endpoint: oauth2.Endpoint{
			AuthURL:   base + "/authorize",
			TokenURL:  base + "/oauth/token",
			AuthStyle: style,
		},
		RedirectURL: callback,
		Scopes:      scopes,
	}
}

var atlassianParams = []oauth2.AuthCodeOption{
	oauth2.SetAuthURLParam("audience", "api.atlassian.com"),
	oauth2.SetAuthURLParam("prompt", "consent"),
}

func knob(name, value string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam(name, value) }

func atlassianOpts(extra ...oauth2.AuthCodeOption) []oauth2.AuthCodeOption {
	return slices.Concat(atlassianParams, extra)
}

// authorize opens an authorization URL like a browser that stops at the
// redirect, and returns where it would go.
func (e *env) authorize(authURL string) *url.URL {
	e.t.Helper()
	status, loc, body := e.openAuthorize(authURL)
	if status != http.StatusFound {
		e.t.Fatalf("authorize: status %d, body %s", status, body)
	}
	u, err := url.Parse(loc)
	if err != nil {
		e.t.Fatalf("authorize: bad Location %q", loc)
	}
	return u
}

func (e *env) openAuthorize(authURL string) (status int, location, body string) {
	e.t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Get(authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// code authorizes and returns the code, checking the state came back.
func (e *env) code(authURL string) string {
	e.t.Helper()
	u := e.authorize(authURL)
	q := u.Query()
	if q.Get("code") == "" || q.Get("error") != "" {
		e.t.Fatalf("authorize: no code in %s", u.Redacted())
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != callback {
		e.t.Fatalf("redirected to %s, want %s", got, callback)
	}
	return q.Get("code")
}

// connect runs the whole authorization code flow with x/oauth2.
func (e *env) connect(cfg *oauth2.Config, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	e.t.Helper()
	code := e.code(cfg.AuthCodeURL("state-1", opts...))
	tok, err := cfg.Exchange(e.ctx(), code)
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok
}

// refresh refreshes with x/oauth2, as the service does.
func (e *env) refresh(cfg *oauth2.Config, refreshToken string) (*oauth2.Token, error) {
	return cfg.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: refreshToken}).Token()
}

func (e *env) mustRefresh(cfg *oauth2.Config, refreshToken string) *oauth2.Token {
	e.t.Helper()
	tok, err := e.refresh(cfg, refreshToken)
	if err != nil {
		e.t.Fatalf("refresh: %v", err)
	}
	return tok
}

// retrieveError asserts err is the token endpoint's refusal with that status
// and code.
func retrieveError(t *testing.T, err error, status int, code string) *oauth2.RetrieveError {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("want a RetrieveError %d %s, got %v", status, code, err)
	}
	if re.Response.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("want %d %s, got %d %s (%s)", status, code, re.Response.StatusCode, re.ErrorCode, re.ErrorDescription)
	}
	return re
}

// do sends a request and decodes a JSON answer into out (if not nil).
func (e *env) do(req *http.Request, out any) (int, http.Header) {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: status %d, not JSON: %s", req.Method, req.URL.Path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, resp.Header
}

func (e *env) postForm(path string, form url.Values, out any) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, _ := e.do(req, out)
	return status
}

func (e *env) postJSON(path string, body map[string]string, out any) int {
	e.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, e.url(path), strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	status, _ := e.do(req, out)
	return status
}

func (e *env) post(path string) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url(path), nil)
	status, _ := e.do(req, nil)
	return status
}

func (e *env) get(path, bearer string, out any) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url(path), nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	status, _ := e.do(req, out)
	return status
}

const sysUserPath = "/api/now/table/sys_user?sysparm_query=user_name%3Djavascript:gs.getUserName()&sysparm_fields=sys_id,user_name,name,email&sysparm_limit=1"

type snUsers struct {
	Result []struct {
		SysID    string `json:"sys_id"`
		UserName string `json:"user_name"`
		Name     string `json:"name"`
		Email    string `json:"email"`
	} `json:"result"`
	Error *struct {
		Message string `json:"message"`
		Detail  string `json:"detail"`
	} `json:"error"`
	Status string `json:"status"`
}

type atMe struct {
	AccountID     string  `json:"account_id"`
	Email         string  `json:"email"`
	Name          string  `json:"name"`
	Picture       *string `json:"picture"`
	AccountStatus string  `json:"account_status"`
}

type atResource struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	AvatarURL *string  `json:"avatarUrl"`
}

type tokenJSON struct {
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	Scope            string `json:"scope"`
	TokenType        string `json:"token_type"`
	ExpiresIn        *int   `json:"expires_in"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

const day24 = 24 * time.Hour
