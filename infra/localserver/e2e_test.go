package localserver_test

// End-to-end tests of the local server: the whole server runs in-process
// behind httptest, and every step goes over HTTP exactly as a newcomer with
// curl would do it (identity headers, the authorization URL followed to the
// sandbox without following its redirect, the callback posted by hand, the
// /_local tools). Only the leak checks reach into the returned Deps, to learn
// the tokens that must never be shown.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/infra/localserver"
	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/expiry"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/integrations"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/notices"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vendors"
)

// ---- harness ----

const day = 24 * time.Hour

// t0 is when every test's story starts (the service's clock).
var t0 = time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)

// defaultLog catches what goes to slog's default logger, so the leak checks
// see it too.
var defaultLog = &sandboxtest.SyncBuffer{}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(defaultLog, &slog.HandlerOptions{Level: slog.LevelDebug})))
	// Stops the moto server TestLocalServerOnAWSAPIs starts, after
	// checking that the OpenAPI validation saw every route.
	awstest.Main(contractMain{m})
}

// who is a caller, sent as the local server's identity headers.
type who struct {
	account, user, email, name, role string
}

var (
	ada = who{"a1", "u1", "ada@acme.example", "Ada Admin", "appManager"}   // app manager
	bob = who{"a1", "u2", "bob@acme.example", "Bob Builder", "member"}     // plain user
	cat = who{"a1", "u3", "cat@acme.example", "Cat Manager", "appManager"} // second app manager
	eve = who{"a2", "u9", "eve@other.example", "Eve Other", "appManager"}  // another account
)

// reply is one HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// env is one local server and what the test learnt on the way.
type env struct {
	t      *testing.T
	base   string
	deps   *handlers.Deps
	clock  *sandboxtest.Clock // the service's clock, moved by the tests
	log    *sandboxtest.SyncBuffer
	client *http.Client
	api    *recorder // the OpenAPI validation of every exchange with the server

	mu      sync.Mutex
	bodies  []string          // every answer of the API and the tools, labelled
	secrets map[string]string // secret value → what it is
}

// newEnv starts the whole local server in-process. vars are its
// environment (a map: nothing is read from the process environment).
func newEnv(t *testing.T, vars map[string]string) *env {
	t.Helper()
	e := &env{t: t, clock: sandboxtest.NewClock(t0), log: &sandboxtest.SyncBuffer{}, secrets: map[string]string{}}
	all := map[string]string{"LOG_LEVEL": "DEBUG"}
	for k, v := range vars {
		all[k] = v
	}
	// Local needs the base URL before the server runs: take the listener
	// first, then build, then start serving.
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	logger := slog.New(slog.NewJSONHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, deps, err := localserver.Local(context.Background(), localserver.Options{
		Getenv:  func(k string) string { return all[k] },
		BaseURL: base,
		Now:     e.clock.Now,
		Log:     logger,
	})
	if err != nil {
		srv.Listener.Close()
		t.Fatalf("Local: %v", err)
	}
	srv.Config.Handler, e.api = validated(t, s)
	srv.Start()
	t.Cleanup(srv.Close)
	if srv.URL != base {
		t.Fatalf("server URL %s, built for %s", srv.URL, base)
	}
	e.base, e.deps = srv.URL, deps
	// Never follow redirects: the sandbox's redirect to the callback page
	// is read, not followed, as a curl user would.
	e.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// The sandbox app's client secret must never show either.
	e.secret("sandbox-atlassian-secret", "the Atlassian app's client secret")
	return e
}

func (e *env) secret(v, what string) {
	if v == "" {
		e.t.Fatalf("empty secret (%s)", what)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets[v] = what
}

// call sends a request with the caller's identity headers (w nil: none).
func (e *env) call(method, path string, w *who, body string) reply {
	e.t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = e.base + path
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if w != nil {
		for h, v := range map[string]string{
			"X-Account-Id": w.account, "X-User-Id": w.user, "X-User-Email": w.email,
			"X-User-Name": w.name, "X-User-Role": w.role,
		} {
			if v != "" {
				req.Header.Set(h, v)
			}
		}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	e.api.flush(e.t)
	if !strings.HasPrefix(req.URL.Path, "/_sandbox/") {
		e.mu.Lock()
		e.bodies = append(e.bodies, fmt.Sprintf("%s %s → %d: %s", method, req.URL.Path, resp.StatusCode, b))
		e.mu.Unlock()
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func (e *env) get(path string, w *who) reply { return e.call(http.MethodGet, path, w, "") }

// want checks the status of an answer.
func (e *env) want(r reply, status int, what string) {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
}

// wantError checks a documented error answer: status, JSON, code.
func (e *env) wantError(r reply, status int, code, what string) {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("%s: Content-Type %q, want JSON; body %s", what, ct, r.body)
	}
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error == nil {
		e.t.Fatalf("%s: body is not {\"error\":{…}}: %s", what, r.body)
	}
	if body.Error.Code != code || body.Error.Message == "" {
		e.t.Fatalf("%s: error %q (%q), want code %q", what, body.Error.Code, body.Error.Message, code)
	}
}

func decode[T any](e *env, r reply) T {
	e.t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		e.t.Fatalf("decode %T from %s: %v", v, r.body, err)
	}
	return v
}

// list is GET /v1/account/integrations with a query.
func (e *env) list(w who, query string) []integrations.View {
	e.t.Helper()
	r := e.get("/v1/account/integrations"+query, &w)
	e.want(r, http.StatusOK, "list "+query)
	return decode[[]integrations.View](e, r)
}

func (e *env) listRaw(w who, query string) string {
	e.t.Helper()
	r := e.get("/v1/account/integrations"+query, &w)
	e.want(r, http.StatusOK, "list "+query)
	return string(r.body)
}

func find(e *env, views []integrations.View, vendor string) integrations.View {
	e.t.Helper()
	for _, v := range views {
		if v.Vendor == vendor {
			return v
		}
	}
	e.t.Fatalf("no %s in the list %+v", vendor, views)
	return integrations.View{}
}

const (
	snClientSecret = "sn-client-secret-7f3a9c2e41d8b6"
	snSettings     = `{"instanceUrl":"https://acme.service-now.com","clientId":"acme-client-1","clientSecret":"` + snClientSecret + `","refreshTokenLifespanDays":100}`
)

// saveServiceNowSettings is the app manager's PUT …/servicenow/settings.
func (e *env) saveServiceNowSettings(w who) {
	e.t.Helper()
	e.secret(snClientSecret, "the ServiceNow client secret")
	r := e.call(http.MethodPut, "/v1/account/integrations/servicenow/settings", &w, snSettings)
	e.want(r, http.StatusOK, "save ServiceNow settings")
	v := decode[lifecycle.SettingsView](e, r)
	if v.InstanceURL != "https://acme.service-now.com" || v.ClientID != "acme-client-1" || !v.ClientSecretSet || v.RefreshTokenLifespanDays != 100 {
		e.t.Fatalf("settings answer %s", r.body)
	}
}

// authURL asks for the vendor's authorization URL.
func (e *env) authURL(w who, vendor, flow, action string) string {
	e.t.Helper()
	q := url.Values{"flow": {flow}}
	if action != "" {
		q.Set("action", action)
	}
	r := e.get("/v1/account/integrations/"+vendor+"/oauth2/url?"+q.Encode(), &w)
	e.want(r, http.StatusOK, "authorization URL of "+vendor+" "+flow+" "+action)
	out := decode[lifecycle.AuthURL](e, r)
	if !strings.HasPrefix(out.URL, e.base+"/_sandbox/"+vendor+"/") {
		e.t.Fatalf("authorization URL %s does not go to the %s sandbox", out.URL, vendor)
	}
	// The server's clock: the test's, moved by POST /_local/clock if so.
	if now := e.deps.Now(); !out.ExpiresAt.Equal(now.Add(10 * time.Minute)) {
		e.t.Fatalf("authorization URL expires at %s, want 10 minutes after %s", out.ExpiresAt, now)
	}
	u, _ := url.Parse(out.URL)
	if st := u.Query().Get("state"); len(st) < 32 {
		e.t.Fatalf("state %q is too short to carry 128 bits", st)
	}
	return out.URL
}

// approve opens the authorization URL at the sandbox (with its knobs) and
// returns what the vendor sends the browser back with, without following
// the redirect.
func (e *env) approve(authURL string, knobs url.Values) url.Values {
	e.t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		e.t.Fatalf("authorization URL %q: %v", authURL, err)
	}
	q := u.Query()
	for k, vs := range knobs {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	r := e.call(http.MethodGet, u.String(), nil, "")
	e.want(r, http.StatusFound, "sandbox authorization")
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		e.t.Fatalf("sandbox Location %q: %v", r.header.Get("Location"), err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != e.base+"/console/callback" {
		e.t.Fatalf("sandbox sends the browser to %s, want the console callback page", got)
	}
	back := loc.Query()
	if back.Get("state") != q.Get("state") {
		e.t.Fatalf("sandbox returned state %q for %q", back.Get("state"), q.Get("state"))
	}
	if c := back.Get("code"); c != "" {
		e.secret(c, "an authorization code")
	}
	return back
}

// callback posts what the callback page received, as the page does.
func (e *env) callback(w who, vendor string, back url.Values) reply {
	e.t.Helper()
	body := map[string]string{"state": back.Get("state")}
	if c := back.Get("code"); c != "" {
		body["code"] = c
	}
	if er := back.Get("error"); er != "" {
		body["error"] = er
		body["error_description"] = back.Get("error_description")
	}
	b, _ := json.Marshal(body)
	return e.call(http.MethodPost, "/v1/account/integrations/"+vendor+"/oauth2/callback", &w, string(b))
}

// connect runs a whole authorization that must succeed.
func (e *env) connect(w who, vendor, flow, action string, knobs url.Values) lifecycle.CallbackResult {
	e.t.Helper()
	r := e.callback(w, vendor, e.approve(e.authURL(w, vendor, flow, action), knobs))
	e.want(r, http.StatusOK, fmt.Sprintf("callback of %s %s %s", vendor, flow, action))
	res := decode[lifecycle.CallbackResult](e, r)
	wantAction := connection.Action(action)
	if action == "" {
		wantAction = connection.ActionConnect
	}
	if res.Vendor != vendor || string(res.Flow) != flow || res.Action != wantAction || res.Status != connection.StatusConnected {
		e.t.Fatalf("callback answer %s", r.body)
	}
	if res.Connection.Vendor != vendor || !res.Connection.Integrated || res.Connection.RefreshTokenExpired {
		e.t.Fatalf("callback connection %s", r.body)
	}
	key := connection.AppKey(w.account, vendor)
	if flow == "user" {
		key = connection.UserKey(w.account, vendor, w.user)
	}
	e.harvest(key)
	return res
}

// stored reads a connection as the store holds it.
func (e *env) stored(k connection.Key) connection.Connection {
	e.t.Helper()
	c, err := e.deps.Store.GetConnection(context.Background(), k)
	if err != nil {
		e.t.Fatalf("stored connection %s: %v", k, err)
	}
	return c
}

// harvest learns the current tokens of a connection from the vault.
func (e *env) harvest(k connection.Key) {
	e.t.Helper()
	c := e.stored(k)
	toks, err := vault.GetTokens(context.Background(), e.deps.Vault, c.SecretName, c.SecretVersion)
	if err != nil {
		e.t.Fatalf("tokens of %s: %v", k, err)
	}
	if len(toks.AccessToken) < 20 || len(toks.RefreshToken) < 20 {
		e.t.Fatalf("tokens of %s look wrong (lengths %d, %d)", k, len(toks.AccessToken), len(toks.RefreshToken))
	}
	e.secret(toks.AccessToken, "an access token of "+k.String())
	e.secret(toks.RefreshToken, "a refresh token of "+k.String())
}

// scan runs POST /_local/expiry-scan at an explicit time. A scheduled scan
// of a day runs when the clock says that day, and the sandbox's tokens
// live on that clock: the clock moves to at first.
func (e *env) scan(at time.Time) expiry.Report {
	e.t.Helper()
	e.clock.Set(at)
	r := e.call(http.MethodPost, "/_local/expiry-scan", nil, `{"time":"`+at.Format(time.RFC3339)+`"}`)
	e.want(r, http.StatusOK, "expiry scan at "+at.Format(time.RFC3339))
	rep := decode[expiry.Report](e, r)
	if !rep.Complete || !rep.Now.Equal(at) || rep.Failed != 0 || rep.Busy != 0 {
		e.t.Fatalf("scan at %s: report %s", at.Format(time.RFC3339), r.body)
	}
	return rep
}

func (e *env) outbox() []mail.Message {
	e.t.Helper()
	r := e.get("/_local/outbox", nil)
	e.want(r, http.StatusOK, "outbox")
	return decode[[]mail.Message](e, r)
}

func (e *env) notifications(w who) []notices.Notification {
	e.t.Helper()
	r := e.get("/v1/me/notifications", &w)
	e.want(r, http.StatusOK, "notifications of "+w.user)
	return decode[[]notices.Notification](e, r)
}

// assertNoLeaks fails if a token, code or client secret ever appeared in
// an answer of the API or the tools, in an email, or in a log line.
func (e *env) assertNoLeaks() {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	logs := e.log.String()
	if !strings.Contains(logs, `"msg":"request"`) {
		e.t.Fatalf("the server's log was not captured: %q", logs)
	}
	places := map[string]string{"the server log": logs, "the default log": defaultLog.String()}
	for i, b := range e.bodies {
		places[fmt.Sprintf("answer #%d", i)] = b
	}
	var found []string
	for v, what := range e.secrets {
		for where, text := range places {
			if strings.Contains(text, v) {
				found = append(found, what+" in "+where)
			}
		}
	}
	sort.Strings(found)
	for _, f := range found {
		e.t.Errorf("leak: %s", f)
	}
	for _, b := range e.bodies {
		if strings.Contains(b, " → 5") && !strings.Contains(b, `"vendor_error"`) && !strings.Contains(b, `"vendor_unavailable"`) {
			e.t.Errorf("an answer was a 5xx: %s", b)
		}
	}
}

// ---- scenarios ----

// TestLocalFreshAccountList is the first curl of the README: a new account
// lists every vendor, not integrated.
func TestLocalFreshAccountList(t *testing.T) {
	e := newEnv(t, nil)
	// curl -H 'X-Account-Id: a1' -H 'X-User-Id: u1' -H 'X-User-Role: appManager' /v1/account/integrations
	r := e.get("/v1/account/integrations", &who{account: "a1", user: "u1", role: "appManager"})
	e.want(r, http.StatusOK, "list")
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	views := decode[[]integrations.View](e, r)
	if len(views) != len(vendors.Registry) {
		t.Fatalf("list %s: want every vendor of the registry", r.body)
	}
	for i, v := range views {
		reg := vendors.Registry[i]
		if v.Vendor != reg.ID || v.Name != reg.Name || v.Type != reg.Type {
			t.Fatalf("list %s: #%d is not %s, a %s, in registry order", r.body, i, reg.Name, reg.Type)
		}
		if v.Integrated || v.RefreshTokenExpired || v.Status != connection.StatusNotConnected || v.ConnectedUser != nil || v.ConnectionDetails != nil || v.UserConnection != nil {
			t.Fatalf("fresh %s: %+v", v.Vendor, v)
		}
	}
	if views[0].Vendor != "servicenow" || views[0].Type != "supportAndTicketing" || views[0].Name != "ServiceNow" {
		t.Fatalf("list %s", r.body)
	}
	for _, typ := range vendors.Types {
		var got []string
		for _, v := range e.list(ada, "?type="+string(typ)) {
			got = append(got, v.Vendor)
		}
		if want := vendors.IDs(vendors.OfType(typ)); !slices.Equal(got, want) {
			t.Fatalf("list ?type=%s: %v, want %v", typ, got, want)
		}
	}
	for _, v := range e.list(bob, "?includeUserLevelConnectionData=true") {
		if v.ConnectionDetails == nil || *v.ConnectionDetails != (integrations.Details{}) || v.UserConnection == nil || v.UserConnection.Connected {
			t.Fatalf("fresh %s with user-level data: %+v", v.Vendor, v)
		}
	}
	e.assertNoLeaks()
}

// TestLocalBadInput: every kind of bad request gets its documented 4xx as
// JSON, never a 500.
func TestLocalBadInput(t *testing.T) {
	e := newEnv(t, nil)
	noRole := &who{account: "a1", user: "u1"}
	onlyAccount := &who{account: "a1"}
	onlyUser := &who{user: "u1"}
	cases := []struct {
		name         string
		method, path string
		w            *who
		body         string
		status       int
		code         string
	}{
		{"bad type", "GET", "/v1/account/integrations?type=crm", &ada, "", 400, "invalid_type"},
		{"empty type", "GET", "/v1/account/integrations?type=", &ada, "", 400, "invalid_type"},
		{"bad boolean", "GET", "/v1/account/integrations?includeUserLevelConnectionData=yes", &ada, "", 400, "invalid_parameter"},
		{"boolean in capitals", "GET", "/v1/account/integrations?includeUserLevelConnectionData=TRUE", &ada, "", 400, "invalid_parameter"},
		{"repeated boolean", "GET", "/v1/account/integrations?includeUserLevelConnectionData=true&includeUserLevelConnectionData=false", &ada, "", 400, "invalid_parameter"},
		{"no identity", "GET", "/v1/account/integrations", nil, "", 401, "unauthorized"},
		{"no user", "GET", "/v1/account/integrations", onlyAccount, "", 401, "unauthorized"},
		{"no account", "GET", "/v1/me/notifications", onlyUser, "", 401, "unauthorized"},
		{"no identity on settings", "PUT", "/v1/account/integrations/servicenow/settings", nil, snSettings, 401, "unauthorized"},
		{"no identity on callback", "POST", "/v1/account/integrations/servicenow/oauth2/callback", nil, `{"state":"x","code":"y"}`, 401, "unauthorized"},
		{"no identity on disconnect", "DELETE", "/v1/account/integrations/servicenow?flow=app", nil, "", 401, "unauthorized"},
		{"unknown route", "GET", "/v1/nothing/here", &ada, "", 404, "not_found"},
		{"unknown sub-route", "GET", "/v1/account/integrations/servicenow/oauth2", &ada, "", 404, "not_found"},
		{"wrong method on list", "POST", "/v1/account/integrations", &ada, "{}", 405, "method_not_allowed"},
		{"wrong method on settings", "GET", "/v1/account/integrations/servicenow/settings", &ada, "", 405, "method_not_allowed"},
		{"wrong method on dismiss", "GET", "/v1/me/notifications/n1/dismiss", &ada, "", 405, "method_not_allowed"},
		{"unknown vendor", "GET", "/v1/account/integrations/nosuchvendor/oauth2/url?flow=app", &ada, "", 404, "unknown_vendor"},
		{"unknown vendor, odd characters", "GET", "/v1/account/integrations/serv%20ice%3Cnow%3E/oauth2/url?flow=app", &ada, "", 404, "unknown_vendor"},
		{"settings of an unknown vendor", "PUT", "/v1/account/integrations/nosuchvendor/settings", &ada, snSettings, 404, "unknown_vendor"},
		{"settings not JSON", "PUT", "/v1/account/integrations/servicenow/settings", &ada, "instanceUrl=x", 400, "invalid_body"},
		{"settings empty", "PUT", "/v1/account/integrations/servicenow/settings", &ada, "", 400, "invalid_body"},
		{"settings unknown field", "PUT", "/v1/account/integrations/servicenow/settings", &ada, `{"instanceUrl":"https://acme.service-now.com","clientId":"c","clientSecret":"s","color":"red"}`, 400, "invalid_body"},
		{"settings two objects", "PUT", "/v1/account/integrations/servicenow/settings", &ada, `{}{}`, 400, "invalid_body"},
		{"settings wrong types", "PUT", "/v1/account/integrations/servicenow/settings", &ada, `{"instanceUrl":5,"clientId":true}`, 400, "invalid_body"},
		{"settings not UTF-8", "PUT", "/v1/account/integrations/servicenow/settings", &ada, "\xff\xfe{}", 400, "invalid_body"},
		{"settings JSON array", "PUT", "/v1/account/integrations/servicenow/settings", &ada, `[1,2]`, 400, "invalid_body"},
		{"settings JSON null", "PUT", "/v1/account/integrations/servicenow/settings", &ada, `null`, 400, "invalid_body"},
		{"settings by a plain user", "PUT", "/v1/account/integrations/servicenow/settings", &bob, snSettings, 403, "forbidden"},
		{"settings without role", "PUT", "/v1/account/integrations/servicenow/settings", noRole, snSettings, 403, "forbidden"},
		{"foreign instance", "PUT", "/v1/account/integrations/servicenow/settings", &ada, `{"instanceUrl":"https://evil.example.com","clientId":"c","clientSecret":"s"}`, 400, "invalid_instance"},
		{"look-alike instance", "PUT", "/v1/account/integrations/servicenow/settings", &ada, `{"instanceUrl":"https://evil.com/.service-now.com","clientId":"c","clientSecret":"s"}`, 400, "invalid_instance"},
		{"plain http instance", "PUT", "/v1/account/integrations/servicenow/settings", &ada, `{"instanceUrl":"http://acme.service-now.com","clientId":"c","clientSecret":"s"}`, 400, "invalid_instance"},
		{"foreign Confluence site", "PUT", "/v1/account/integrations/confluence/settings", &ada, `{"siteUrl":"https://evil.example.com"}`, 400, "invalid_instance"},
		{"Confluence with client settings", "PUT", "/v1/account/integrations/confluence/settings", &ada, snSettings, 400, "invalid_body"},
		{"missing flow", "GET", "/v1/account/integrations/servicenow/oauth2/url", &ada, "", 400, "invalid_flow"},
		{"bad flow", "GET", "/v1/account/integrations/servicenow/oauth2/url?flow=team", &ada, "", 400, "invalid_flow"},
		{"bad action", "GET", "/v1/account/integrations/servicenow/oauth2/url?flow=app&action=delete", &ada, "", 400, "invalid_action"},
		{"app flow by a plain user", "GET", "/v1/account/integrations/confluence/oauth2/url?flow=app", &bob, "", 403, "forbidden"},
		{"no settings yet", "GET", "/v1/account/integrations/servicenow/oauth2/url?flow=app", &ada, "", 409, "not_configured"},
		{"user flow before the app", "GET", "/v1/account/integrations/confluence/oauth2/url?flow=user", &bob, "", 409, "app_not_connected"},
		{"reconnect of nothing", "GET", "/v1/account/integrations/confluence/oauth2/url?flow=app&action=reconnect", &ada, "", 409, "not_connected"},
		{"change user of nothing", "GET", "/v1/account/integrations/confluence/oauth2/url?flow=app&action=changeUser", &ada, "", 409, "not_connected"},
		{"callback made-up state", "POST", "/v1/account/integrations/servicenow/oauth2/callback", &ada, `{"state":"9b2f6c1e0d4a7b3c8e5f1a2d6c9b0e4f","code":"abc"}`, 400, "invalid_state"},
		{"callback huge state", "POST", "/v1/account/integrations/servicenow/oauth2/callback", &ada, `{"state":"` + strings.Repeat("a", 600) + `","code":"abc"}`, 400, "invalid_state"},
		{"callback without state", "POST", "/v1/account/integrations/servicenow/oauth2/callback", &ada, `{"code":"abc"}`, 400, "invalid_state"},
		{"callback without code or error", "POST", "/v1/account/integrations/servicenow/oauth2/callback", &ada, `{"state":"` + strings.Repeat("ab", 32) + `"}`, 400, "invalid_body"},
		{"callback truncated state, no code", "POST", "/v1/account/integrations/servicenow/oauth2/callback", &ada, `{"state":"abc"}`, 400, "invalid_state"},
		{"callback state not hex", "POST", "/v1/account/integrations/servicenow/oauth2/callback", &ada, `{"state":"` + strings.Repeat("AB", 32) + `","code":"abc"}`, 400, "invalid_state"},
		{"callback not JSON", "POST", "/v1/account/integrations/servicenow/oauth2/callback", &ada, `state=abc&code=def`, 400, "invalid_body"},
		{"callback empty", "POST", "/v1/account/integrations/servicenow/oauth2/callback", &ada, "", 400, "invalid_body"},
		{"callback of an unknown vendor", "POST", "/v1/account/integrations/nosuchvendor/oauth2/callback", &ada, `{"state":"abc","code":"def"}`, 404, "unknown_vendor"},
		{"disconnect without flow", "DELETE", "/v1/account/integrations/servicenow", &ada, "", 400, "invalid_flow"},
		{"disconnect bad cascade", "DELETE", "/v1/account/integrations/servicenow?flow=app&cascade=maybe", &ada, "", 400, "invalid_parameter"},
		{"disconnect app by a plain user", "DELETE", "/v1/account/integrations/servicenow?flow=app", &bob, "", 403, "forbidden"},
		{"disconnect nothing", "DELETE", "/v1/account/integrations/servicenow?flow=user", &bob, "", 404, "not_connected"},
		{"disconnect unknown vendor", "DELETE", "/v1/account/integrations/nosuchvendor?flow=user", &bob, "", 404, "unknown_vendor"},
		{"dismiss unknown", "POST", "/v1/me/notifications/nope/dismiss", &bob, "", 404, "not_found"},
		{"scan with a bad time", "POST", "/_local/expiry-scan", nil, `{"time":"2027-01-20"}`, 400, "invalid_time"},
		{"scan with a bad body", "POST", "/_local/expiry-scan", nil, `{"time":`, 400, "invalid_body"},
		{"scan with a number", "POST", "/_local/expiry-scan", nil, `{"time":5}`, 400, "invalid_body"},
		{"scan by GET", "GET", "/_local/expiry-scan", nil, "", 405, "method_not_allowed"},
		{"outbox by POST", "POST", "/_local/outbox", nil, "", 405, "method_not_allowed"},
		{"unknown tool", "GET", "/_local/nothing", nil, "", 404, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func(parent *testing.T) { e.t = parent }(e.t)
			e.t = t
			r := e.call(c.method, c.path, c.w, c.body)
			e.wantError(r, c.status, c.code, c.method+" "+c.path)
		})
	}
	// Nothing above changed anything.
	for _, v := range e.list(ada, "?includeUserLevelConnectionData=true") {
		if v.Integrated || v.Configured && v.Vendor == "servicenow" || *v.ConnectionDetails != (integrations.Details{}) {
			t.Fatalf("bad requests changed %s: %+v", v.Vendor, v)
		}
	}
	// An empty scan body is "now".
	r := e.call(http.MethodPost, "/_local/expiry-scan", nil, "")
	e.want(r, http.StatusOK, "scan without a body")
	if rep := decode[expiry.Report](e, r); !rep.Complete || !rep.Now.Equal(t0) {
		t.Fatalf("scan without a body: %s", r.body)
	}
	// So is an empty body of unknown length (chunked).
	req := httptest.NewRequest(http.MethodPost, "/_local/expiry-scan", strings.NewReader(""))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	localserver.ExpiryScanTool(e.deps)(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("scan with an empty chunked body: %d %s", rec.Code, rec.Body)
	}
	e.assertNoLeaks()
}

// TestLocalConnectReconnectChangeUser: an app manager saves the ServiceNow
// settings, connects ServiceNow and Confluence, repairs them with Reconnect
// and Change User, and is refused where the design says.
func TestLocalConnectReconnectChangeUser(t *testing.T) {
	e := newEnv(t, nil)
	e.saveServiceNowSettings(ada)
	if r := e.call(http.MethodPut, "/v1/account/integrations/servicenow/settings", &ada, snSettings); strings.Contains(string(r.body), snClientSecret) || r.status != http.StatusOK {
		t.Fatalf("settings again: %d %s", r.status, r.body)
	}

	sn := e.connect(ada, "servicenow", "app", "", nil)
	if sn.UserChanged || sn.Connection.Instance != "https://acme.service-now.com" || sn.Connection.ConnectedUser == nil ||
		sn.Connection.ConnectedUser.Name != "Admin User" || sn.Connection.ConnectedUser.Email != "admin@acme.example.com" {
		t.Fatalf("ServiceNow connect: %+v", sn)
	}
	cf := e.connect(ada, "confluence", "app", "", nil)
	if cf.Connection.Instance != "https://acme.atlassian.net" || cf.Connection.ConnectedUser == nil || cf.Connection.ConnectedUser.Email != "admin@example.com" {
		t.Fatalf("Confluence connect: %+v", cf)
	}
	views := e.list(ada, "")
	for _, id := range []string{"servicenow", "confluence"} {
		if v := find(e, views, id); !v.Integrated || v.RefreshTokenExpired || v.Status != connection.StatusConnected || v.ConnectedUser == nil || v.ConnectedUser.Name != "Admin User" {
			t.Fatalf("after connecting, %s: %+v", v.Vendor, v)
		}
	}
	if want := t0.Add(100 * day); !find(e, views, "servicenow").RefreshTokenExpiresAt.Equal(want) {
		t.Fatalf("ServiceNow refresh expiry %v, want %v (the 100-day lifespan)", find(e, views, "servicenow").RefreshTokenExpiresAt, want)
	}
	// connectedUser is for app managers only.
	if raw := e.listRaw(bob, ""); strings.Contains(raw, "connectedUser") {
		t.Fatalf("a plain user sees connectedUser: %s", raw)
	}

	// Connecting again without an action.
	for _, vendor := range []string{"servicenow", "confluence"} {
		e.wantError(e.get("/v1/account/integrations/"+vendor+"/oauth2/url?flow=app", &ada), 409, "already_connected", "second connect of "+vendor)
	}

	// Reconnect keeps the connection's identity and creation time.
	snKey := connection.AppKey("a1", "servicenow")
	before := e.stored(snKey)
	e.clock.Set(t0.Add(2 * day))
	re := e.connect(ada, "servicenow", "app", "reconnect", url.Values{"sandbox_user": {"admin"}})
	if re.UserChanged {
		t.Fatalf("reconnect by the same vendor user changed the user: %+v", re)
	}
	after := e.stored(snKey)
	if after.ID != before.ID || !after.CreatedAt.Equal(before.CreatedAt) || after.Generation != before.Generation+1 ||
		after.SecretName != before.SecretName || after.SecretVersion == before.SecretVersion {
		t.Fatalf("reconnect: before %+v, after %+v", before, after)
	}
	if want := t0.Add(102 * day); !re.Connection.RefreshTokenExpiresAt.Equal(want) {
		t.Fatalf("reconnect: refresh expiry %v, want %v", re.Connection.RefreshTokenExpiresAt, want)
	}
	// The previous token version stays recoverable in the vault.
	if _, err := vault.GetTokens(context.Background(), e.deps.Vault, before.SecretName, before.SecretVersion); err != nil {
		t.Fatalf("previous token version: %v", err)
	}

	// Reconnect authorized by another vendor user: refused, untouched.
	listBefore := e.listRaw(ada, "?includeUserLevelConnectionData=true")
	r := e.callback(ada, "servicenow", e.approve(e.authURL(ada, "servicenow", "app", "reconnect"), url.Values{"sandbox_user": {"carol"}}))
	e.wantError(r, 409, "user_mismatch", "reconnect by carol")
	if got := e.stored(snKey); got != after {
		t.Fatalf("user_mismatch changed the connection: %+v", got)
	}
	if got := e.listRaw(ada, "?includeUserLevelConnectionData=true"); got != listBefore {
		t.Fatalf("user_mismatch changed the list:\n%s\n%s", listBefore, got)
	}

	// Change User: the list shows the new vendor user; same connection.
	ch := e.connect(cat, "servicenow", "app", "changeUser", url.Values{"sandbox_user": {"carol"}})
	if !ch.UserChanged || ch.Connection.ConnectedUser == nil || ch.Connection.ConnectedUser.Name != "Carol User" {
		t.Fatalf("change user: %+v", ch)
	}
	if sn := find(e, e.list(ada, ""), "servicenow"); sn.ConnectedUser == nil || sn.ConnectedUser.Name != "Carol User" || sn.ConnectedUser.Email != "carol@acme.example.com" || sn.Status != connection.StatusConnected {
		t.Fatalf("list after change user: %+v", sn)
	}
	changed := e.stored(snKey)
	if changed.ID != before.ID || !changed.CreatedAt.Equal(before.CreatedAt) || changed.ConnectedBy.UserID != "u3" {
		t.Fatalf("change user: %+v", changed)
	}

	// Change User that lands on another Confluence site: 409, nothing moves.
	cfKey := connection.AppKey("a1", "confluence")
	cfBefore := e.stored(cfKey)
	listBefore = e.listRaw(ada, "?includeUserLevelConnectionData=true")
	r = e.callback(ada, "confluence", e.approve(e.authURL(ada, "confluence", "app", "changeUser"), url.Values{"sandbox_user": {"dave"}, "sandbox_site": {"beta"}}))
	e.wantError(r, 409, "site_mismatch", "change user on site beta")
	if got := e.listRaw(ada, "?includeUserLevelConnectionData=true"); got != listBefore {
		t.Fatalf("site_mismatch changed the list:\n%s\n%s", listBefore, got)
	}
	if got := e.stored(cfKey); got != cfBefore {
		t.Fatalf("site_mismatch changed the connection:\n%+v\n%+v", cfBefore, got)
	}
	// A grant covering both sites picks the connected one.
	cc := e.connect(ada, "confluence", "app", "changeUser", url.Values{"sandbox_user": {"dave"}, "sandbox_site": {"beta,acme"}})
	if !cc.UserChanged || cc.Connection.Instance != "https://acme.atlassian.net" || cc.Connection.ConnectedUser.Name != "Dave User" {
		t.Fatalf("change user over two sites: %+v", cc)
	}

	// Another account sees none of it.
	for _, v := range e.list(eve, "") {
		if v.Integrated {
			t.Fatalf("account a2 sees %s integrated", v.Vendor)
		}
	}
	e.assertNoLeaks()
}

// TestLocalUserLevelAndDisconnect: plain users connect at user level and
// the counters follow; disconnect at user level, then the app level with
// cascade.
func TestLocalUserLevelAndDisconnect(t *testing.T) {
	for _, mode := range []string{vault.StoreSecrets, vault.StoreSealed} {
		t.Run(mode, func(t *testing.T) { userLevelAndDisconnect(t, mode) })
	}
}

// userLevelAndDisconnect: user-level connections with USER_TOKEN_STORE
// mode (sealed: on the in-memory key service).
func userLevelAndDisconnect(t *testing.T, mode string) {
	e := newEnv(t, map[string]string{"USER_TOKEN_STORE": mode})
	e.saveServiceNowSettings(ada)
	e.connect(ada, "servicenow", "app", "", nil)

	counts := func(w who) (integrations.Details, *integrations.UserConnection) {
		t.Helper()
		v := find(e, e.list(w, "?type=supportAndTicketing&includeUserLevelConnectionData=true"), "servicenow")
		if v.ConnectionDetails == nil || v.UserConnection == nil {
			t.Fatalf("no user-level data: %+v", v)
		}
		return *v.ConnectionDetails, v.UserConnection
	}
	if d, uc := counts(bob); d != (integrations.Details{}) || uc.Connected {
		t.Fatalf("before: %+v %+v", d, uc)
	}

	res := e.connect(bob, "servicenow", "user", "", url.Values{"sandbox_user": {"bob"}})
	if res.Connection.UserConnection == nil || !res.Connection.UserConnection.Connected {
		t.Fatalf("user connect answer: %+v", res.Connection)
	}
	d, uc := counts(bob)
	if d != (integrations.Details{Total: 1, Connected: 1}) || !uc.Connected || uc.RefreshTokenExpired || uc.ConnectedUser == nil || uc.ConnectedUser.Name != "Bob User" {
		t.Fatalf("after bob: %+v %+v", d, uc)
	}
	bobs := e.stored(connection.UserKey("a1", "servicenow", "u2"))
	apps := e.stored(connection.AppKey("a1", "servicenow"))
	set, err := e.deps.Store.GetSettings(t.Context(), "a1", "servicenow")
	if err != nil {
		t.Fatal(err)
	}
	// Sealed mode seals every account secret: both levels' tokens and the
	// account's client secret.
	for what, version := range map[string]string{"bob's tokens": bobs.SecretVersion, "the app's tokens": apps.SecretVersion, "the client secret": set.ClientSecretVersion} {
		if vault.IsSealedVersion(version) != (mode == vault.StoreSealed) {
			t.Fatalf("%s mode: %s at version %q", mode, what, version)
		}
	}
	e.harvest(bobs.Key)
	// The app manager's own user connection is separate.
	if d, uc := counts(ada); d.Total != 1 || uc.Connected {
		t.Fatalf("ada after bob: %+v %+v", d, uc)
	}
	e.wantError(e.get("/v1/account/integrations/servicenow/oauth2/url?flow=user", &bob), 409, "already_connected", "bob again")
	e.connect(ada, "servicenow", "user", "", nil)
	if d, _ := counts(bob); d != (integrations.Details{Total: 2, Connected: 2}) {
		t.Fatalf("after ada: %+v", d)
	}
	// Bob reconnects his own: counters do not move.
	e.connect(bob, "servicenow", "user", "reconnect", url.Values{"sandbox_user": {"bob"}})
	if d, _ := counts(bob); d != (integrations.Details{Total: 2, Connected: 2}) {
		t.Fatalf("after bob's reconnect: %+v", d)
	}

	// Disconnect bob's user level.
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/servicenow?flow=user", &bob, ""), http.StatusNoContent, "bob disconnects")
	if d, uc := counts(bob); d != (integrations.Details{Total: 1, Connected: 1}) || uc.Connected {
		t.Fatalf("after bob's disconnect: %+v %+v", d, uc)
	}
	e.wantError(e.call(http.MethodDelete, "/v1/account/integrations/servicenow?flow=user", &bob, ""), 404, "not_connected", "bob disconnects again")

	// The app level needs cascade while users are connected.
	e.wantError(e.call(http.MethodDelete, "/v1/account/integrations/servicenow?flow=app", &ada, ""), 409, "has_user_connections", "app without cascade")
	if !find(e, e.list(ada, ""), "servicenow").Integrated {
		t.Fatal("refused disconnect removed the app level")
	}
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/servicenow?flow=app&cascade=true", &ada, ""), http.StatusNoContent, "app with cascade")
	v := find(e, e.list(ada, "?includeUserLevelConnectionData=true"), "servicenow")
	if v.Integrated || v.Status != connection.StatusNotConnected || *v.ConnectionDetails != (integrations.Details{}) || v.UserConnection.Connected || !v.Configured {
		t.Fatalf("after cascade: %+v", v)
	}
	for _, k := range []connection.Key{connection.AppKey("a1", "servicenow"), connection.UserKey("a1", "servicenow", "u1")} {
		if _, err := e.deps.Store.GetConnection(context.Background(), k); err == nil {
			t.Fatalf("%s survived the cascade", k)
		}
	}
	e.wantError(e.call(http.MethodDelete, "/v1/account/integrations/servicenow?flow=app", &ada, ""), 404, "not_connected", "disconnect again")
	// The settings stay: connecting again works.
	e.connect(ada, "servicenow", "app", "", nil)
	e.assertNoLeaks()
}

// TestLocalCallbackRefusals: denied consent, replayed or foreign states and
// a vendor failure leave the connection exactly as it was.
func TestLocalCallbackRefusals(t *testing.T) {
	e := newEnv(t, nil)
	e.saveServiceNowSettings(ada)
	e.connect(ada, "servicenow", "app", "", nil)
	e.connect(ada, "confluence", "app", "", nil)
	snKey := connection.AppKey("a1", "servicenow")
	snapshot := func() (connection.Connection, string) {
		return e.stored(snKey), e.listRaw(ada, "?includeUserLevelConnectionData=true")
	}
	unchanged := func(what string, c0 connection.Connection, l0 string) {
		t.Helper()
		if c, l := snapshot(); c != c0 || l != l0 {
			t.Fatalf("%s changed something:\n%+v\n%+v\n%s\n%s", what, c0, c, l0, l)
		}
	}
	c0, l0 := snapshot()

	// Denied consent.
	back := e.approve(e.authURL(ada, "servicenow", "app", "reconnect"), url.Values{"sandbox_deny": {"1"}})
	if back.Get("error") != "access_denied" || back.Get("code") != "" {
		t.Fatalf("sandbox_deny answered %v", back)
	}
	e.wantError(e.callback(ada, "servicenow", back), 400, "authorization_denied", "denied consent")
	unchanged("denied consent", c0, l0)
	// Its state is spent too.
	e.wantError(e.callback(ada, "servicenow", back), 400, "invalid_state", "denied state again")

	// A replayed state (and code).
	back = e.approve(e.authURL(ada, "servicenow", "app", "reconnect"), nil)
	e.want(e.callback(ada, "servicenow", back), http.StatusOK, "reconnect")
	e.harvest(snKey)
	c0, l0 = snapshot()
	e.wantError(e.callback(ada, "servicenow", back), 400, "invalid_state", "replayed state")
	unchanged("replayed state", c0, l0)

	// A state of another user, another account, another vendor.
	back = e.approve(e.authURL(cat, "servicenow", "app", "reconnect"), nil)
	e.wantError(e.callback(ada, "servicenow", back), 400, "invalid_state", "state of another user")
	unchanged("state of another user", c0, l0)
	back = e.approve(e.authURL(ada, "servicenow", "app", "reconnect"), nil)
	e.wantError(e.callback(who{"a2", "u1", "ada@acme.example", "Ada Admin", "appManager"}, "servicenow", back), 400, "invalid_state", "state of another account")
	unchanged("state of another account", c0, l0)
	back = e.approve(e.authURL(ada, "confluence", "app", "reconnect"), nil)
	e.wantError(e.callback(ada, "servicenow", back), 400, "invalid_state", "state of another vendor")
	unchanged("state of another vendor", c0, l0)
	// A made-up one.
	e.wantError(e.callback(ada, "servicenow", url.Values{"state": {strings.Repeat("ab", 32)}, "code": {"x"}}), 400, "invalid_state", "made-up state")
	// A state past its 10 minutes.
	back = e.approve(e.authURL(ada, "servicenow", "app", "reconnect"), nil)
	e.clock.Set(t0.Add(11 * time.Minute))
	e.wantError(e.callback(ada, "servicenow", back), 400, "invalid_state", "expired state")
	unchanged("expired state", c0, l0)
	e.clock.Set(t0)

	// A vendor failure: the code exchange answers 500.
	e.want(e.call(http.MethodPost, "/_sandbox/servicenow/outage?status=500", nil, ""), http.StatusNoContent, "outage on")
	back = e.approve(e.authURL(ada, "servicenow", "app", "reconnect"), nil)
	e.wantError(e.callback(ada, "servicenow", back), 502, "vendor_error", "callback during an outage")
	unchanged("vendor failure", c0, l0)
	e.want(e.call(http.MethodPost, "/_sandbox/servicenow/outage?status=0", nil, ""), http.StatusNoContent, "outage off")
	// The same repair works once the vendor is back.
	e.connect(ada, "servicenow", "app", "reconnect", nil)
	if c := e.stored(snKey); c.ID != c0.ID || c.Generation != c0.Generation+1 {
		t.Fatalf("reconnect after the outage: %+v", c)
	}
	e.assertNoLeaks()
}

// forward posts to the callback route every parameter the vendor sent the
// browser back with, plus extra ones, as a frontend that forwards the whole
// query does.
func (e *env) forward(w who, vendor string, back url.Values, extra map[string]string) reply {
	e.t.Helper()
	body := map[string]string{}
	for k := range back {
		body[k] = back.Get(k)
	}
	for k, v := range extra {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	return e.call(http.MethodPost, "/v1/account/integrations/"+vendor+"/oauth2/callback", &w, string(b))
}

// errorDetails decodes an error answer's object (code, message and any
// extra field).
func errorDetails(e *env, r reply) map[string]any {
	e.t.Helper()
	var body struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error == nil {
		e.t.Fatalf("not an error answer: %s", r.body)
	}
	return body.Error
}

// TestLocalCallbackHardening drives the callback-hardening rules and the
// sandbox knobs sandbox_no_refresh and sandbox_scope through the HTTP API,
// as the README's walkthrough does: a grant without a refresh token or
// without a required scope is refused and nothing is stored; a forwarded
// query with parameters the service does not know works; an iss of another
// server is refused; an authorization error that is not the person's "no"
// is a vendor error.
func TestLocalCallbackHardening(t *testing.T) {
	e := newEnv(t, nil)
	e.saveServiceNowSettings(ada)
	before := e.listRaw(ada, "?includeUserLevelConnectionData=true")
	untouched := func(what string) {
		t.Helper()
		if got := e.listRaw(ada, "?includeUserLevelConnectionData=true"); got != before {
			t.Fatalf("%s changed the list:\n%s\n%s", what, before, got)
		}
		for _, v := range []string{"servicenow", "confluence"} {
			if _, err := e.deps.Store.GetConnection(context.Background(), connection.AppKey("a1", v)); err == nil {
				t.Fatalf("%s stored a %s connection", what, v)
			}
		}
	}
	refused := func(r reply, status int, code, field, value, what string) {
		t.Helper()
		e.wantError(r, status, code, what)
		if got := errorDetails(e, r)[field]; got != value {
			t.Fatalf("%s: %s = %v, want %q; body %s", what, field, got, value, r.body)
		}
	}

	// sandbox_no_refresh=1: no refresh token in the token response.
	for _, v := range []string{"servicenow", "confluence"} {
		back := e.approve(e.authURL(ada, v, "app", ""), url.Values{"sandbox_no_refresh": {"1"}})
		refused(e.callback(ada, v, back), 502, "vendor_error", "reason", "no_refresh_token", v+" without a refresh token")
		untouched(v + " without a refresh token")
	}
	// sandbox_scope: only some of the requested scopes granted.
	back := e.approve(e.authURL(ada, "servicenow", "app", ""), url.Values{"sandbox_scope": {""}})
	refused(e.callback(ada, "servicenow", back), 502, "vendor_error", "reason", "scope_not_granted", "ServiceNow granting no scope")
	back = e.approve(e.authURL(ada, "confluence", "app", ""), url.Values{"sandbox_scope": {"read:me offline_access"}})
	refused(e.callback(ada, "confluence", back), 502, "vendor_error", "reason", "scope_not_granted", "Confluence granting read:me offline_access")
	back = e.approve(e.authURL(ada, "confluence", "app", ""), url.Values{"sandbox_scope": {"read:confluence-content.all read:confluence-space.summary search:confluence read:me"}})
	refused(e.callback(ada, "confluence", back), 502, "vendor_error", "reason", "no_refresh_token", "Confluence without offline_access")
	untouched("narrowed grants")
	// A scope that was never requested is the sandbox's 400, not a grant.
	u, _ := url.Parse(e.authURL(ada, "confluence", "app", ""))
	q := u.Query()
	q.Set("sandbox_scope", "write:confluence-content")
	u.RawQuery = q.Encode()
	e.want(e.call(http.MethodGet, u.String(), nil, ""), http.StatusBadRequest, "sandbox_scope naming an unrequested scope")

	// The whole forwarded query, with what a vendor may add: works.
	back = e.approve(e.authURL(ada, "servicenow", "app", ""), nil)
	r := e.forward(ada, "servicenow", back, map[string]string{"iss": "https://acme.service-now.com", "session_state": "5c1e.9a"})
	e.want(r, http.StatusOK, "callback with iss and session_state")
	e.harvest(connection.AppKey("a1", "servicenow"))
	back = e.approve(e.authURL(ada, "confluence", "app", ""), url.Values{"sandbox_scope": {
		"offline_access read:me search:confluence read:confluence-space.summary read:confluence-content.all"}})
	e.want(e.forward(ada, "confluence", back, map[string]string{"iss": "https://auth.atlassian.com"}), http.StatusOK, "Confluence granting every scope, with iss")
	e.harvest(connection.AppKey("a1", "confluence"))
	before = e.listRaw(ada, "?includeUserLevelConnectionData=true")
	snBefore := e.stored(connection.AppKey("a1", "servicenow"))
	same := func(what string) {
		t.Helper()
		if got := e.listRaw(ada, "?includeUserLevelConnectionData=true"); got != before {
			t.Fatalf("%s changed the list:\n%s\n%s", what, before, got)
		}
		if got := e.stored(snBefore.Key); got != snBefore {
			t.Fatalf("%s changed the connection", what)
		}
	}

	// An iss of another server: refused before the code is used.
	back = e.approve(e.authURL(ada, "servicenow", "app", "reconnect"), nil)
	e.wantError(e.forward(ada, "servicenow", back, map[string]string{"iss": "https://evil.example.com"}), 400, "issuer_mismatch", "callback with a foreign iss")
	same("a foreign iss")
	e.wantError(e.forward(ada, "servicenow", back, nil), 400, "invalid_state", "the same callback again")

	// Authorization errors: the person's "no" and a configuration problem.
	back = e.approve(e.authURL(ada, "servicenow", "app", "reconnect"), url.Values{"sandbox_deny": {"1"}})
	refused(e.forward(ada, "servicenow", back, nil), 400, "authorization_denied", "vendorError", "access_denied", "denied consent")
	back = e.approve(e.authURL(ada, "servicenow", "app", "reconnect"), nil)
	back.Del("code")
	back.Set("error", "invalid_scope")
	refused(e.forward(ada, "servicenow", back, nil), 502, "vendor_error", "vendorError", "invalid_scope", "invalid_scope from the vendor")
	same("authorization errors")

	// Truncated states.
	back = e.approve(e.authURL(ada, "servicenow", "app", "reconnect"), nil)
	for _, cut := range []url.Values{
		{"state": {back.Get("state")[:20]}},
		{"state": {back.Get("state")[:63]}, "code": {back.Get("code")}},
	} {
		e.wantError(e.forward(ada, "servicenow", cut, nil), 400, "invalid_state", "truncated state")
	}
	same("truncated states")
	// The intact one still works.
	e.want(e.forward(ada, "servicenow", back, nil), http.StatusOK, "the intact state")
	e.harvest(snBefore.Key)
	e.assertNoLeaks()
}

// TestLocalExpiryNoticesAndReconnect: the scan at explicit times warns once
// per connection inside the ServiceNow warning window, disconnects after the
// 100-day lifespan with one email and one popup each, keeps Confluence alive,
// and a Reconnect clears the expired state and the popups.
func TestLocalExpiryNoticesAndReconnect(t *testing.T) {
	e := newEnv(t, map[string]string{"FRONTEND_URL": "https://app.acme.example"})
	e.saveServiceNowSettings(ada)
	e.connect(ada, "servicenow", "app", "", nil)
	e.connect(bob, "servicenow", "user", "", url.Values{"sandbox_user": {"bob"}})
	e.connect(ada, "confluence", "app", "", nil)
	cfKey := connection.AppKey("a1", "confluence")

	if rep := e.scan(t0.Add(day)); rep.Checked != 0 || rep.Notices != 0 {
		t.Fatalf("day 1: %+v", rep)
	}
	// Day 50: Confluence's inactivity window is half gone: kept alive.
	cfBefore := e.stored(cfKey)
	if rep := e.scan(t0.Add(50 * day)); rep.Refreshed != 1 || rep.Notices != 0 || rep.Expired != 0 {
		t.Fatalf("day 50: %+v", rep)
	}
	cfAfter := e.stored(cfKey)
	if cfAfter.SecretVersion == cfBefore.SecretVersion || !cfAfter.RefreshTokenExpiresAt.Equal(t0.Add(140*day)) || cfAfter.Expired {
		t.Fatalf("Confluence keep-alive: %+v", cfAfter)
	}
	e.harvest(cfKey)
	if got := e.outbox(); len(got) != 0 {
		t.Fatalf("outbox before the warning window: %+v", got)
	}
	if rep := e.scan(t0.Add(89 * day)); rep.Notices != 0 {
		t.Fatalf("day 89: %+v", rep)
	}

	// Day 91+: one expiring email per ServiceNow connection, however often
	// the scan runs.
	for _, at := range []time.Time{t0.Add(91 * day), t0.Add(91 * day), t0.Add(91*day + time.Hour), t0.Add(95 * day), t0.Add(99 * day)} {
		e.scan(at)
	}
	msgs := e.outbox()
	if len(msgs) != 2 {
		t.Fatalf("outbox after the warnings: %d messages %+v", len(msgs), msgs)
	}
	byTo := map[string]mail.Message{}
	for _, m := range msgs {
		if len(m.To) != 1 || m.Subject != "ServiceNow will soon be disconnected" {
			t.Fatalf("warning email %+v", m)
		}
		byTo[m.To[0]] = m
	}
	if m, ok := byTo["ada@acme.example"]; !ok || !strings.Contains(m.Text, "https://app.acme.example/manage/apps/integrations") {
		t.Fatalf("app-level warning to the app manager: %+v", byTo)
	}
	if m, ok := byTo["bob@acme.example"]; !ok || !strings.Contains(m.Text, "https://app.acme.example/profile/external-apps") {
		t.Fatalf("user-level warning to bob: %+v", byTo)
	}
	if v := find(e, e.list(ada, ""), "servicenow"); v.Status != connection.StatusExpiring || v.RefreshTokenExpired {
		t.Fatalf("list in the warning window: %+v", v)
	}
	if ns := e.notifications(ada); len(ns) != 1 || ns[0].Kind != connection.NoticeExpiring || ns[0].Level != connection.LevelApp || ns[0].Vendor != "servicenow" {
		t.Fatalf("ada's popups in the warning window: %+v", ns)
	}

	// Day 101: expired; one disconnected email and popup per connection.
	for _, at := range []time.Time{t0.Add(101 * day), t0.Add(101 * day), t0.Add(104 * day)} {
		e.scan(at)
	}
	msgs = e.outbox()
	if len(msgs) != 4 {
		t.Fatalf("outbox after the expiry: %d messages %+v", len(msgs), msgs)
	}
	seen := map[string]int{}
	for _, m := range msgs[2:] {
		if m.Subject != "ServiceNow has been disconnected" || !strings.Contains(m.Text, "ServiceNow has unexpectedly been disconnected. Please reconnect your ServiceNow account.") {
			t.Fatalf("disconnection email %+v", m)
		}
		seen[strings.Join(m.To, ",")]++
	}
	if seen["ada@acme.example"] != 1 || seen["bob@acme.example"] != 1 {
		t.Fatalf("disconnection emails went to %v", seen)
	}
	for _, m := range msgs {
		if strings.Contains(m.Subject+m.Text, "Confluence") {
			t.Fatalf("Confluence was kept alive, yet: %+v", m)
		}
	}
	e.harvest(cfKey) // kept alive again on day 95
	v := find(e, e.list(ada, "?includeUserLevelConnectionData=true"), "servicenow")
	if !v.Integrated || !v.RefreshTokenExpired || v.Status != connection.StatusExpired || *v.ConnectionDetails != (integrations.Details{Total: 1, Connected: 0}) {
		t.Fatalf("list after the expiry: %+v", v)
	}
	if v := find(e, e.list(bob, "?includeUserLevelConnectionData=true"), "servicenow"); !v.UserConnection.RefreshTokenExpired || v.UserConnection.Connected {
		t.Fatalf("bob's list after the expiry: %+v", v.UserConnection)
	}
	const popup = "ServiceNow has unexpectedly been disconnected. Please reconnect your ServiceNow account."
	adaNs := e.notifications(ada)
	if len(adaNs) != 1 || adaNs[0].Kind != connection.NoticeDisconnected || adaNs[0].Message != popup || adaNs[0].Level != connection.LevelApp {
		t.Fatalf("ada's popups after the expiry: %+v", adaNs)
	}
	bobNs := e.notifications(bob)
	if len(bobNs) != 1 || bobNs[0].Kind != connection.NoticeDisconnected || bobNs[0].Message != popup || bobNs[0].Level != connection.LevelUser {
		t.Fatalf("bob's popups after the expiry: %+v", bobNs)
	}

	// Dismiss: nobody dismisses someone else's popup.
	e.wantError(e.call(http.MethodPost, "/v1/me/notifications/"+bobNs[0].ID+"/dismiss", &ada, ""), 404, "not_found", "ada dismisses bob's popup")
	e.wantError(e.call(http.MethodPost, "/v1/me/notifications/"+bobNs[0].ID+"/dismiss", &who{"a2", "u2", "", "", ""}, ""), 404, "not_found", "bob of another account")
	if ns := e.notifications(bob); len(ns) != 1 {
		t.Fatalf("bob's popup after foreign dismissals: %+v", ns)
	}
	e.want(e.call(http.MethodPost, "/v1/me/notifications/"+bobNs[0].ID+"/dismiss", &bob, ""), http.StatusNoContent, "bob dismisses")
	if ns := e.notifications(bob); len(ns) != 0 {
		t.Fatalf("bob's popups after dismissing: %+v", ns)
	}
	e.scan(t0.Add(105 * day))
	if ns := e.notifications(bob); len(ns) != 0 {
		t.Fatalf("a dismissed popup came back: %+v", ns)
	}

	// Reconnect clears the expired state and the popups.
	re := e.connect(ada, "servicenow", "app", "reconnect", nil)
	if re.Connection.RefreshTokenExpired || re.Connection.Status != connection.StatusConnected {
		t.Fatalf("reconnect answer: %+v", re.Connection)
	}
	if v := find(e, e.list(ada, ""), "servicenow"); v.RefreshTokenExpired || v.Status != connection.StatusConnected || !v.RefreshTokenExpiresAt.Equal(t0.Add(205*day)) {
		t.Fatalf("list after the reconnect: %+v", v)
	}
	if ns := e.notifications(ada); len(ns) != 0 {
		t.Fatalf("ada's popups after the reconnect: %+v", ns)
	}
	// Bob's expired grant: a reconnect by another vendor user is refused;
	// Change User works on an expired connection.
	bobKey := connection.UserKey("a1", "servicenow", "u2")
	bobBefore := e.stored(bobKey)
	r := e.callback(bob, "servicenow", e.approve(e.authURL(bob, "servicenow", "user", "reconnect"), url.Values{"sandbox_user": {"bob.smith"}}))
	e.wantError(r, 409, "user_mismatch", "bob reconnects as another vendor user")
	if got := e.stored(bobKey); got != bobBefore || !got.Expired {
		t.Fatalf("user_mismatch changed bob's connection: %+v", got)
	}
	ch := e.connect(bob, "servicenow", "user", "changeUser", url.Values{"sandbox_user": {"bob.smith"}})
	if !ch.UserChanged || ch.Connection.UserConnection == nil || ch.Connection.UserConnection.ConnectedUser.Name != "Bob Smith User" {
		t.Fatalf("bob's change of user: %+v", ch)
	}
	if got := e.stored(bobKey); got.ID != bobBefore.ID || !got.CreatedAt.Equal(bobBefore.CreatedAt) || got.Expired {
		t.Fatalf("bob's connection after the change of user: %+v", got)
	}
	if v := find(e, e.list(bob, "?includeUserLevelConnectionData=true"), "servicenow"); *v.ConnectionDetails != (integrations.Details{Total: 1, Connected: 1}) || !v.UserConnection.Connected {
		t.Fatalf("bob after his change of user: %+v %+v", v.ConnectionDetails, v.UserConnection)
	}
	// A repaired connection is not warned about again until its new window.
	e.scan(t0.Add(110 * day))
	if got := e.outbox(); len(got) != 4 {
		t.Fatalf("outbox after the reconnects: %d messages", len(got))
	}
	if rep := e.scan(t0.Add(150 * day)); rep.Refreshed != 1 || rep.Notices != 0 {
		t.Fatalf("day 150: %+v", rep)
	}
	e.harvest(cfKey)
	e.scan(t0.Add(196 * day))
	if got := e.outbox(); len(got) != 6 {
		t.Fatalf("outbox in the new generation's window: %d messages", len(got))
	}
	e.assertNoLeaks()
}

// TestLocalSitesAndInstanceLock: a Confluence grant over several sites
// needs siteUrl, which then picks the site; a connected vendor's instance or
// site cannot be moved by the settings.
func TestLocalSitesAndInstanceLock(t *testing.T) {
	e := newEnv(t, nil)
	r := e.callback(ada, "confluence", e.approve(e.authURL(ada, "confluence", "app", ""), url.Values{"sandbox_site": {"acme,beta"}}))
	e.wantError(r, 409, "site_choice_required", "a grant over two sites")
	var choice struct {
		Error struct {
			Sites []struct{ URL, Name string } `json:"sites"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &choice); err != nil || len(choice.Error.Sites) != 2 {
		t.Fatalf("site_choice_required lists %s", r.body)
	}
	if find(e, e.list(ada, ""), "confluence").Integrated {
		t.Fatal("site_choice_required connected something")
	}
	r = e.call(http.MethodPut, "/v1/account/integrations/confluence/settings", &ada, `{"siteUrl":"https://beta.atlassian.net"}`)
	e.want(r, http.StatusOK, "Confluence siteUrl")
	res := e.connect(ada, "confluence", "app", "", url.Values{"sandbox_site": {"acme,beta"}})
	if res.Connection.Instance != "https://beta.atlassian.net" {
		t.Fatalf("siteUrl did not pick the site: %+v", res.Connection)
	}
	e.wantError(e.call(http.MethodPut, "/v1/account/integrations/confluence/settings", &ada, `{"siteUrl":"https://acme.atlassian.net"}`), 409, "instance_locked", "move Confluence")

	e.saveServiceNowSettings(ada)
	e.connect(ada, "servicenow", "app", "", nil)
	e.wantError(e.call(http.MethodPut, "/v1/account/integrations/servicenow/settings", &ada,
		`{"instanceUrl":"https://other.service-now.com","clientId":"acme-client-1","clientSecret":"s2"}`), 409, "instance_locked", "move ServiceNow")
	// A new client secret for the same instance is fine, and never shown.
	e.secret("rotated-client-secret-5d1e", "the rotated ServiceNow client secret")
	r = e.call(http.MethodPut, "/v1/account/integrations/servicenow/settings", &ada,
		`{"instanceUrl":"https://acme.service-now.com","clientId":"acme-client-1","clientSecret":"rotated-client-secret-5d1e"}`)
	e.want(r, http.StatusOK, "rotate the ServiceNow client secret")

	// Identity claims with characters that mean something in keys and
	// secret names (auth0|…, #) work and stay apart.
	odd := who{"acct|1#x", "auth0|123#USER", "odd@acme.example", "Odd One", "appManager"}
	near := who{"acct|1#x", "auth0|123", "near@acme.example", "Near One", "member"}
	r = e.call(http.MethodPut, "/v1/account/integrations/servicenow/settings", &odd, snSettings)
	e.want(r, http.StatusOK, "settings of an odd account")
	e.connect(odd, "servicenow", "app", "", nil)
	e.connect(odd, "servicenow", "user", "", nil)
	if v := find(e, e.list(near, "?includeUserLevelConnectionData=true"), "servicenow"); *v.ConnectionDetails != (integrations.Details{Total: 1, Connected: 1}) || v.UserConnection.Connected {
		t.Fatalf("a user whose id prefixes another's: %+v %+v", v.ConnectionDetails, v.UserConnection)
	}
	e.wantError(e.call(http.MethodDelete, "/v1/account/integrations/servicenow?flow=user", &near, ""), 404, "not_connected", "near disconnects odd's connection")
	if v := find(e, e.list(ada, "?includeUserLevelConnectionData=true"), "servicenow"); *v.ConnectionDetails != (integrations.Details{}) {
		t.Fatalf("account a1 counts another account's users: %+v", v.ConnectionDetails)
	}
	e.assertNoLeaks()
}

// TestLocalConsolePages: the console is HTML and the callback page, whose
// URL carries the code, sends no referrer.
func TestLocalConsolePages(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/console", "/console/"} {
		r := e.get(p, nil)
		e.want(r, http.StatusOK, p)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(strings.ToLower(string(r.body)), "<html") {
			t.Fatalf("%s: %s, %.80s", p, ct, r.body)
		}
		// "Get a token" (the broker, then the sandbox's introspect) and
		// "Check now" (the live check).
		for _, want := range []string{`"Get a token"`, `"Check now"`, `"/v1/internal/token"`, `"X-Internal-Caller"`, `/introspect`, `/check?flow=`} {
			if !strings.Contains(string(r.body), want) {
				t.Fatalf("%s: the console has no %s", p, want)
			}
		}
	}
	// The server's address is the console.
	r := e.get("/", nil)
	if r.status != http.StatusFound || r.header.Get("Location") != "/console" {
		t.Fatalf("GET /: %d, Location %q; want 302 to /console", r.status, r.header.Get("Location"))
	}
	// The links of the notice emails are console pages.
	links := notices.Links{FrontendURL: e.deps.Config.FrontendURL, UserReconnectPath: e.deps.Config.UserReconnectPath, AppReconnectPath: e.deps.Config.AppReconnectPath}
	for _, level := range []connection.Level{connection.LevelApp, connection.LevelUser} {
		link := links.URL(level)
		if !strings.HasPrefix(link, e.base+"/console/") {
			t.Fatalf("the %s notice email links to %s, not to a console page", level, link)
		}
		r := e.get(strings.TrimPrefix(link, e.base), nil)
		e.want(r, http.StatusOK, "the "+string(level)+" notice email's link")
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("%s: %s", link, ct)
		}
	}
	// The page the sandbox sends the browser to, with what it carries.
	e.saveServiceNowSettings(ada)
	u, _ := url.Parse(e.authURL(ada, "servicenow", "app", ""))
	back := e.approve(u.String(), nil)
	r = e.get("/console/callback?"+back.Encode(), nil)
	e.want(r, http.StatusOK, "callback page")
	if got := r.header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Fatalf("callback page Referrer-Policy %q", got)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("callback page Content-Type %q", ct)
	}
	// The page itself never echoes the code.
	if strings.Contains(string(r.body), back.Get("code")) {
		t.Fatal("the callback page echoes the code")
	}
}
