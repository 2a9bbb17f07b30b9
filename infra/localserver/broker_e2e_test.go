package localserver_test

// The token broker and the live check through the local server, as a
// newcomer would drive them with curl: a consumer (X-Internal-Caller)
// gets app- and user-level tokens that the vendor's API takes; after the
// revoke knob and the clock moved past the access tokens' lifetime, the
// broker or the check finds the dead grant, marks it and tells its person
// at once; an outage marks nothing; 50 parallel calls make one refresh.

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/shared/audit"
	"github.com/workplace/connections/shared/broker"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/vault"
)

// consumer is the internal caller's service name (X-Internal-Caller).
const consumer = "search-connector"

// tokenCall is POST /v1/internal/token as service (none: no
// X-Internal-Caller). Its answer carries an access token by design, so it
// is not kept among the answers the leak check reads; it must never carry
// a refresh token, or anything else secret the test knows but the token.
func (e *env) tokenCall(service, body string, extra http.Header) reply {
	e.t.Helper()
	return e.internalRequest(http.MethodPost, "/v1/internal/token", service, body, extra)
}

// internalCall is a request to an internal route as service (X-Internal-
// Caller; "" for none), with w's identity headers too if w is not nil
// (they mean nothing there).
func (e *env) internalCall(method, path, service string, w *who, body string) reply {
	e.t.Helper()
	h := http.Header{}
	if w != nil {
		h.Set("X-Account-Id", w.account)
		h.Set("X-User-Id", w.user)
		h.Set("X-User-Role", w.role)
	}
	return e.internalRequest(method, path, service, body, h)
}

func (e *env) internalRequest(method, path, service, body string, extra http.Header) reply {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if service != "" {
		req.Header.Set("X-Internal-Caller", service)
	}
	for k, vs := range extra {
		req.Header[k] = vs
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	e.api.flush(e.t)
	r := reply{status: resp.StatusCode, header: resp.Header, body: b}
	var tok broker.Token
	if r.status == http.StatusOK {
		tok = decode[broker.Token](e, r)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for v, what := range e.secrets {
		if v != tok.AccessToken && strings.Contains(string(b), v) {
			e.t.Errorf("leak: %s in the broker's answer", what)
		}
	}
	if strings.Contains(string(b), "refresh") {
		e.t.Errorf("the broker's answer names a refresh token: %s", b)
	}
	if r.status != http.StatusOK {
		e.bodies = append(e.bodies, method+" "+path+" → "+resp.Status+": "+string(b))
	}
	return r
}

// token asks the broker for a token that must be answered.
func (e *env) token(body string) broker.Token {
	e.t.Helper()
	r := e.tokenCall(consumer, body, nil)
	e.want(r, http.StatusOK, "token "+body)
	tok := decode[broker.Token](e, r)
	if tok.TokenType != "Bearer" || tok.AccessToken == "" {
		e.t.Fatalf("token %s", r.body)
	}
	e.secret(tok.AccessToken, "an access token from the broker")
	return tok
}

// checkConn is POST /v1/account/integrations/{vendor}/check?flow=.
func (e *env) checkConn(w who, vendor, flow string) broker.CheckResult {
	e.t.Helper()
	r := e.call(http.MethodPost, "/v1/account/integrations/"+vendor+"/check?flow="+flow, &w, "")
	e.want(r, http.StatusOK, "check "+vendor+" "+flow)
	return decode[broker.CheckResult](e, r)
}

// disconnections are the timeline's disconnected entries, newest first.
func (e *env) disconnections(vendor string) []audit.Entry {
	e.t.Helper()
	var out []audit.Entry
	for _, en := range e.timeline(ada, "vendor="+vendor, 100) {
		if en.Action == connection.AuditDisconnected {
			out = append(out, en)
		}
	}
	return out
}

func TestLocalTokenBroker(t *testing.T) {
	e := newEnv(t, nil)
	e.saveServiceNowSettings(ada)
	e.connect(ada, "servicenow", "app", "", nil)
	e.connect(ada, "confluence", "app", "", nil)
	e.connect(bob, "servicenow", "user", "", map[string][]string{"sandbox_user": {"bob"}})
	e.connect(bob, "confluence", "user", "", map[string][]string{"sandbox_user": {"bob"}})

	// Tokens that the vendors' APIs take, at both levels.
	sn := e.token(`{"account":"a1","vendor":"servicenow"}`)
	e.wantActive("servicenow", sn.AccessToken, "admin", "acme", "the broker's ServiceNow app token")
	if sn.Level != connection.LevelApp || sn.Instance != "https://acme.service-now.com" || sn.APIBaseURL != e.base+"/_sandbox/servicenow/acme" ||
		!sn.ExpiresAt.Equal(t0.Add(1799*time.Second)) {
		t.Fatalf("ServiceNow app token %+v", sn)
	}
	snBob := e.token(`{"account":"a1","vendor":"servicenow","user":"u2"}`)
	e.wantActive("servicenow", snBob.AccessToken, "bob", "acme", "the broker's ServiceNow user token")
	cf := e.token(`{"account":"a1","vendor":"confluence","minValiditySeconds":3000}`)
	e.wantActive("confluence", cf.AccessToken, "admin", "acme", "the broker's Confluence app token")
	if !strings.HasPrefix(cf.APIBaseURL, e.base+"/_sandbox/confluence/ex/confluence/") || cf.Instance != "https://acme.atlassian.net" {
		t.Fatalf("Confluence app token %+v", cf)
	}
	cfBob := e.token(`{"account":"a1","vendor":"confluence","user":"u2","fallback":"app"}`)
	e.wantActive("confluence", cfBob.AccessToken, "bob", "acme", "the broker's Confluence user token")
	if got := e.stats("confluence").RefreshToken + e.stats("servicenow").RefreshToken; got != 0 {
		t.Fatalf("valid tokens were refreshed: %d", got)
	}

	// Only internal callers, with documented refusals.
	e.wantError(e.tokenCall("", `{"account":"a1","vendor":"servicenow"}`, http.Header{"X-Account-Id": {"a1"}, "X-User-Id": {"u1"}}),
		http.StatusUnauthorized, "unauthorized", "a person's identity on the broker")
	e.wantError(e.tokenCall(consumer, `{"account":"a1","vendor":"servicenow","extra":1}`, nil), http.StatusBadRequest, "invalid_body", "unknown field")
	e.wantError(e.tokenCall(consumer, `{"account":"a1","vendor":"servicenow","minValiditySeconds":3001}`, nil), http.StatusBadRequest, "invalid_parameter", "too long")
	e.wantError(e.tokenCall(consumer, `{"account":"a1","vendor":"nosuchvendor"}`, nil), http.StatusNotFound, "unknown_vendor", "unknown vendor")
	e.wantError(e.tokenCall(consumer, `{"account":"a2","vendor":"servicenow"}`, nil), http.StatusNotFound, "not_connected", "another account")
	e.wantError(e.tokenCall(consumer, `{"account":"a1","vendor":"servicenow","user":"u3"}`, nil), http.StatusNotFound, "not_connected", "no user level")
	// X-Internal-Caller means nothing on a route for people.
	r := e.call(http.MethodGet, "/v1/account/integrations", nil, "")
	e.wantError(r, http.StatusUnauthorized, "unauthorized", "the list without a person")

	// An outage: 503 with Retry-After, nothing marked.
	e.call(http.MethodPost, "/_sandbox/confluence/outage?status=503", nil, "")
	e.moveClock(t0.Add(2 * time.Hour))
	r = e.tokenCall(consumer, `{"account":"a1","vendor":"confluence"}`, nil)
	e.wantError(r, http.StatusServiceUnavailable, "vendor_unavailable", "Confluence down")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if v := find(e, e.list(ada, ""), "confluence"); v.Status != connection.StatusConnected || v.RefreshTokenExpired {
		t.Fatalf("Confluence after the outage: %+v", v)
	}
	if d := e.disconnections("confluence"); len(d) != 0 || len(e.outbox()) != 0 {
		t.Fatalf("an outage marked something: %+v", d)
	}
	e.call(http.MethodPost, "/_sandbox/confluence/outage?status=0", nil, "")
	cf2 := e.token(`{"account":"a1","vendor":"confluence"}`)
	e.wantActive("confluence", cf2.AccessToken, "admin", "acme", "Confluence refreshed after the outage")
	if cf2.AccessToken == cf.AccessToken || !cf2.ExpiresAt.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("Confluence after the outage %+v", cf2)
	}
	e.harvest(connection.AppKey("a1", "confluence"))

	// The revoke knob: bob's access token works until it expires; past
	// it the broker finds the dead grant.
	e.moveClock(t0.Add(2*time.Hour + time.Minute))
	live := e.token(`{"account":"a1","vendor":"servicenow","user":"u2"}`) // refreshed
	e.harvest(connection.UserKey("a1", "servicenow", "u2"))
	e.call(http.MethodPost, "/_sandbox/servicenow/revoke?user=bob", nil, "")
	if again := e.token(`{"account":"a1","vendor":"servicenow","user":"u2","minValiditySeconds":0}`); again != live {
		t.Fatalf("bob's token right after the revoke: %+v, want %+v", again, live)
	}
	e.wantActive("servicenow", live.AccessToken, "bob", "acme", "bob's token right after the revoke")
	e.moveClock(t0.Add(3 * time.Hour))
	r = e.tokenCall(consumer, `{"account":"a1","vendor":"servicenow","user":"u2"}`, nil)
	e.wantError(r, http.StatusConflict, "reconnect_required", "bob's dead grant")
	var body struct{ Error struct{ Level string } }
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error.Level != "user" {
		t.Fatalf("reconnect_required without its level: %s", r.body)
	}
	// At once: the list, the email, the popup and the timeline.
	if v := find(e, e.list(bob, "?includeUserLevelConnectionData=true"), "servicenow"); v.UserConnection == nil ||
		!v.UserConnection.RefreshTokenExpired || v.UserConnection.Status != connection.StatusExpired {
		t.Fatalf("bob's ServiceNow in the list: %+v", v.UserConnection)
	}
	mails := e.outbox()
	if len(mails) != 1 || mails[0].To[0] != bob.email || !strings.Contains(mails[0].Subject+mails[0].Text, "ServiceNow has unexpectedly been disconnected") {
		t.Fatalf("outbox %+v", mails)
	}
	if ns := e.notifications(bob); len(ns) != 1 || ns[0].Kind != connection.NoticeDisconnected || ns[0].Vendor != "servicenow" || ns[0].Level != connection.LevelUser {
		t.Fatalf("bob's popups %+v", ns)
	}
	d := e.disconnections("servicenow")
	if len(d) != 1 || d[0].Actor != (connection.Actor{Type: connection.ActorBroker, ID: consumer}) || d[0].Details["detectedBy"] != "broker" ||
		d[0].Details["reason"] != "refresh_refused" || d[0].User != "u2" || !d[0].At.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("disconnected entries %+v", d)
	}
	// fallback=app: the app level answers (refreshed: its token is past
	// its lifetime too).
	app := e.token(`{"account":"a1","vendor":"servicenow","user":"u2","fallback":"app"}`)
	e.wantActive("servicenow", app.AccessToken, "admin", "acme", "the app's token by fallback")
	if app.Level != connection.LevelApp {
		t.Fatalf("fallback %+v", app)
	}
	e.harvest(connection.AppKey("a1", "servicenow"))
	if len(e.outbox()) != 1 {
		t.Fatal("a second email")
	}
	e.assertNoLeaks()
}

func TestLocalLiveCheck(t *testing.T) {
	e := newEnv(t, nil)
	e.connect(ada, "confluence", "app", "", nil)
	e.connect(bob, "confluence", "user", "", map[string][]string{"sandbox_user": {"bob"}})
	if res := e.checkConn(ada, "confluence", "app"); !res.Valid || res.Status != connection.StatusConnected || !res.CheckedAt.Equal(t0) || res.Reason != "" {
		t.Fatalf("check of the app level %+v", res)
	}
	if res := e.checkConn(bob, "confluence", "user"); !res.Valid {
		t.Fatalf("bob's check %+v", res)
	}
	e.wantError(e.call(http.MethodPost, "/v1/account/integrations/confluence/check?flow=app", &bob, ""), http.StatusForbidden, "forbidden", "bob checks the app level")
	e.wantError(e.call(http.MethodPost, "/v1/account/integrations/servicenow/check?flow=user", &bob, ""), http.StatusNotFound, "not_connected", "nothing to check")
	e.wantError(e.call(http.MethodPost, "/v1/account/integrations/confluence/check", &bob, ""), http.StatusBadRequest, "invalid_flow", "no flow")

	// An outage changes nothing.
	e.call(http.MethodPost, "/_sandbox/confluence/outage?status=503", nil, "")
	e.wantError(e.call(http.MethodPost, "/v1/account/integrations/confluence/check?flow=user", &bob, ""), http.StatusServiceUnavailable, "vendor_unavailable", "check during an outage")
	e.call(http.MethodPost, "/_sandbox/confluence/outage?status=0", nil, "")

	// Revoked at the vendor: valid while the access token lives, then
	// invalid once a refresh is needed.
	e.call(http.MethodPost, "/_sandbox/confluence/revoke?user=bob", nil, "")
	if res := e.checkConn(bob, "confluence", "user"); !res.Valid {
		t.Fatalf("right after the revoke: %+v", res)
	}
	e.moveClock(t0.Add(2 * time.Hour))
	res := e.checkConn(bob, "confluence", "user")
	if res.Valid || res.Reason != "refresh_refused" || res.Status != connection.StatusExpired {
		t.Fatalf("after the revoke and two hours: %+v", res)
	}
	if v := find(e, e.list(bob, "?includeUserLevelConnectionData=true"), "confluence"); !v.UserConnection.RefreshTokenExpired {
		t.Fatalf("bob's Confluence in the list: %+v", v.UserConnection)
	}
	if mails := e.outbox(); len(mails) != 1 || mails[0].To[0] != bob.email {
		t.Fatalf("outbox %+v", mails)
	}
	if ns := e.notifications(bob); len(ns) != 1 || ns[0].Kind != connection.NoticeDisconnected {
		t.Fatalf("bob's popups %+v", ns)
	}
	d := e.disconnections("confluence")
	if len(d) != 1 || d[0].Actor != connection.UserActor("u2") || d[0].Details["detectedBy"] != "check" || d[0].Details["reason"] != "refresh_refused" {
		t.Fatalf("disconnected entries %+v", d)
	}
	// The app level is fine (refreshed by the check).
	if res := e.checkConn(ada, "confluence", "app"); !res.Valid {
		t.Fatalf("the app level %+v", res)
	}
	e.harvest(connection.AppKey("a1", "confluence"))
	e.assertNoLeaks()
}

// 50 parallel broker calls for one rotating connection whose access token
// has expired: one refresh reaches the vendor, every call is answered 200
// with the token it stored.
func TestLocalBrokerParallelRefreshOnce(t *testing.T) {
	e := newEnv(t, nil)
	e.connect(ada, "confluence", "app", "", nil)
	e.moveClock(t0.Add(2 * time.Hour))
	before := e.stats("confluence").RefreshToken
	const calls = 50
	var wg sync.WaitGroup
	replies := make([]reply, calls)
	for i := range calls {
		wg.Go(func() { replies[i] = e.tokenCall(consumer, `{"account":"a1","vendor":"confluence"}`, nil) })
	}
	wg.Wait()
	if got := e.stats("confluence").RefreshToken - before; got != 1 {
		t.Fatalf("the sandbox saw %d refreshes, want 1", got)
	}
	c := e.stored(connection.AppKey("a1", "confluence"))
	toks, err := vault.GetTokens(t.Context(), e.deps.Vault, c.SecretName, c.SecretVersion)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range replies {
		e.want(r, http.StatusOK, "parallel call")
		if tok := decode[broker.Token](e, r); tok.AccessToken != toks.AccessToken {
			t.Fatalf("call %d got a token that is not the stored one", i)
		}
	}
	e.wantActive("confluence", toks.AccessToken, "admin", "acme", "the one refreshed token")
}
