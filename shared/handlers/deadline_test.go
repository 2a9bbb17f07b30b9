package handlers_test

// A request whose backing services do not answer (a paused DynamoDB or
// Secrets Manager endpoint) must end with the service's own JSON answer
// before Lambda's timeout, never hang until API Gateway answers for it.
// The store and vault here block until their context is done; the Lambda
// invocation's context is one whose deadline the test passes by hand when
// the block is reached, so nothing waits on a clock.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/apigw"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
)

// jwtCaller is who calls, as the JWT claims of the default claim names.
type jwtCaller struct{ account, user, role string }

// routeEvent is the API Gateway event of a request to one of the routes.
func routeEvent(t *testing.T, who jwtCaller, method, path, query, body string) (handlers.Route, apigw.Request) {
	t.Helper()
	for _, r := range handlers.Routes {
		params, ok := matchPath(r.Path, path)
		if !ok || r.Method != method {
			continue
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		qs := map[string]string{}
		for k := range q {
			qs[k] = q.Get(k)
		}
		req := apigw.Request{
			RouteKey: r.RouteKey(), RawPath: path, RawQueryString: query, QueryStringParameters: qs,
			PathParameters: params, Body: body,
		}
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{
				"account_id": who.account, "sub": who.user, "email": who.user + "@acme.example", "name": who.user, "role": who.role,
			}},
		}
		if r.Internal() {
			// Authorized by IAM: the caller is the principal that signed.
			req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{
					AccountID: "123456789012", UserARN: "arn:aws:sts::123456789012:assumed-role/" + who.user + "/session",
				},
			}
		}
		return r, req
	}
	t.Fatalf("no route %s %s", method, path)
	return handlers.Route{}, apigw.Request{}
}

// invocation is a Lambda invocation's context: its deadline is an hour
// away until pass is called, then it is done with DeadlineExceeded, as at
// Lambda's timeout.
type invocation struct {
	context.Context
	deadline time.Time
	done     chan struct{}
	once     sync.Once
}

func newInvocation(d time.Duration) *invocation {
	return &invocation{Context: context.Background(), deadline: time.Now().Add(d), done: make(chan struct{})}
}

func (c *invocation) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *invocation) Done() <-chan struct{}       { return c.done }
func (c *invocation) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// pass makes the deadline pass.
func (c *invocation) pass() { c.once.Do(func() { close(c.done) }) }

// gate blocks one named call, the n-th of its name (from 1), until the
// call's context is done, after letting time pass (onBlock). Every other
// call goes through.
type gate struct {
	mu      sync.Mutex
	method  string
	n       int
	seen    int
	reached bool
	onBlock func()
}

func (g *gate) wait(ctx context.Context, method string) error {
	g.mu.Lock()
	block := false
	if method == g.method {
		g.seen++
		block = g.seen == g.n
		g.reached = g.reached || block
	}
	g.mu.Unlock()
	if !block {
		return nil
	}
	g.onBlock()
	<-ctx.Done()
	return ctx.Err()
}

// slowStore is a store whose gated call never answers.
type slowStore struct {
	store.Store
	g *gate
}

func (s slowStore) Snapshot(ctx context.Context, account, userID string, vendors []string) (map[string]connection.VendorSnapshot, error) {
	if err := s.g.wait(ctx, "Snapshot"); err != nil {
		return nil, err
	}
	return s.Store.Snapshot(ctx, account, userID, vendors)
}

func (s slowStore) Apply(ctx context.Context, ops ...store.Op) error {
	if err := s.g.wait(ctx, "Apply"); err != nil {
		return err
	}
	return s.Store.Apply(ctx, ops...)
}

func (s slowStore) ListNotices(ctx context.Context, account, userID string) ([]connection.Notice, error) {
	if err := s.g.wait(ctx, "ListNotices"); err != nil {
		return nil, err
	}
	return s.Store.ListNotices(ctx, account, userID)
}

// slowVault is a vault whose gated call never answers.
type slowVault struct {
	vault.Vault
	g *gate
}

func (v slowVault) Put(ctx context.Context, name string, value []byte) (string, error) {
	if err := v.g.wait(ctx, "Put"); err != nil {
		return "", err
	}
	return v.Vault.Put(ctx, name, value)
}

func (v slowVault) Get(ctx context.Context, name, version string) ([]byte, error) {
	if err := v.g.wait(ctx, "Get"); err != nil {
		return nil, err
	}
	return v.Vault.Get(ctx, name, version)
}

func (v slowVault) Delete(ctx context.Context, name string, recoveryDays int) error {
	if err := v.g.wait(ctx, "Delete"); err != nil {
		return err
	}
	return v.Vault.Delete(ctx, name, recoveryDays)
}

// slowWorld is the service on embedded backends with a gate in front of
// them, its vendors on the sandbox.
type slowWorld struct {
	t     *testing.T
	d     *handlers.Deps
	st    store.Store // behind the gate: what is really stored
	vt    vault.Vault
	sb    *sandboxtest.Sandbox
	g     *gate
	inv   *invocation // the current request's invocation
	log   *sandboxtest.SyncBuffer
	clock *sandboxtest.Clock
}

var (
	slowManager = jwtCaller{"a1", "u1", "appManager"}
	slowMember  = jwtCaller{"a1", "u2", "slowMember"}
)

const (
	slowSettings        = `{"instanceUrl":"https://acme.service-now.com","clientId":"c1","clientSecret":"first-secret"}`
	slowSettingsRotated = `{"instanceUrl":"https://acme.service-now.com","clientId":"c1","clientSecret":"second-secret"}`
)

func newSlowWorld(t *testing.T) *slowWorld {
	t.Helper()
	w := &slowWorld{t: t, st: memstore.New(), vt: memvault.New(), g: &gate{}, log: &sandboxtest.SyncBuffer{},
		clock: sandboxtest.NewClock(time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC))}
	w.sb = sandboxtest.StartSandbox(t, w.clock.Now)
	var bases []string
	for k, v := range w.sb.VendorBaseURLs() {
		bases = append(bases, k+"="+v)
	}
	env := map[string]string{"OAUTH_REDIRECT_URL": sandboxtest.RedirectURL, "VENDOR_BASE_URLS": strings.Join(bases, ","),
		"PRIVATE_VENDOR_HOSTS": strings.TrimPrefix(w.sb.Server.URL, "http://")}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	w.d = &handlers.Deps{
		Config:   cfg,
		Backends: handlers.Backends{Store: slowStore{w.st, w.g}, Vault: slowVault{w.vt, w.g}, Mailer: memmail.New()},
		HTTP:     w.sb.Server.Client(), Now: w.clock.Now,
		Log: slog.New(slog.NewJSONHandler(w.log, nil)),
	}
	app, _ := json.Marshal(provider.Credentials{ClientID: "atl-app", ClientSecret: "atl-app-secret"})
	if _, err := w.vt.Put(t.Context(), cfg.AtlassianClientSecretName, app); err != nil {
		t.Fatal(err)
	}
	return w
}

// block makes the n-th call of method (Snapshot, Apply, ListNotices, Put,
// Get, Delete) hang from now on: the invocation's deadline passes when it
// is reached.
func (w *slowWorld) block(method string, n int) {
	w.g.mu.Lock()
	defer w.g.mu.Unlock()
	w.g.method, w.g.n, w.g.seen, w.g.reached = method, n, 0, false
	w.g.onBlock = func() { w.inv.pass() }
}

// call runs a request as one Lambda invocation.
func (w *slowWorld) call(who jwtCaller, method, path, query, body string) apigw.Response {
	w.t.Helper()
	r, req := routeEvent(w.t, who, method, path, query, body)
	w.inv = newInvocation(time.Hour)
	resp, err := r.Handler(w.d)(w.inv, req)
	if err != nil {
		w.t.Fatalf("%s %s: handler error %v", method, path, err)
	}
	return resp
}

// ok runs a request that must succeed.
func (w *slowWorld) ok(who jwtCaller, method, path, query, body string) string {
	w.t.Helper()
	resp := w.call(who, method, path, query, body)
	if resp.StatusCode/100 != 2 {
		w.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, resp.Body)
	}
	return resp.Body
}

// wantUnavailable checks the answer of a request whose deadline passed at
// the gate: 503 unavailable as JSON, with Retry-After.
func (w *slowWorld) wantUnavailable(resp apigw.Response) {
	w.t.Helper()
	if !w.g.reached {
		w.t.Fatalf("the request never reached the blocked %s: %d %s", w.g.method, resp.StatusCode, resp.Body)
	}
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers["Content-Type"] != "application/json" ||
		json.Unmarshal([]byte(resp.Body), &body) != nil || body.Error.Code != "unavailable" || body.Error.Message == "" {
		w.t.Fatalf("want 503 unavailable as JSON, got %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
	}
	if resp.Headers["Retry-After"] != handlers.RetryAfter {
		w.t.Fatalf("Retry-After %q", resp.Headers["Retry-After"])
	}
	if !strings.Contains(w.log.String(), `"msg":"request deadline passed"`) {
		w.t.Fatalf("no log line for the deadline: %s", w.log.String())
	}
}

// connect runs an authorization of vendor at flow as who, on the sandbox.
func (w *slowWorld) connect(who jwtCaller, vendor, flow string) apigw.Response {
	w.t.Helper()
	base := "/v1/account/integrations/" + vendor
	var u struct{ URL string }
	if err := json.Unmarshal([]byte(w.ok(who, "GET", base+"/oauth2/url", "flow="+flow, "")), &u); err != nil {
		w.t.Fatal(err)
	}
	back := w.sb.Approve(w.t, vendor, u.URL, nil)
	body, _ := json.Marshal(map[string]string{"state": back.State, "code": back.Code})
	return w.call(who, "POST", base+"/oauth2/callback", "", string(body))
}

// TestRequestDeadlineAnswersUnavailable: wherever a request hangs on the
// store or the vault, it ends with 503 unavailable (JSON, Retry-After) when
// its deadline passes, and what is stored is what a failure there leaves:
// the previous state, working.
func TestRequestDeadlineAnswersUnavailable(t *testing.T) {
	settingsOf := func(w *slowWorld) *connection.Settings {
		s, err := store.SettingsOf(t.Context(), w.st, "a1", "servicenow")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("settings: the client secret write hangs", func(t *testing.T) {
		w := newSlowWorld(t)
		w.block("Put", 1)
		w.wantUnavailable(w.call(slowManager, "PUT", "/v1/account/integrations/servicenow/settings", "", slowSettings))
		if s := settingsOf(w); s != nil {
			t.Fatalf("settings stored: %+v", s)
		}
	})
	t.Run("settings: the settings write hangs", func(t *testing.T) {
		w := newSlowWorld(t)
		w.ok(slowManager, "PUT", "/v1/account/integrations/servicenow/settings", "", slowSettings)
		before := settingsOf(w)
		w.block("Apply", 1)
		w.wantUnavailable(w.call(slowManager, "PUT", "/v1/account/integrations/servicenow/settings", "", slowSettingsRotated))
		after := settingsOf(w)
		if after.Version != before.Version || after.ClientSecretVersion != before.ClientSecretVersion {
			t.Fatalf("settings moved: %+v → %+v", before, after)
		}
		if secret, err := w.vt.Get(t.Context(), after.ClientSecretName, after.ClientSecretVersion); err != nil || string(secret) != "first-secret" {
			t.Fatalf("the settings' client secret is %q, %v", secret, err)
		}
	})
	t.Run("list: the read hangs", func(t *testing.T) {
		w := newSlowWorld(t)
		w.block("Snapshot", 1)
		w.wantUnavailable(w.call(slowManager, "GET", "/v1/account/integrations", "", ""))
	})
	t.Run("authorization URL: the client secret read hangs", func(t *testing.T) {
		w := newSlowWorld(t)
		w.ok(slowManager, "PUT", "/v1/account/integrations/servicenow/settings", "", slowSettings)
		w.block("Get", 1)
		w.wantUnavailable(w.call(slowManager, "GET", "/v1/account/integrations/servicenow/oauth2/url", "flow=app", ""))
	})
	for _, vendor := range []string{"servicenow", "confluence"} {
		t.Run("callback of "+vendor+": the tokens write hangs", func(t *testing.T) {
			w := newSlowWorld(t)
			w.ok(slowManager, "PUT", "/v1/account/integrations/servicenow/settings", "", slowSettings)
			w.block("Put", 1)
			w.wantUnavailable(w.connect(slowManager, vendor, "app"))
			if _, err := w.st.GetConnection(t.Context(), connection.AppKey("a1", vendor)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a connection was stored: %v", err)
			}
			// Nothing half-made: connecting again works.
			w.block("", 0)
			if resp := w.connect(slowManager, vendor, "app"); resp.StatusCode != http.StatusOK {
				t.Fatalf("connect after the timeout: %d %s", resp.StatusCode, resp.Body)
			}
		})
	}
	t.Run("callback: the connection write hangs", func(t *testing.T) {
		w := newSlowWorld(t)
		w.ok(slowManager, "PUT", "/v1/account/integrations/servicenow/settings", "", slowSettings)
		w.block("Apply", 1)
		w.wantUnavailable(w.connect(slowManager, "servicenow", "app"))
		if _, err := w.st.GetConnection(t.Context(), connection.AppKey("a1", "servicenow")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a connection was stored: %v", err)
		}
		w.block("", 0)
		if resp := w.connect(slowManager, "servicenow", "app"); resp.StatusCode != http.StatusOK {
			t.Fatalf("connect after the timeout: %d %s", resp.StatusCode, resp.Body)
		}
	})
	t.Run("disconnect: the removal hangs", func(t *testing.T) {
		w := newSlowWorld(t)
		w.ok(slowManager, "PUT", "/v1/account/integrations/servicenow/settings", "", slowSettings)
		if resp := w.connect(slowManager, "servicenow", "app"); resp.StatusCode != http.StatusOK {
			t.Fatalf("connect: %d %s", resp.StatusCode, resp.Body)
		}
		before, err := w.st.GetConnection(t.Context(), connection.AppKey("a1", "servicenow"))
		if err != nil {
			t.Fatal(err)
		}
		w.block("Apply", 1)
		w.wantUnavailable(w.call(slowManager, "DELETE", "/v1/account/integrations/servicenow", "flow=app", ""))
		after, err := w.st.GetConnection(t.Context(), before.Key)
		if err != nil || after.Version != before.Version {
			t.Fatalf("the connection changed: %+v, %v", after, err)
		}
		if _, err := vault.GetTokens(t.Context(), w.vt, after.SecretName, after.SecretVersion); err != nil {
			t.Fatalf("its tokens: %v", err)
		}
	})
	t.Run("disconnect: scheduling the secret's deletion hangs after the removal", func(t *testing.T) {
		w := newSlowWorld(t)
		w.ok(slowManager, "PUT", "/v1/account/integrations/servicenow/settings", "", slowSettings)
		if resp := w.connect(slowManager, "servicenow", "app"); resp.StatusCode != http.StatusOK {
			t.Fatalf("connect: %d %s", resp.StatusCode, resp.Body)
		}
		c, _ := w.st.GetConnection(t.Context(), connection.AppKey("a1", "servicenow"))
		w.block("Delete", 1)
		// The disconnect happened: it says so, and the secret left behind
		// is logged.
		resp := w.call(slowManager, "DELETE", "/v1/account/integrations/servicenow", "flow=app", "")
		if !w.g.reached || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("disconnect: reached %v, %d %s", w.g.reached, resp.StatusCode, resp.Body)
		}
		if _, err := w.st.GetConnection(t.Context(), c.Key); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the connection is still there: %v", err)
		}
		if !strings.Contains(w.log.String(), "could not schedule the secret for deletion") {
			t.Fatalf("the secret left behind is not logged: %s", w.log.String())
		}
	})
	t.Run("notifications: the read hangs", func(t *testing.T) {
		w := newSlowWorld(t)
		w.block("ListNotices", 1)
		w.wantUnavailable(w.call(slowMember, "GET", "/v1/me/notifications", "", ""))
	})
}

// deadlineStore records the deadline of the context its Snapshot gets.
type deadlineStore struct {
	store.Store
	got *time.Time
}

func (s deadlineStore) Snapshot(ctx context.Context, account, userID string, vendors []string) (map[string]connection.VendorSnapshot, error) {
	*s.got, _ = ctx.Deadline()
	return s.Store.Snapshot(ctx, account, userID, vendors)
}

// TestRequestDeadline: a request may work REQUEST_TIMEOUT, and never past
// DeadlineMargin before its invocation's own deadline.
func TestRequestDeadline(t *testing.T) {
	for _, c := range []struct {
		name       string
		timeout    time.Duration
		invocation time.Duration // 0: none
		fromLambda bool          // the deadline is the invocation's minus the margin
	}{
		{"no invocation deadline", 15 * time.Second, 0, false},
		{"the timeout comes first", 15 * time.Second, handlers.FunctionTimeout, false},
		{"the invocation ends first", 15 * time.Second, 10 * time.Second, true},
		{"a short timeout", 100 * time.Millisecond, handlers.FunctionTimeout, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got time.Time
			cfg, _ := config.FromEnv(func(string) string { return "" })
			cfg.RequestTimeout = c.timeout
			d := &handlers.Deps{
				Config: cfg, Backends: handlers.Backends{Store: deadlineStore{memstore.New(), &got}, Vault: memvault.New(), Mailer: memmail.New()},
				Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			}
			ctx := context.Background()
			var end time.Time
			if c.invocation > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.invocation)
				defer cancel()
				end, _ = ctx.Deadline()
			}
			r, req := routeEvent(t, slowManager, "GET", "/v1/account/integrations", "", "")
			start := time.Now()
			resp, err := r.Handler(d)(ctx, req)
			stop := time.Now()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s %v", resp.StatusCode, resp.Body, err)
			}
			if c.fromLambda {
				if want := end.Add(-handlers.DeadlineMargin); !got.Equal(want) {
					t.Fatalf("deadline %v, want the invocation's %v minus %v", got, end, handlers.DeadlineMargin)
				}
				return
			}
			if got.Before(start.Add(c.timeout)) || got.After(stop.Add(c.timeout)) {
				t.Fatalf("deadline %v, want %v after the request's start (%v … %v)", got, c.timeout, start, stop)
			}
		})
	}
}

// TestTemplateTimeouts: every API function's Timeout is FunctionTimeout,
// under API Gateway's 30 s integration timeout, and REQUEST_TIMEOUT leaves
// DeadlineMargin before it, so the service's own 503 always comes first.
func TestTemplateTimeouts(t *testing.T) {
	tmpl := read(t, "../../template.yaml")
	global := regexp.MustCompile(`(?m)^Globals:\n  Function:\n(?:    .*\n)*?    Timeout: (\d+)`).FindStringSubmatch(tmpl)
	if global == nil {
		t.Fatal("template.yaml: no Globals Function Timeout")
	}
	if want := strconv.Itoa(int(handlers.FunctionTimeout / time.Second)); global[1] != want {
		t.Fatalf("Globals Function Timeout %s, handlers.FunctionTimeout %s", global[1], want)
	}
	if handlers.FunctionTimeout >= 30*time.Second {
		t.Fatalf("FunctionTimeout %v is not under API Gateway's 30 s", handlers.FunctionTimeout)
	}
	rt := regexp.MustCompile(`(?m)^        REQUEST_TIMEOUT: (\S+)`).FindStringSubmatch(tmpl)
	if rt == nil {
		t.Fatal("template.yaml declares no REQUEST_TIMEOUT")
	}
	cfg, err := config.FromEnv(func(k string) string {
		if k == "REQUEST_TIMEOUT" {
			return rt[1]
		}
		return ""
	})
	if err != nil || cfg.RequestTimeout+handlers.DeadlineMargin > handlers.FunctionTimeout {
		t.Fatalf("REQUEST_TIMEOUT %s (%v) must leave %v before the %v timeout", rt[1], err, handlers.DeadlineMargin, handlers.FunctionTimeout)
	}
	// No API function overrides the timeout.
	ids := functionIDs(t)
	for _, r := range handlers.Routes {
		start := strings.Index(tmpl, "\n  "+ids[r.Function]+":\n")
		if start < 0 {
			t.Fatalf("no resource %s", ids[r.Function])
		}
		res := tmpl[start+1:]
		if end := regexp.MustCompile(`\n  \w+:\n`).FindStringIndex(res[1:]); end != nil {
			res = res[:end[0]+1]
		}
		if strings.Contains(res, "\n      Timeout:") {
			t.Errorf("%s sets its own Timeout: the API functions share Globals' %v", ids[r.Function], handlers.FunctionTimeout)
		}
	}
}
