package localserver_test

// The bad-input catalogue: every route of the API, sent every kind of bad
// request a stranger could send, over the local server's HTTP surface
// (and, for what HTTP cannot carry — a broken base64 body — straight to
// the Lambda handler as an API Gateway event). Each case asserts the
// documented status and error code (README "API"; DESIGN §3), and that
// every stored item and secret is byte for byte what it was before, the
// only exception being a real state that the request consumed (README
// "Known limits": a state is single use, whoever presents it). It runs on
// the embedded backends, and on DynamoDB, Secrets Manager and SES (moto)
// with a table scan and a secret listing as the dump.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/workplace/connections/infra/localserver"
	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vault/sealed"
)

// badCase is one bad request and its documented answer.
type badCase struct {
	name         string
	method, path string
	w            *who
	body         string
	// prep, when set, runs just before the request (before the "before"
	// dump): it issues what the case needs — a real state, a code — and
	// returns the body to send and the state it issued ("" for none).
	prep func(c *catalogue) (body, state string)
	// lambda sends the request straight to the route's handler as an API
	// Gateway event whose body is flagged base64 (what HTTP cannot carry).
	lambda       string // the route key
	lambdaParams map[string]string
	status       int
	code         string
	// spends: the request consumes the state prep issued; everything else
	// stays as it was.
	spends bool
	// detail, when set, is a field the error object must carry, with its
	// value (e.g. vendorError, reason).
	detail [2]string
	// internal sends the request as that internal service
	// (X-Internal-Caller; "-": none), the way the token broker is called.
	internal string
}

// catalogue is a local server with data in two accounts, and how to dump
// everything it stores.
type catalogue struct {
	e      *env
	dump   func() map[string]string
	notice string // one of ada's notice ids
}

func (c *catalogue) t() *testing.T { return c.e.t }

// state issues a state for w (the authorization URL's, not yet used at the
// vendor).
func (c *catalogue) state(w who, vendor, flow, action string) string {
	u, err := url.Parse(c.e.authURL(w, vendor, flow, action))
	if err != nil {
		c.t().Fatal(err)
	}
	return u.Query().Get("state")
}

// approved issues a state for w and lets the sandbox answer it (with
// knobs): what the callback page would post.
func (c *catalogue) approved(w who, vendor, flow, action string, knobs url.Values) url.Values {
	return c.e.approve(c.e.authURL(w, vendor, flow, action), knobs)
}

func body(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// withState is a prep that issues a state for w and sends it in a body
// built from it.
func withState(w who, vendor, flow, action string, build func(state string) string) func(*catalogue) (string, string) {
	return func(c *catalogue) (string, string) {
		st := c.state(w, vendor, flow, action)
		return build(st), st
	}
}

// approvedBy is a prep that runs an authorization for w at the sandbox
// (with knobs) and sends what came back, changed by edit.
func approvedBy(w who, vendor, flow, action string, knobs url.Values, edit func(back url.Values)) func(*catalogue) (string, string) {
	return func(c *catalogue) (string, string) {
		back := c.approved(w, vendor, flow, action, knobs)
		st := back.Get("state")
		if edit != nil {
			edit(back)
		}
		// What the callback page posts: these four, when present.
		m := map[string]string{}
		for _, k := range []string{"state", "code", "error", "error_description"} {
			if back.Has(k) {
				m[k] = back.Get(k)
			}
		}
		b, _ := json.Marshal(m)
		return string(b), st
	}
}

// newCatalogue builds the world the cases run against: account a1 with
// ServiceNow settings, both vendors connected at app level by ada, bob's
// user-level ServiceNow connection, notices from two scans; account a2
// with eve's Confluence connection.
func newCatalogue(t *testing.T, vars map[string]string, dump func(*env) func() map[string]string) *catalogue {
	e := newEnv(t, vars)
	e.saveServiceNowSettings(ada)
	e.connect(ada, "servicenow", "app", "", nil)
	e.connect(ada, "confluence", "app", "", nil)
	e.connect(bob, "servicenow", "user", "", url.Values{"sandbox_user": {"bob"}})
	e.connect(eve, "confluence", "app", "", url.Values{"sandbox_user": {"eve"}, "sandbox_site": {"beta"}})
	e.scan(t0.Add(50 * day)) // keep-alive of the Confluence grants
	e.scan(t0.Add(95 * day)) // ServiceNow's warnings
	ns := e.notifications(ada)
	if len(ns) == 0 {
		t.Fatal("the scans left ada no notice")
	}
	c := &catalogue{e: e, dump: dump(e), notice: ns[0].ID}
	// The dump sees what is there: the four connections, their secrets
	// and the client secrets, the notices, the events.
	var conns, secrets, notices int
	for k := range c.dump() {
		switch {
		case strings.HasPrefix(k, "ACCOUNT#") && strings.Contains(k, " CONN#"):
			conns++
		case strings.HasPrefix(k, "secret "):
			secrets++
		case strings.Contains(k, " NOTICE#"):
			notices++
		}
	}
	// And the events: the four connects and the warnings.
	if n := c.dump()["events"]; n != "6" {
		t.Fatalf("the setup published %s events, want 6", n)
	}
	if conns != 4 || secrets < 8 || notices < 2 {
		t.Fatalf("the dump holds %d connections, %d secret entries, %d notices: %v", conns, secrets, notices, c.dump())
	}
	return c
}

// memoryDump dumps the embedded backends.
func memoryDump(e *env) func() map[string]string {
	st, ok1 := e.deps.Store.(*memstore.Store)
	r, ok2 := e.deps.Vault.(*vault.Router)
	var secrets, sealedStore *memvault.Vault
	if ok2 {
		secrets, ok2 = r.Secrets.(*memvault.Vault)
	}
	if ok2 {
		var s *sealed.Vault
		if s, ok2 = r.Sealed.(*sealed.Vault); ok2 {
			sealedStore, ok2 = s.Store().(*memvault.Vault)
		}
	}
	if !ok1 || !ok2 {
		e.t.Fatalf("embedded backends expected, got %T and %T", e.deps.Store, e.deps.Vault)
	}
	return func() map[string]string {
		out := st.Dump()
		for k, val := range secrets.Dump() {
			out["secret "+k] = val
		}
		for k, val := range sealedStore.Dump() {
			out["sealed "+k] = val
		}
		out["outbox"] = fmt.Sprint(len(e.outbox()))
		out["events"] = fmt.Sprint(len(e.events()))
		return out
	}
}

// awsDump dumps a table (a full scan, every attribute), every secret
// under a prefix (name, deletion, and its versions with their stages: a
// version's value never changes, so a changed value is a new version) and
// how many events the table's stream has published.
func awsDump(cfg aws.Config, table, prefix string) func(*env) func() map[string]string {
	db, sm := dynamodb.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
	return func(e *env) func() map[string]string {
		return func() map[string]string {
			ctx := context.Background()
			out := map[string]string{}
			var start map[string]any
			for {
				in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
				if start != nil {
					in.ExclusiveStartKey, _ = attributevalue.MarshalMap(start)
				}
				page, err := db.Scan(ctx, in)
				if err != nil {
					e.t.Fatalf("scan %s: %v", table, err)
				}
				for _, it := range page.Items {
					var m map[string]any
					if err := attributevalue.UnmarshalMap(it, &m); err != nil {
						e.t.Fatal(err)
					}
					b, _ := json.Marshal(m) // map keys sorted: canonical
					out[fmt.Sprint(m["PK"], " ", m["SK"])] = string(b)
				}
				if len(page.LastEvaluatedKey) == 0 {
					break
				}
				if err := attributevalue.UnmarshalMap(page.LastEvaluatedKey, &start); err != nil {
					e.t.Fatal(err)
				}
			}
			out["events"] = fmt.Sprint(len(e.events()))
			p := secretsmanager.NewListSecretsPaginator(sm, &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					e.t.Fatalf("list secrets: %v", err)
				}
				for _, s := range page.SecretList {
					name := aws.ToString(s.Name)
					if !strings.HasPrefix(name, prefix+"/") {
						continue
					}
					state := "active"
					if s.DeletedDate != nil {
						state = "deleted"
					}
					out["secret "+name] = state
					for id, stages := range s.SecretVersionsToStages {
						stages = slices.Clone(stages)
						sort.Strings(stages)
						out["secret "+name+"@"+id] = strings.Join(stages, ",")
					}
				}
			}
			return out
		}
	}
}

// invokeLambda sends a case straight to its route's handler as an API
// Gateway event with a base64-flagged body.
func (c *catalogue) invokeLambda(bc badCase, body string) reply {
	e := c.e
	var rt handlers.Route
	for _, r := range handlers.Routes {
		if r.RouteKey() == bc.lambda {
			rt = r
		}
	}
	if rt.Handler == nil {
		e.t.Fatalf("no route %s", bc.lambda)
	}
	req := httptest.NewRequest(bc.method, bc.path, nil)
	if bc.w != nil {
		for h, v := range map[string]string{"X-Account-Id": bc.w.account, "X-User-Id": bc.w.user, "X-User-Role": bc.w.role} {
			if v != "" {
				req.Header.Set(h, v)
			}
		}
	}
	ev, err := localserver.Event(req, rt, bc.lambdaParams, e.deps.Config.Claims, e.deps.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	ev.Body, ev.IsBase64Encoded = body, true
	out, err := localserver.Invoke(context.Background(), rt.Handler(e.deps), ev)
	if err != nil {
		e.t.Fatalf("invoke %s: %v", rt.RouteKey(), err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		e.t.Fatalf("%s answered %s", rt.RouteKey(), out)
	}
	h := http.Header{}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	e.checkLambda(bc.method, bc.path, resp.StatusCode, h, resp.Body)
	e.mu.Lock()
	e.bodies = append(e.bodies, fmt.Sprintf("λ %s → %d: %s", rt.RouteKey(), resp.StatusCode, resp.Body))
	e.mu.Unlock()
	return reply{status: resp.StatusCode, header: h, body: []byte(resp.Body)}
}

// run sends every case and checks its answer and the dumps around it.
func (c *catalogue) run(t *testing.T, cases []badCase) {
	seen := map[string]bool{}
	for _, bc := range cases {
		if seen[bc.name] {
			t.Fatalf("two cases named %q", bc.name)
		}
		seen[bc.name] = true
		t.Run(bc.name, func(t *testing.T) {
			defer func(parent *testing.T) { c.e.t = parent }(c.e.t)
			c.e.t = t
			reqBody, st := bc.body, ""
			if bc.prep != nil {
				reqBody, st = bc.prep(c)
			}
			before := c.dump()
			var r reply
			switch {
			case bc.lambda != "":
				r = c.invokeLambda(bc, reqBody)
			case bc.internal != "":
				svc := bc.internal
				if svc == "-" {
					svc = ""
				}
				r = c.e.internalCall(bc.method, bc.path, svc, bc.w, reqBody)
			default:
				r = c.e.call(bc.method, bc.path, bc.w, reqBody)
			}
			c.e.wantError(r, bc.status, bc.code, bc.method+" "+bc.path)
			if bc.detail[0] != "" {
				var out struct {
					Error map[string]any `json:"error"`
				}
				_ = json.Unmarshal(r.body, &out)
				if got := fmt.Sprint(out.Error[bc.detail[0]]); got != bc.detail[1] {
					t.Fatalf("error %s = %q, want %q: %s", bc.detail[0], got, bc.detail[1], r.body)
				}
			}
			after := c.dump()
			want := maps.Clone(before)
			if bc.spends {
				key := "STATE#" + st + " STATE"
				if st == "" || before[key] == "" {
					t.Fatalf("case spends a state but prep issued none (%q)", st)
				}
				delete(want, key)
				// DynamoDB keeps a spent state, marked, until its TTL.
				if strings.Contains(after[key], `"ConsumedBy"`) {
					delete(after, key)
				}
			}
			if !maps.Equal(after, want) {
				var diff []string
				for k := range want {
					if after[k] != want[k] {
						diff = append(diff, fmt.Sprintf("  %s:\n    before %s\n    after  %s", k, want[k], after[k]))
					}
				}
				for k := range after {
					if _, ok := want[k]; !ok {
						diff = append(diff, fmt.Sprintf("  %s: new %s", k, after[k]))
					}
				}
				sort.Strings(diff)
				t.Fatalf("%d: the stored state changed:\n%s", r.status, strings.Join(diff, "\n"))
			}
		})
	}
}

const (
	pathList      = "/v1/account/integrations"
	pathSNSet     = "/v1/account/integrations/servicenow/settings"
	pathCFSet     = "/v1/account/integrations/confluence/settings"
	pathSNURL     = "/v1/account/integrations/servicenow/oauth2/url"
	pathCFURL     = "/v1/account/integrations/confluence/oauth2/url"
	pathSNBack    = "/v1/account/integrations/servicenow/oauth2/callback"
	pathCFBack    = "/v1/account/integrations/confluence/oauth2/callback"
	pathSN        = "/v1/account/integrations/servicenow"
	pathCF        = "/v1/account/integrations/confluence"
	pathNotices   = "/v1/me/notifications"
	madeUpState   = "9b2f6c1e0d4a7b3c8e5f1a2d6c9b0e4f9b2f6c1e0d4a7b3c8e5f1a2d6c9b0e4f"
	routeSettings = "PUT /v1/account/integrations/{vendor}/settings"
	routeCallback = "POST /v1/account/integrations/{vendor}/oauth2/callback"
)

// snBody is a ServiceNow settings body with the given instance URL.
func snBody(instance string) string {
	return body("instanceUrl", instance, "clientId", "acme-client-1", "clientSecret", "another-secret-9c1d")
}

// badCases is the catalogue.
func badCases() []badCase {
	var (
		noRole      = &who{account: "a1", user: "u1"}
		onlyAccount = &who{account: "a1"}
		onlyUser    = &who{user: "u1"}
		lowerRole   = &who{"a1", "u1", "ada@acme.example", "Ada", "appmanager"}
		eveAtA1     = &who{"a1", "u9", "eve@other.example", "Eve", "appManager"} // eve's user id in a1
		adaAtA2     = &who{"a2", "u1", "ada@acme.example", "Ada", "appManager"}  // ada's user id in a2
		deep        = strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
		huge        = `{"instanceUrl":"https://acme.service-now.com","clientId":"` + strings.Repeat("x", 2<<20) + `"}`
		longID      = strings.Repeat("c", 257)
	)
	cases := []badCase{
		// ---- identity ----
		{name: "list without identity", method: "GET", path: pathList, status: 401, code: "unauthorized"},
		{name: "list with only an account", method: "GET", path: pathList, w: onlyAccount, status: 401, code: "unauthorized"},
		{name: "list with only a user", method: "GET", path: pathList, w: onlyUser, status: 401, code: "unauthorized"},
		{name: "settings without identity", method: "PUT", path: pathSNSet, body: snSettings, status: 401, code: "unauthorized"},
		{name: "settings with only a user", method: "PUT", path: pathSNSet, w: onlyUser, body: snSettings, status: 401, code: "unauthorized"},
		{name: "url without identity", method: "GET", path: pathSNURL + "?flow=app&action=reconnect", status: 401, code: "unauthorized"},
		{name: "url with only an account", method: "GET", path: pathCFURL + "?flow=user", w: onlyAccount, status: 401, code: "unauthorized"},
		{name: "callback without identity", method: "POST", path: pathSNBack, body: body("state", madeUpState, "code", "x"), status: 401, code: "unauthorized"},
		{name: "callback with only an account", method: "POST", path: pathCFBack, w: onlyAccount, body: body("state", madeUpState, "code", "x"), status: 401, code: "unauthorized"},
		{name: "callback with a real state but no identity", method: "POST", path: pathSNBack,
			prep: withState(ada, "servicenow", "app", "reconnect", func(s string) string { return body("state", s, "code", "x") }), status: 401, code: "unauthorized"},
		{name: "disconnect without identity", method: "DELETE", path: pathSN + "?flow=app", status: 401, code: "unauthorized"},
		{name: "disconnect with only a user", method: "DELETE", path: pathCF + "?flow=user", w: onlyUser, status: 401, code: "unauthorized"},
		{name: "notifications without identity", method: "GET", path: pathNotices, status: 401, code: "unauthorized"},
		{name: "notifications with only an account", method: "GET", path: pathNotices, w: onlyAccount, status: 401, code: "unauthorized"},
		{name: "dismiss without identity", method: "POST", path: pathNotices + "/n1/dismiss", status: 401, code: "unauthorized"},

		// ---- wrong methods ----
		{name: "POST on the list", method: "POST", path: pathList, w: &ada, body: "{}", status: 405, code: "method_not_allowed"},
		{name: "DELETE on the list", method: "DELETE", path: pathList, w: &ada, status: 405, code: "method_not_allowed"},
		{name: "GET on settings", method: "GET", path: pathSNSet, w: &ada, status: 405, code: "method_not_allowed"},
		{name: "POST on settings", method: "POST", path: pathSNSet, w: &ada, body: snSettings, status: 405, code: "method_not_allowed"},
		{name: "PATCH on settings", method: "PATCH", path: pathSNSet, w: &ada, body: snSettings, status: 405, code: "method_not_allowed"},
		{name: "DELETE on settings", method: "DELETE", path: pathSNSet, w: &ada, status: 405, code: "method_not_allowed"},
		{name: "POST on the url", method: "POST", path: pathSNURL + "?flow=app", w: &ada, status: 405, code: "method_not_allowed"},
		{name: "GET on the callback", method: "GET", path: pathSNBack + "?state=" + madeUpState + "&code=x", w: &ada, status: 405, code: "method_not_allowed"},
		{name: "PUT on the callback", method: "PUT", path: pathCFBack, w: &ada, body: "{}", status: 405, code: "method_not_allowed"},
		{name: "GET on a vendor", method: "GET", path: pathSN, w: &ada, status: 405, code: "method_not_allowed"},
		{name: "POST on a vendor", method: "POST", path: pathCF + "?flow=app", w: &ada, status: 405, code: "method_not_allowed"},
		{name: "DELETE on the notifications", method: "DELETE", path: pathNotices, w: &ada, status: 405, code: "method_not_allowed"},
		{name: "GET on dismiss", method: "GET", path: pathNotices + "/n1/dismiss", w: &ada, status: 405, code: "method_not_allowed"},
		{name: "DELETE on dismiss", method: "DELETE", path: pathNotices + "/n1/dismiss", w: &ada, status: 405, code: "method_not_allowed"},

		// ---- unknown routes and vendors ----
		{name: "unknown route", method: "GET", path: "/v1/account/connections", w: &ada, status: 404, code: "not_found"},
		{name: "route one segment short", method: "GET", path: "/v1/account/integrations/servicenow/oauth2", w: &ada, status: 404, code: "not_found"},
		{name: "route one segment long", method: "GET", path: pathSNURL + "/x", w: &ada, status: 404, code: "not_found"},
		{name: "unknown vendor url", method: "GET", path: "/v1/account/integrations/nosuchvendor/oauth2/url?flow=app", w: &ada, status: 404, code: "unknown_vendor"},
		{name: "vendor in capitals", method: "GET", path: "/v1/account/integrations/ServiceNow/oauth2/url?flow=app&action=reconnect", w: &ada, status: 404, code: "unknown_vendor"},
		{name: "vendor with a space", method: "PUT", path: "/v1/account/integrations/servicenow%20/settings", w: &ada, body: snSettings, status: 404, code: "unknown_vendor"},
		{name: "vendor with a NUL", method: "DELETE", path: "/v1/account/integrations/servicenow%00?flow=app", w: &ada, status: 404, code: "unknown_vendor"},
		{name: "vendor with markup", method: "POST", path: "/v1/account/integrations/%3Cscript%3E/oauth2/callback", w: &ada, body: body("state", madeUpState, "code", "x"), status: 404, code: "unknown_vendor"},
		{name: "vendor of 2000 characters", method: "GET", path: "/v1/account/integrations/" + strings.Repeat("v", 2000) + "/oauth2/url?flow=app", w: &ada, status: 404, code: "unknown_vendor"},
		{name: "vendor with an encoded slash", method: "DELETE", path: "/v1/account/integrations/service%2Fnow?flow=app", w: &ada, status: 404, code: "not_found"},
		{name: "disconnect an unknown vendor", method: "DELETE", path: "/v1/account/integrations/nosuchvendor?flow=user", w: &bob, status: 404, code: "unknown_vendor"},

		// ---- query parameters ----
		{name: "list type unknown", method: "GET", path: pathList + "?type=crm", w: &ada, status: 400, code: "invalid_type"},
		{name: "list type empty", method: "GET", path: pathList + "?type=", w: &ada, status: 400, code: "invalid_type"},
		{name: "list type in another case", method: "GET", path: pathList + "?type=Knowledge", w: &ada, status: 400, code: "invalid_type"},
		{name: "list type repeated", method: "GET", path: pathList + "?type=knowledge&type=knowledge", w: &ada, status: 400, code: "invalid_type"},
		{name: "list type with a NUL", method: "GET", path: pathList + "?type=knowledge%00", w: &ada, status: 400, code: "invalid_type"},
		{name: "list boolean yes", method: "GET", path: pathList + "?includeUserLevelConnectionData=yes", w: &ada, status: 400, code: "invalid_parameter"},
		{name: "list boolean 1", method: "GET", path: pathList + "?includeUserLevelConnectionData=1", w: &ada, status: 400, code: "invalid_parameter"},
		{name: "list boolean in capitals", method: "GET", path: pathList + "?includeUserLevelConnectionData=True", w: &ada, status: 400, code: "invalid_parameter"},
		{name: "list boolean repeated", method: "GET", path: pathList + "?includeUserLevelConnectionData=true&includeUserLevelConnectionData=true", w: &ada, status: 400, code: "invalid_parameter"},
		{name: "url without flow", method: "GET", path: pathSNURL, w: &ada, status: 400, code: "invalid_flow"},
		{name: "url flow empty", method: "GET", path: pathSNURL + "?flow=", w: &ada, status: 400, code: "invalid_flow"},
		{name: "url flow unknown", method: "GET", path: pathCFURL + "?flow=team", w: &ada, status: 400, code: "invalid_flow"},
		{name: "url flow in capitals", method: "GET", path: pathCFURL + "?flow=APP", w: &ada, status: 400, code: "invalid_flow"},
		{name: "url flow repeated", method: "GET", path: pathCFURL + "?flow=app&flow=user", w: &ada, status: 400, code: "invalid_flow"},
		{name: "url action unknown", method: "GET", path: pathSNURL + "?flow=app&action=delete", w: &ada, status: 400, code: "invalid_action"},
		{name: "url action in capitals", method: "GET", path: pathSNURL + "?flow=app&action=Reconnect", w: &ada, status: 400, code: "invalid_action"},
		{name: "url action repeated", method: "GET", path: pathSNURL + "?flow=app&action=reconnect&action=changeUser", w: &ada, status: 400, code: "invalid_action"},
		{name: "url action connect spelled out", method: "GET", path: pathSNURL + "?flow=app&action=connect", w: &ada, status: 400, code: "invalid_action"},
		{name: "disconnect without flow", method: "DELETE", path: pathSN, w: &ada, status: 400, code: "invalid_flow"},
		{name: "disconnect flow unknown", method: "DELETE", path: pathSN + "?flow=all", w: &ada, status: 400, code: "invalid_flow"},
		{name: "disconnect cascade maybe", method: "DELETE", path: pathSN + "?flow=app&cascade=maybe", w: &ada, status: 400, code: "invalid_parameter"},
		{name: "disconnect cascade 1", method: "DELETE", path: pathSN + "?flow=app&cascade=1", w: &ada, status: 400, code: "invalid_parameter"},
		{name: "disconnect cascade repeated", method: "DELETE", path: pathSN + "?flow=app&cascade=true&cascade=true", w: &ada, status: 400, code: "invalid_parameter"},

		// ---- bodies ----
		{name: "settings empty body", method: "PUT", path: pathSNSet, w: &ada, status: 400, code: "invalid_body"},
		{name: "settings blank body", method: "PUT", path: pathSNSet, w: &ada, body: " \n\t ", status: 400, code: "invalid_body"},
		{name: "settings malformed", method: "PUT", path: pathSNSet, w: &ada, body: `{"instanceUrl":`, status: 400, code: "invalid_body"},
		{name: "settings form encoded", method: "PUT", path: pathSNSet, w: &ada, body: "instanceUrl=https://acme.service-now.com&clientId=c", status: 400, code: "invalid_body"},
		{name: "settings array", method: "PUT", path: pathSNSet, w: &ada, body: "[" + snSettings + "]", status: 400, code: "invalid_body"},
		{name: "settings null", method: "PUT", path: pathSNSet, w: &ada, body: "null", status: 400, code: "invalid_body"},
		{name: "settings string", method: "PUT", path: pathSNSet, w: &ada, body: `"https://acme.service-now.com"`, status: 400, code: "invalid_body"},
		{name: "settings number", method: "PUT", path: pathSNSet, w: &ada, body: "42", status: 400, code: "invalid_body"},
		{name: "settings two objects", method: "PUT", path: pathSNSet, w: &ada, body: snSettings + snSettings, status: 400, code: "invalid_body"},
		{name: "settings trailing garbage", method: "PUT", path: pathSNSet, w: &ada, body: snSettings + "}", status: 400, code: "invalid_body"},
		{name: "settings unknown field", method: "PUT", path: pathSNSet, w: &ada, body: `{"instanceUrl":"https://acme.service-now.com","clientId":"c","clientSecret":"s","admin":true}`, status: 400, code: "invalid_body"},
		{name: "settings wrong types", method: "PUT", path: pathSNSet, w: &ada, body: `{"instanceUrl":["https://acme.service-now.com"],"clientId":1}`, status: 400, code: "invalid_body"},
		{name: "settings lifespan as text", method: "PUT", path: pathSNSet, w: &ada, body: `{"instanceUrl":"https://acme.service-now.com","clientId":"acme-client-1","refreshTokenLifespanDays":"100"}`, status: 400, code: "invalid_body"},
		{name: "settings lifespan 0", method: "PUT", path: pathSNSet, w: &ada, body: `{"instanceUrl":"https://acme.service-now.com","clientId":"acme-client-1","refreshTokenLifespanDays":0}`, status: 400, code: "invalid_body"},
		{name: "settings lifespan 3651", method: "PUT", path: pathSNSet, w: &ada, body: `{"instanceUrl":"https://acme.service-now.com","clientId":"acme-client-1","refreshTokenLifespanDays":3651}`, status: 400, code: "invalid_body"},
		{name: "settings lifespan 1e400", method: "PUT", path: pathSNSet, w: &ada, body: `{"instanceUrl":"https://acme.service-now.com","clientId":"acme-client-1","refreshTokenLifespanDays":1e400}`, status: 400, code: "invalid_body"},
		{name: "settings lifespan fraction", method: "PUT", path: pathSNSet, w: &ada, body: `{"instanceUrl":"https://acme.service-now.com","clientId":"acme-client-1","refreshTokenLifespanDays":1.5}`, status: 400, code: "invalid_body"},
		{name: "settings without client id", method: "PUT", path: pathSNSet, w: &ada, body: `{"instanceUrl":"https://acme.service-now.com","clientSecret":"s"}`, status: 400, code: "invalid_body"},
		{name: "settings empty client id", method: "PUT", path: pathSNSet, w: &ada, body: `{"instanceUrl":"https://acme.service-now.com","clientId":"","clientSecret":"s"}`, status: 400, code: "invalid_body"},
		{name: "settings client id too long", method: "PUT", path: pathSNSet, w: &ada, body: `{"instanceUrl":"https://acme.service-now.com","clientId":"` + longID + `","clientSecret":"s"}`, status: 400, code: "invalid_body"},
		{name: "settings empty client secret", method: "PUT", path: pathSNSet, w: &ada, body: `{"instanceUrl":"https://acme.service-now.com","clientId":"acme-client-1","clientSecret":""}`, status: 400, code: "invalid_body"},
		{name: "settings client secret too long", method: "PUT", path: pathSNSet, w: &ada, body: `{"instanceUrl":"https://acme.service-now.com","clientId":"acme-client-1","clientSecret":"` + strings.Repeat("s", 1025) + `"}`, status: 400, code: "invalid_body"},
		{name: "settings siteUrl for ServiceNow", method: "PUT", path: pathSNSet, w: &ada, body: `{"siteUrl":"https://acme.atlassian.net"}`, status: 400, code: "invalid_body"},
		{name: "settings client for Confluence", method: "PUT", path: pathCFSet, w: &ada, body: snSettings, status: 400, code: "invalid_body"},
		{name: "settings deeply nested", method: "PUT", path: pathSNSet, w: &ada, body: `{"instanceUrl":` + deep + `}`, status: 400, code: "invalid_body"},
		{name: "settings over 1 MiB", method: "PUT", path: pathSNSet, w: &ada, body: huge, status: 400, code: "invalid_body"},
		{name: "settings not UTF-8", method: "PUT", path: pathSNSet, w: &ada, body: "\xff\xfe{\"instanceUrl\":\"https://acme.service-now.com\"}", status: 400, code: "invalid_body"},
		{name: "settings with a byte-order mark", method: "PUT", path: pathCFSet, w: &ada, body: "\ufeff{}", status: 400, code: "invalid_body"},
		{name: "settings broken base64", method: "PUT", path: pathSNSet, w: &ada, body: "eyJpbnN0YW5jZVVybCI6%%%", lambda: routeSettings, lambdaParams: map[string]string{"vendor": "servicenow"}, status: 400, code: "invalid_body"},
		{name: "settings base64 of garbage", method: "PUT", path: pathSNSet, w: &ada, body: base64.StdEncoding.EncodeToString([]byte(`{"instanceUrl":`)), lambda: routeSettings, lambdaParams: map[string]string{"vendor": "servicenow"}, status: 400, code: "invalid_body"},
		{name: "settings base64 url alphabet", method: "PUT", path: pathCFSet, w: &ada, body: base64.URLEncoding.EncodeToString([]byte(`{"siteUrl":"https://acme.atlassian.net/??>"}`)), lambda: routeSettings, lambdaParams: map[string]string{"vendor": "confluence"}, status: 400, code: "invalid_body"},
		{name: "callback empty body", method: "POST", path: pathSNBack, w: &ada, status: 400, code: "invalid_body"},
		{name: "callback malformed", method: "POST", path: pathSNBack, w: &ada, body: `{"state":"` + madeUpState, status: 400, code: "invalid_body"},
		{name: "callback form encoded", method: "POST", path: pathSNBack, w: &ada, body: "state=" + madeUpState + "&code=x", status: 400, code: "invalid_body"},
		{name: "callback array", method: "POST", path: pathCFBack, w: &ada, body: `[{"state":"` + madeUpState + `","code":"x"}]`, status: 400, code: "invalid_body"},
		{name: "callback null", method: "POST", path: pathCFBack, w: &ada, body: "null", status: 400, code: "invalid_body"},
		{name: "callback state as a number", method: "POST", path: pathSNBack, w: &ada, body: `{"state":12345,"code":"x"}`, status: 400, code: "invalid_body"},
		{name: "callback code as an object", method: "POST", path: pathSNBack, w: &ada, body: `{"state":"` + madeUpState + `","code":{"$ne":""}}`, status: 400, code: "invalid_body"},
		{name: "callback deeply nested", method: "POST", path: pathCFBack, w: &ada, body: `{"state":` + deep + `}`, status: 400, code: "invalid_body"},
		{name: "callback over 1 MiB", method: "POST", path: pathCFBack, w: &ada, body: `{"state":"` + strings.Repeat("a", 2<<20) + `","code":"x"}`, status: 400, code: "invalid_body"},
		{name: "callback broken base64", method: "POST", path: pathSNBack, w: &ada, body: "!!!not base64!!!", lambda: routeCallback, lambdaParams: map[string]string{"vendor": "servicenow"}, status: 400, code: "invalid_body"},
		{name: "callback base64 of an array", method: "POST", path: pathCFBack, w: &ada, body: base64.StdEncoding.EncodeToString([]byte(`[]`)), lambda: routeCallback, lambdaParams: map[string]string{"vendor": "confluence"}, status: 400, code: "invalid_body"},

		// ---- instance and site URLs ----
		{name: "instance plain http", method: "PUT", path: pathSNSet, w: &ada, body: snBody("http://acme.service-now.com"), status: 400, code: "invalid_instance"},
		{name: "instance other domain", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://acme.example.com"), status: 400, code: "invalid_instance"},
		{name: "instance look-alike domain", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://acme.service-now.com.evil.example"), status: 400, code: "invalid_instance"},
		{name: "instance path trick", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://evil.example/.service-now.com"), status: 400, code: "invalid_instance"},
		{name: "instance userinfo trick", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://acme.service-now.com@evil.example"), status: 400, code: "invalid_instance"},
		{name: "instance with userinfo", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://user:pw@acme.service-now.com"), status: 400, code: "invalid_instance"},
		{name: "instance with a port", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://acme.service-now.com:8443"), status: 400, code: "invalid_instance"},
		{name: "instance with the default port", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://acme.service-now.com:443"), status: 400, code: "invalid_instance"},
		{name: "instance with a path", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://acme.service-now.com/oauth_token.do"), status: 400, code: "invalid_instance"},
		{name: "instance with a query", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://acme.service-now.com?x=1"), status: 400, code: "invalid_instance"},
		{name: "instance with a fragment", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://acme.service-now.com#x"), status: 400, code: "invalid_instance"},
		{name: "instance two labels", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://a.b.service-now.com"), status: 400, code: "invalid_instance"},
		{name: "instance trailing dot", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://acme.service-now.com."), status: 400, code: "invalid_instance"},
		{name: "instance IPv4 loopback", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://127.0.0.1"), status: 400, code: "invalid_instance"},
		{name: "instance metadata address", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://169.254.169.254"), status: 400, code: "invalid_instance"},
		{name: "instance decimal IPv4", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://2130706433"), status: 400, code: "invalid_instance"},
		{name: "instance IPv6", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://[::1]"), status: 400, code: "invalid_instance"},
		{name: "instance IPv4-mapped IPv6", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://[::ffff:169.254.169.254]"), status: 400, code: "invalid_instance"},
		{name: "instance NAT64 of the metadata address", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://[64:ff9b::a9fe:a9fe]"), status: 400, code: "invalid_instance"},
		{name: "instance localhost", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://localhost"), status: 400, code: "invalid_instance"},
		{name: "instance javascript", method: "PUT", path: pathSNSet, w: &ada, body: snBody("javascript:alert(1)"), status: 400, code: "invalid_instance"},
		{name: "instance without scheme", method: "PUT", path: pathSNSet, w: &ada, body: snBody("acme.service-now.com"), status: 400, code: "invalid_instance"},
		{name: "instance non-ASCII label", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://acmé.service-now.com"), status: 400, code: "invalid_instance"},
		{name: "instance empty", method: "PUT", path: pathSNSet, w: &ada, body: snBody(""), status: 400, code: "invalid_instance"},
		{name: "site other domain", method: "PUT", path: pathCFSet, w: &ada, body: `{"siteUrl":"https://acme.atlassian.com"}`, status: 400, code: "invalid_instance"},
		{name: "site plain http", method: "PUT", path: pathCFSet, w: &ada, body: `{"siteUrl":"http://acme.atlassian.net"}`, status: 400, code: "invalid_instance"},
		{name: "site with a path", method: "PUT", path: pathCFSet, w: &ada, body: `{"siteUrl":"https://acme.atlassian.net/wiki"}`, status: 400, code: "invalid_instance"},
		{name: "site IP literal", method: "PUT", path: pathCFSet, w: &ada, body: `{"siteUrl":"https://10.0.0.1"}`, status: 400, code: "invalid_instance"},
		{name: "move a connected instance", method: "PUT", path: pathSNSet, w: &ada, body: snBody("https://other.service-now.com"), status: 409, code: "instance_locked"},
		{name: "change the client of a connected instance", method: "PUT", path: pathSNSet, w: &ada, body: `{"instanceUrl":"https://acme.service-now.com","clientId":"another-client","clientSecret":"s"}`, status: 409, code: "instance_locked"},
		{name: "move a connected site", method: "PUT", path: pathCFSet, w: &ada, body: `{"siteUrl":"https://beta.atlassian.net"}`, status: 409, code: "instance_locked"},

		// ---- roles ----
		{name: "settings by a plain user", method: "PUT", path: pathSNSet, w: &bob, body: snSettings, status: 403, code: "forbidden"},
		{name: "settings without a role", method: "PUT", path: pathCFSet, w: noRole, body: "{}", status: 403, code: "forbidden"},
		{name: "settings by a role in other case", method: "PUT", path: pathSNSet, w: lowerRole, body: snSettings, status: 403, code: "forbidden"},
		{name: "app url by a plain user", method: "GET", path: pathSNURL + "?flow=app&action=reconnect", w: &bob, status: 403, code: "forbidden"},
		{name: "app url without a role", method: "GET", path: pathCFURL + "?flow=app&action=changeUser", w: noRole, status: 403, code: "forbidden"},
		{name: "app disconnect by a plain user", method: "DELETE", path: pathCF + "?flow=app", w: &bob, status: 403, code: "forbidden"},
		{name: "app callback by someone whose role was taken", method: "POST", path: pathCFBack, w: &who{"a1", "u3", "cat@acme.example", "Cat", "member"},
			prep: approvedBy(cat, "confluence", "app", "reconnect", nil, nil), status: 403, code: "forbidden", spends: true},

		// ---- pre-checks in their documented order ----
		{name: "connect again", method: "GET", path: pathSNURL + "?flow=app", w: &ada, status: 409, code: "already_connected"},
		{name: "connect a user level again", method: "GET", path: pathSNURL + "?flow=user", w: &bob, status: 409, code: "already_connected"},
		{name: "reconnect a user level that does not exist", method: "GET", path: pathCFURL + "?flow=user&action=reconnect", w: &bob, status: 409, code: "not_connected"},
		{name: "user level before the app level", method: "GET", path: pathCFURL + "?flow=user", w: &who{"a3", "u8", "x@third.example", "X", ""}, status: 409, code: "app_not_connected"},
		{name: "url of a vendor without settings", method: "GET", path: pathSNURL + "?flow=user", w: &who{"a2", "u8", "x@other.example", "X", ""}, status: 409, code: "not_configured"},
		{name: "disconnect an app level with users", method: "DELETE", path: pathSN + "?flow=app", w: &ada, status: 409, code: "has_user_connections"},
		{name: "disconnect a user level that does not exist", method: "DELETE", path: pathCF + "?flow=user", w: &bob, status: 404, code: "not_connected"},

		// ---- states and codes ----
		{name: "made-up state", method: "POST", path: pathSNBack, w: &ada, body: body("state", madeUpState, "code", "x"), status: 400, code: "invalid_state"},
		{name: "state in capitals", method: "POST", path: pathSNBack, w: &ada,
			prep: withState(ada, "servicenow", "app", "reconnect", func(s string) string { return body("state", strings.ToUpper(s), "code", "x") }), status: 400, code: "invalid_state"},
		{name: "state cut short, with a code", method: "POST", path: pathSNBack, w: &ada,
			prep: withState(ada, "servicenow", "app", "reconnect", func(s string) string { return body("state", s[:len(s)/2], "code", "x") }), status: 400, code: "invalid_state"},
		{name: "state one character short, with a code", method: "POST", path: pathCFBack, w: &ada,
			prep: withState(ada, "confluence", "app", "reconnect", func(s string) string { return body("state", s[:len(s)-1], "code", "x") }), status: 400, code: "invalid_state"},
		{name: "state extended", method: "POST", path: pathCFBack, w: &ada,
			prep: withState(ada, "confluence", "app", "reconnect", func(s string) string { return body("state", s+"0", "code", "x") }), status: 400, code: "invalid_state"},
		{name: "state with spaces around", method: "POST", path: pathCFBack, w: &ada,
			prep: withState(ada, "confluence", "app", "reconnect", func(s string) string { return body("state", " "+s+" ", "code", "x") }), status: 400, code: "invalid_state"},
		{name: "state empty", method: "POST", path: pathSNBack, w: &ada, body: body("state", "", "code", "x"), status: 400, code: "invalid_state"},
		{name: "state missing", method: "POST", path: pathSNBack, w: &ada, body: body("code", "x"), status: 400, code: "invalid_state"},
		{name: "state of 600 characters", method: "POST", path: pathSNBack, w: &ada, body: body("state", strings.Repeat("ab", 300), "code", "x"), status: 400, code: "invalid_state"},
		{name: "state that looks like a key", method: "POST", path: pathSNBack, w: &ada, body: body("state", "x STATE", "code", "x"), status: 400, code: "invalid_state"},
		{name: "real state without code or error", method: "POST", path: pathSNBack, w: &ada,
			prep: withState(ada, "servicenow", "app", "reconnect", func(s string) string { return body("state", s) }), status: 400, code: "invalid_body"},
		{name: "real state and a made-up code", method: "POST", path: pathSNBack, w: &ada,
			prep: withState(ada, "servicenow", "app", "reconnect", func(s string) string { return body("state", s, "code", "made-up-code") }), status: 502, code: "vendor_error", spends: true},
		{name: "real state and a code of another grant", method: "POST", path: pathCFBack, w: &ada,
			prep: func(c *catalogue) (string, string) {
				other := c.approved(ada, "confluence", "app", "reconnect", nil)
				st := c.state(ada, "confluence", "app", "reconnect")
				return body("state", st, "code", other.Get("code")+"x"), st
			}, status: 502, code: "vendor_error", spends: true},
		{name: "real state, consent denied", method: "POST", path: pathSNBack, w: &ada,
			prep: approvedBy(ada, "servicenow", "app", "reconnect", url.Values{"sandbox_deny": {"1"}}, nil), status: 400, code: "authorization_denied", spends: true,
			detail: [2]string{"vendorError", "access_denied"}},
		{name: "state used twice", method: "POST", path: pathSNBack, w: &ada,
			prep: func(c *catalogue) (string, string) {
				back := c.approved(ada, "servicenow", "app", "reconnect", url.Values{"sandbox_deny": {"1"}})
				first := c.e.callback(ada, "servicenow", back)
				c.e.wantError(first, 400, "authorization_denied", "first use")
				return body("state", back.Get("state"), "code", "x"), ""
			}, status: 400, code: "invalid_state"},
		{name: "state of another user", method: "POST", path: pathSNBack, w: &ada,
			prep: approvedBy(cat, "servicenow", "app", "reconnect", nil, nil), status: 400, code: "invalid_state", spends: true},
		{name: "state of another vendor", method: "POST", path: pathSNBack, w: &ada,
			prep: approvedBy(ada, "confluence", "app", "reconnect", nil, nil), status: 400, code: "invalid_state", spends: true},
		{name: "state of another account's user with the same id", method: "POST", path: pathCFBack, w: adaAtA2,
			prep: approvedBy(ada, "confluence", "app", "reconnect", nil, nil), status: 400, code: "invalid_state", spends: true},
		{name: "state expired", method: "POST", path: pathSNBack, w: &ada,
			prep: func(c *catalogue) (string, string) {
				back := c.approved(ada, "servicenow", "app", "reconnect", nil)
				issued := c.e.clock.Now()
				c.e.clock.Set(issued.Add(11 * time.Minute))
				c.t().Cleanup(func() { c.e.clock.Set(issued) })
				return body("state", back.Get("state"), "code", back.Get("code")), back.Get("state")
			}, status: 400, code: "invalid_state", spends: true},
		{name: "reconnect by another vendor user", method: "POST", path: pathSNBack, w: &ada,
			prep: approvedBy(ada, "servicenow", "app", "reconnect", url.Values{"sandbox_user": {"carol"}}, nil), status: 409, code: "user_mismatch", spends: true},
		{name: "change user onto another site", method: "POST", path: pathCFBack, w: &ada,
			prep: approvedBy(ada, "confluence", "app", "changeUser", url.Values{"sandbox_user": {"dave"}, "sandbox_site": {"beta"}}, nil), status: 409, code: "site_mismatch", spends: true},
		{name: "user level on another site than the app", method: "POST", path: pathCFBack, w: &bob,
			prep: approvedBy(bob, "confluence", "user", "", url.Values{"sandbox_user": {"bob"}, "sandbox_site": {"beta"}}, nil), status: 409, code: "site_mismatch", spends: true},

		// ---- other accounts and users ----
		{name: "dismiss another user's notice", method: "POST", w: &bob, status: 404, code: "not_found"},
		{name: "dismiss another account's notice", method: "POST", w: eveAtA1, status: 404, code: "not_found"},
		{name: "dismiss a notice id of another shape", method: "POST", path: pathNotices + "/x%20y%27%3B/dismiss", w: &ada, status: 404, code: "not_found"},
		{name: "dismiss an id that names a key", method: "POST", path: pathNotices + "/NOTICE%23u1%23x/dismiss", w: &ada, status: 404, code: "not_found"},
		{name: "another account reconnects", method: "GET", path: pathSNURL + "?flow=app&action=reconnect", w: &eve, status: 409, code: "not_configured"},
		{name: "another account disconnects", method: "DELETE", path: pathSN + "?flow=app", w: &eve, status: 404, code: "not_connected"},
		{name: "another account's user disconnects a user level", method: "DELETE", path: pathSN + "?flow=user", w: &who{"a2", "u2", "bob@acme.example", "Bob", ""}, status: 404, code: "not_connected"},
		{name: "a manager of another account moves that account's site", method: "PUT", path: pathCFSet, w: adaAtA2, body: `{"siteUrl":"https://acme.atlassian.net"}`, status: 409, code: "instance_locked"},
	}
	return cases
}

// hardenedCases are the callback's hardening rules (DESIGN §3 "Callback
// hardening").
func hardenedCases() []badCase {
	cases := []badCase{
		// Unknown fields are ignored: a made-up state is then what is wrong.
		{name: "hardened: unknown field session_state", method: "POST", path: pathSNBack, w: &ada,
			body: body("state", madeUpState, "code", "x", "session_state", "abc"), status: 400, code: "invalid_state"},
		{name: "hardened: unknown fields of every kind", method: "POST", path: pathCFBack, w: &ada,
			body: `{"state":"` + madeUpState + `","code":"x","extra":{"a":[1,2]},"n":1}`, status: 400, code: "invalid_state"},
		// A state of the wrong length or charset is invalid_state, with or
		// without a code.
		{name: "hardened: truncated state without a code", method: "POST", path: pathSNBack, w: &ada,
			prep: withState(ada, "servicenow", "app", "reconnect", func(s string) string { return body("state", s[:len(s)/2]) }), status: 400, code: "invalid_state"},
		{name: "hardened: state of another charset without a code", method: "POST", path: pathSNBack, w: &ada,
			body: body("state", strings.Repeat("z", 64)), status: 400, code: "invalid_state"},
	}
	// Authorization errors other than access_denied are configuration or
	// vendor problems: 502 vendor_error with vendorError.
	for _, code := range []string{"invalid_request", "unauthorized_client", "invalid_scope", "server_error", "temporarily_unavailable", "unsupported_response_type"} {
		cases = append(cases, badCase{name: "hardened: authorization error " + code, method: "POST", path: pathSNBack, w: &ada,
			prep: withState(ada, "servicenow", "app", "reconnect", func(s string) string {
				return body("state", s, "error", code, "error_description", "the vendor's words")
			}), status: 502, code: "vendor_error", spends: true, detail: [2]string{"vendorError", code}})
	}
	cases = append(cases,
		badCase{name: "hardened: authorization error of no standard", method: "POST", path: pathCFBack, w: &ada,
			prep: withState(ada, "confluence", "app", "reconnect", func(s string) string {
				return body("state", s, "error", "<b>boom</b>")
			}), status: 502, code: "vendor_error", spends: true, detail: [2]string{"vendorError", "unrecognised_error"}},
		// A grant without a refresh token is never stored as healthy.
		badCase{name: "hardened: reconnect without a refresh token", method: "POST", path: pathSNBack, w: &ada,
			prep:   approvedBy(ada, "servicenow", "app", "reconnect", url.Values{"sandbox_no_refresh": {"1"}}, nil),
			status: 502, code: "vendor_error", spends: true, detail: [2]string{"reason", "no_refresh_token"}},
		badCase{name: "hardened: Confluence reconnect without a refresh token", method: "POST", path: pathCFBack, w: &ada,
			prep:   approvedBy(ada, "confluence", "app", "reconnect", url.Values{"sandbox_no_refresh": {"1"}}, nil),
			status: 502, code: "vendor_error", spends: true, detail: [2]string{"reason", "no_refresh_token"}},
		// Scopes the registry requires must be granted (here every
		// Confluence scope but the content ones).
		badCase{name: "hardened: reconnect without a required scope", method: "POST", path: pathCFBack, w: &ada,
			prep:   approvedBy(ada, "confluence", "app", "reconnect", url.Values{"sandbox_scope": {"read:me offline_access"}}, nil),
			status: 502, code: "vendor_error", spends: true, detail: [2]string{"reason", "scope_not_granted"}},
	)
	return cases
}

// fixNoticeCases fills in the cases that need one of ada's notice ids.
func fixNoticeCases(cases []badCase, notice string) []badCase {
	for i := range cases {
		switch cases[i].name {
		case "dismiss another user's notice", "dismiss another account's notice":
			cases[i].path = pathNotices + "/" + url.PathEscape(notice) + "/dismiss"
		}
	}
	return cases
}

// brokerCases are the token broker's and the live check's bad requests.
func brokerCases() []badCase {
	const (
		pathToken   = "/v1/internal/token"
		pathSNCheck = "/v1/account/integrations/servicenow/check"
		svc         = "search-connector"
	)
	token := func(name, b string, status int, code string) badCase {
		return badCase{name: "token: " + name, method: "POST", path: pathToken, internal: svc, body: b, status: status, code: code}
	}
	return []badCase{
		{name: "token: no internal caller (a person's headers)", method: "POST", path: pathToken, internal: "-", w: &ada,
			body: `{"account":"a1","vendor":"servicenow"}`, status: 401, code: "unauthorized"},
		{name: "token: no identity at all", method: "POST", path: pathToken, internal: "-",
			body: `{"account":"a1","vendor":"servicenow"}`, status: 401, code: "unauthorized"},
		{name: "token: GET", method: "GET", path: pathToken, internal: svc, status: 405, code: "method_not_allowed"},
		token("empty body", "", 400, "invalid_body"),
		token("not JSON", "account=a1", 400, "invalid_body"),
		token("an array", `[{"account":"a1","vendor":"servicenow"}]`, 400, "invalid_body"),
		token("null", "null", 400, "invalid_body"),
		token("an unknown field", `{"account":"a1","vendor":"servicenow","scope":"all"}`, 400, "invalid_body"),
		token("two objects", `{"account":"a1","vendor":"servicenow"}{}`, 400, "invalid_body"),
		token("no account", `{"vendor":"servicenow"}`, 400, "invalid_body"),
		token("no vendor", `{"account":"a1"}`, 400, "invalid_body"),
		token("account not a string", `{"account":1,"vendor":"servicenow"}`, 400, "invalid_body"),
		token("minValiditySeconds a string", `{"account":"a1","vendor":"servicenow","minValiditySeconds":"300"}`, 400, "invalid_body"),
		token("minValiditySeconds a fraction", `{"account":"a1","vendor":"servicenow","minValiditySeconds":1.5}`, 400, "invalid_body"),
		token("minValiditySeconds negative", `{"account":"a1","vendor":"servicenow","minValiditySeconds":-1}`, 400, "invalid_parameter"),
		token("minValiditySeconds past 3000", `{"account":"a1","vendor":"servicenow","minValiditySeconds":3001}`, 400, "invalid_parameter"),
		token("fallback unknown", `{"account":"a1","vendor":"servicenow","user":"u2","fallback":"system"}`, 400, "invalid_parameter"),
		token("account too long", `{"account":"`+strings.Repeat("a", 257)+`","vendor":"servicenow"}`, 400, "invalid_parameter"),
		token("user with a control character", `{"account":"a1","vendor":"servicenow","user":"u\u0000"}`, 400, "invalid_parameter"),
		token("unknown vendor", `{"account":"a1","vendor":"nosuchvendor"}`, 404, "unknown_vendor"),
		token("vendor in capitals", `{"account":"a1","vendor":"ServiceNow"}`, 404, "unknown_vendor"),
		token("an account with nothing", `{"account":"a3","vendor":"servicenow"}`, 404, "not_connected"),
		token("a user with nothing", `{"account":"a1","vendor":"servicenow","user":"u9"}`, 404, "not_connected"),
		token("a user with nothing, fallback none", `{"account":"a1","vendor":"confluence","user":"u2","fallback":"none"}`, 404, "not_connected"),
		token("another account's vendor", `{"account":"a2","vendor":"servicenow"}`, 404, "not_connected"),

		{name: "check without identity", method: "POST", path: pathSNCheck + "?flow=app", status: 401, code: "unauthorized"},
		{name: "check with only an account", method: "POST", path: pathSNCheck + "?flow=app", w: &who{account: "a1"}, status: 401, code: "unauthorized"},
		{name: "GET on check", method: "GET", path: pathSNCheck + "?flow=app", w: &ada, status: 405, code: "method_not_allowed"},
		{name: "check without flow", method: "POST", path: pathSNCheck, w: &ada, status: 400, code: "invalid_flow"},
		{name: "check with flow system", method: "POST", path: pathSNCheck + "?flow=system", w: &ada, status: 400, code: "invalid_flow"},
		{name: "check of an unknown vendor", method: "POST", path: "/v1/account/integrations/nosuchvendor/check?flow=app", w: &ada, status: 404, code: "unknown_vendor"},
		{name: "check of the app level by a plain user", method: "POST", path: pathSNCheck + "?flow=app", w: &bob, status: 403, code: "forbidden"},
		{name: "check of a user level never made", method: "POST", path: "/v1/account/integrations/confluence/check?flow=user", w: &bob, status: 404, code: "not_connected"},
		{name: "check of another account's vendor", method: "POST", path: pathSNCheck + "?flow=app", w: &eve, status: 404, code: "not_connected"},
	}
}

func catalogueCases(notice string) []badCase {
	return append(append(fixNoticeCases(badCases(), notice), hardenedCases()...), brokerCases()...)
}

// TestBadInputCatalogue runs the catalogue on the embedded backends.
func TestBadInputCatalogue(t *testing.T) {
	c := newCatalogue(t, nil, memoryDump)
	cases := catalogueCases(c.notice)
	if n := len(badCases()); n < 100 {
		t.Fatalf("the catalogue has %d cases; it promises at least 100", n)
	}
	c.run(t, cases)
	c.e.assertNoLeaks()
}

// TestBadInputCatalogueOnAWS runs it on DynamoDB, Secrets Manager and SES
// (moto), dumping the table with a scan and the secrets with a listing.
func TestBadInputCatalogueOnAWS(t *testing.T) {
	moto := awstest.Moto(t)
	t.Setenv("AWS_ENDPOINT_URL", moto.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_REGION", "us-east-1")
	table, prefix := awstest.Unique("catalogue"), awstest.Unique("catalogue")
	vars := map[string]string{
		"BACKEND": "aws", "AWS_ENDPOINT_URL": moto.URL, "TABLE_NAME": table, "SECRET_PREFIX": prefix,
		"MAIL_FROM": "no-reply@acme.example",
	}
	c := newCatalogue(t, vars, awsDump(moto.Config(t), table, prefix))
	c.run(t, catalogueCases(c.notice))
	c.e.assertNoLeaks()
}
