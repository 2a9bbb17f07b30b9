package handlers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

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

// documentedCodes are the error codes of the API (README "API"; DESIGN
// §3), issuer_mismatch included for the callback's hardening.
var documentedCodes = map[string]bool{
	"invalid_type": true, "invalid_parameter": true, "invalid_body": true, "invalid_flow": true, "invalid_action": true,
	"invalid_instance": true, "invalid_state": true, "unauthorized": true, "forbidden": true, "unknown_vendor": true,
	"not_found": true, "not_configured": true, "app_not_connected": true, "already_connected": true, "not_connected": true,
	"instance_locked": true, "site_choice_required": true, "site_mismatch": true, "user_mismatch": true,
	"has_user_connections": true, "conflict": true, "authorization_denied": true, "vendor_error": true, "issuer_mismatch": true,
	"reconnect_required": true, "vendor_unavailable": true,
}

// planted is in every secret of the fuzz world: it must never show.
const planted = "pLnT9"

// queryNames are the query parameters each route reads.
var queryNames = map[string][2]string{
	"GET /v1/account/integrations":                     {"type", "includeUserLevelConnectionData"},
	"GET /v1/account/integrations/{vendor}/oauth2/url": {"flow", "action"},
	"DELETE /v1/account/integrations/{vendor}":         {"flow", "cascade"},
	"POST /v1/account/integrations/{vendor}/check":     {"flow", "flow"},
}

// routeWorld is the handlers on fresh embedded backends holding an
// account a1 with ServiceNow settings, a Confluence app connection with
// its tokens (the access token valid for another hour), and a notice; the
// deployment's Atlassian app; no network.
func routeWorld(t *testing.T) (*handlers.Deps, func() map[string]string, *bytes.Buffer) {
	t.Helper()
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)
	mem, vlt, logs := memstore.New(), memvault.New(), &bytes.Buffer{}
	d := &handlers.Deps{
		Config:   cfg,
		Backends: handlers.Backends{Store: mem, Vault: vlt, Mailer: memmail.New()},
		HTTP:     &http.Client{Transport: offline{}},
		Now:      func() time.Time { return now },
		Log:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	app, _ := json.Marshal(provider.Credentials{ClientID: "atl", ClientSecret: "atl-secret-" + planted})
	_, err = vlt.Put(ctx, cfg.AtlassianClientSecretName, app)
	must(err)
	snSecret := vault.ClientSecretName(cfg.SecretPrefix, "a1", "servicenow")
	snVersion, err := vlt.Put(ctx, snSecret, []byte("sn-secret-"+planted))
	must(err)
	must(mem.Apply(ctx, store.PutSettings{Settings: connection.Settings{Account: "a1", Vendor: "servicenow",
		InstanceURL: "https://acme.service-now.com", ClientID: "sn", ClientSecretName: snSecret, ClientSecretVersion: snVersion,
		RefreshTokenLifespanDays: 100, UpdatedAt: now}}))
	k := connection.AppKey("a1", "confluence")
	name := vault.ConnectionSecretName(cfg.SecretPrefix, "a1", "confluence", "app", "")
	version, err := vault.PutTokens(ctx, vlt, name, vault.Tokens{AccessToken: "at-" + planted, RefreshToken: "rt-" + planted})
	must(err)
	must(mem.Apply(ctx, store.CreateConnection{Conn: connection.Connection{Key: k, ID: "c1", Instance: "https://acme.atlassian.net",
		SiteID: "s1", SecretName: name, SecretVersion: version, ConnectedUser: connection.Identity{ID: "vu", Name: "Ada"},
		ConnectedBy: connection.Person{UserID: "u1"}, GrantedAt: now, LastRefreshedAt: now, AccessTokenExpiresAt: now.Add(time.Hour),
		RefreshTokenExpiresAt: now.Add(90 * 24 * time.Hour), CreatedAt: now}}))
	_, _, err = mem.CreateNotice(ctx, connection.Notice{Account: "a1", UserID: "u1", ID: connection.NoticeID(k, connection.NoticeExpiring, 0),
		Vendor: "confluence", Level: connection.LevelApp, Kind: connection.NoticeExpiring, Message: "m", CreatedAt: now})
	must(err)
	dump := func() map[string]string {
		out := mem.Dump()
		for k, v := range vlt.Dump() {
			out["vault "+k] = v
		}
		return out
	}
	return d, dump, logs
}

// FuzzRoutes sends every route of the API any path parameter, query
// parameters, body (plain or base64) and claims (on an internal route, the
// IAM principal: the user argument), through Lambda's own JSON
// (de)serialisation. Whatever comes in: the answer is JSON (or an empty
// 204) that is never cached; never a 5xx (no vendor is reachable, so
// nothing but bad input is at play), except the live check's 503
// vendor_unavailable when a good request needs the vendor; 401 exactly
// when the account or user claim (the principal) is missing; every error
// has a documented code; a refused request leaves every stored item and
// secret byte for byte as it was; and no secret or token shows in an
// answer or a log line — but the access token the token broker exists to
// hand out, in its answer.
func FuzzRoutes(f *testing.F) {
	f.Fuzz(func(t *testing.T, route uint8, param, q1, q2, body, account, user, role string) {
		d, dump, logs := routeWorld(t)
		rt := handlers.Routes[int(route)%len(handlers.Routes)]
		req := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: rt.RouteKey(), RawPath: rt.Path}
		req.RequestContext.RouteKey = rt.RouteKey()
		req.RequestContext.HTTP.Method = rt.Method
		switch {
		case strings.Contains(rt.Path, "{vendor}"):
			req.PathParameters = map[string]string{"vendor": param}
		case strings.Contains(rt.Path, "{id}"):
			req.PathParameters = map[string]string{"id": param}
		}
		if names, ok := queryNames[rt.RouteKey()]; ok {
			q := map[string]string{}
			if route&0x10 != 0 {
				q[names[0]] = q1
			}
			if route&0x20 != 0 {
				q[names[1]] = q2
			}
			if len(q) > 0 {
				req.QueryStringParameters = q
			}
		}
		if rt.Method == http.MethodPut || rt.Method == http.MethodPost {
			req.Body = body
			if route&0x40 != 0 {
				req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(body)), true
			}
		}
		claims := map[string]string{}
		for k, v := range map[string]string{"account_id": account, "sub": user, "role": role, "email": "ada@acme.example", "name": "Ada"} {
			if v != "" {
				claims[k] = v
			}
		}
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
		}
		if rt.Internal() {
			req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: user},
			}
			account = "-" // no claim needed: the principal alone
		}
		raw, _ := json.Marshal(req) // strings and maps: cannot fail

		before := dump()
		out, err := lambda.NewHandler(rt.Handler(d)).Invoke(context.Background(), raw)
		if err != nil {
			t.Fatalf("%s: the handler failed: %v", rt.RouteKey(), err)
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("%s answered %s", rt.RouteKey(), out)
		}
		what := rt.RouteKey() + " " + string(raw)
		vendorNeeded := rt.Function == "connection-check" && resp.StatusCode == http.StatusServiceUnavailable &&
			strings.Contains(resp.Body, `"vendor_unavailable"`)
		if (resp.StatusCode >= 500 && !vendorNeeded) || resp.StatusCode < 200 {
			t.Fatalf("%s: %d %s", what, resp.StatusCode, resp.Body)
		}
		if resp.Headers["Cache-Control"] != "no-store" {
			t.Fatalf("%s: Cache-Control %q", what, resp.Headers["Cache-Control"])
		}
		if resp.StatusCode == http.StatusNoContent {
			if resp.Body != "" {
				t.Fatalf("%s: 204 with a body", what)
			}
		} else if resp.Headers["Content-Type"] != "application/json" || !json.Valid([]byte(resp.Body)) {
			t.Fatalf("%s: %q body %s", what, resp.Headers["Content-Type"], resp.Body)
		}
		if (resp.StatusCode == http.StatusUnauthorized) != (account == "" || user == "") {
			t.Fatalf("%s: %d with account %q, user %q", what, resp.StatusCode, account, user)
		}
		if resp.StatusCode >= 400 {
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal([]byte(resp.Body), &e); err != nil || !documentedCodes[e.Error.Code] || e.Error.Message == "" {
				t.Fatalf("%s: error body %s", what, resp.Body)
			}
			if after := dump(); !maps.Equal(after, before) {
				t.Fatalf("%s: refused with %s, but the store changed:\nbefore %v\nafter  %v", what, e.Error.Code, before, after)
			}
		}
		if strings.Contains(param+q1+q2+body+account+user+role, planted) {
			return // the caller typed it: an echo would be no leak
		}
		answer := resp.Body
		if rt.Internal() && resp.StatusCode == http.StatusOK {
			answer = strings.Replace(answer, `"accessToken":"at-`+planted+`"`, "", 1) // what the broker is for
		}
		if strings.Contains(answer, planted) || strings.Contains(logs.String(), planted) {
			t.Fatalf("%s: a secret leaked: %s\n%s", what, resp.Body, logs)
		}
	})
}
