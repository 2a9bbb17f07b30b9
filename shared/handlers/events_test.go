package handlers_test

// Every sample event in events/ goes through the handler its Lambda runs,
// with lambda.NewHandler(h).Invoke on the file's raw bytes: exactly Lambda's
// JSON (de)serialisation. The handlers run on the embedded backends with
// Deps built by hand from the sam-local environment file (events/env.json).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/audit"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/eventbus"
	"github.com/workplace/connections/shared/eventbus/membus"
	"github.com/workplace/connections/shared/expiry"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/integrations"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/notices"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vendors"
)

const (
	eventsDir = "../../events"
	envFile   = "env.json" // sam local's --env-vars file, not an event

	// What the samples carry.
	sampleAccount = "acct-demo"
	sampleUser    = "user-ada"
	sampleSecret  = "example-secret"
)

// sampleTime is the samples' request time.
var sampleTime = time.Date(2027, 1, 20, 10, 0, 0, 0, time.UTC)

// offline is the vendors' transport: no sample may reach the network.
type offline struct{}

func (offline) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, errors.New("offline: no vendor calls in the sample tests (" + r.URL.Host + ")")
}

// samples are the files of events/, by name, raw.
func samples(t *testing.T) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(eventsDir)
	if err != nil {
		t.Fatalf("read %s: %v", eventsDir, err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(eventsDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	if len(out) == 0 {
		t.Fatalf("no files in %s", eventsDir)
	}
	return out
}

// sampleEnv is the Parameters of events/env.json, as a getenv.
func sampleEnv(t *testing.T) func(string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(eventsDir, envFile))
	if err != nil {
		t.Fatalf("read %s: %v", envFile, err)
	}
	var f struct {
		Parameters map[string]string `json:"Parameters"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || len(f.Parameters) == 0 {
		t.Fatalf("%s is not {\"Parameters\":{…}}: %v", envFile, err)
	}
	return func(k string) string { return f.Parameters[k] }
}

// harness is one set of handlers on fresh embedded backends (the
// stream's records decode as DynamoDB's do).
type harness struct {
	d      *handlers.Deps
	outbox *memmail.Outbox
	bus    *membus.Bus
	log    *sandboxtest.SyncBuffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	cfg, err := config.FromEnv(sampleEnv(t))
	if err != nil {
		t.Fatalf("config from %s: %v", envFile, err)
	}
	h := &harness{log: &sandboxtest.SyncBuffer{}, outbox: memmail.New(), bus: membus.New()}
	h.d = &handlers.Deps{
		Config: cfg,
		Backends: handlers.Backends{Store: memstore.New(), Vault: memvault.New(), Mailer: h.outbox,
			Bus: h.bus, Stream: dynamostore.AuditFromStreamRecord},
		HTTP: &http.Client{Transport: offline{}},
		Now:  func() time.Time { return sampleTime },
		Log:  slog.New(slog.NewJSONHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return h
}

// routeFor finds a route of the HTTP API by its route key.
func routeFor(key string) (handlers.Route, bool) {
	for _, r := range handlers.Routes {
		if r.RouteKey() == key {
			return r, true
		}
	}
	return handlers.Route{}, false
}

// invokeAPI runs a sample through its route's handler as Lambda would.
func (h *harness) invokeAPI(t *testing.T, raw []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ev := decodeAPIEvent(t, raw)
	rt, ok := routeFor(ev.RouteKey)
	if !ok {
		t.Fatalf("routeKey %q is no route of handlers.Routes", ev.RouteKey)
	}
	out, err := lambda.NewHandler(rt.Handler(h.d)).Invoke(context.Background(), raw)
	if err != nil {
		t.Fatalf("invoke %s: %v", rt.RouteKey(), err)
	}
	var resp events.APIGatewayV2HTTPResponse
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil {
		t.Fatalf("%s answered something that is not an HTTP API response: %s", rt.RouteKey(), out)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 599 {
		t.Fatalf("%s: status %d", rt.RouteKey(), resp.StatusCode)
	}
	if resp.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("%s: Cache-Control %q", rt.RouteKey(), resp.Headers["Cache-Control"])
	}
	if resp.IsBase64Encoded {
		t.Fatalf("%s: a base64 body", rt.RouteKey())
	}
	if resp.StatusCode == http.StatusNoContent {
		if resp.Body != "" {
			t.Fatalf("%s: 204 with a body %q", rt.RouteKey(), resp.Body)
		}
		return resp
	}
	if ct := resp.Headers["Content-Type"]; ct != "application/json" {
		t.Fatalf("%s: Content-Type %q", rt.RouteKey(), ct)
	}
	if !json.Valid([]byte(resp.Body)) {
		t.Fatalf("%s: body is not JSON: %s", rt.RouteKey(), resp.Body)
	}
	if strings.Contains(resp.Body, sampleSecret) {
		t.Fatalf("%s: the client secret is in the answer: %s", rt.RouteKey(), resp.Body)
	}
	return resp
}

// invokeScan runs the scheduled sample through the scan handler.
func (h *harness) invokeScan(t *testing.T, raw []byte) expiry.Report {
	t.Helper()
	decodeScheduledEvent(t, raw)
	out, err := lambda.NewHandler(handlers.ExpiryScan(h.d)).Invoke(context.Background(), raw)
	if err != nil {
		t.Fatalf("invoke expiry-scan: %v", err)
	}
	var rep expiry.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("expiry-scan answered %s: %v", out, err)
	}
	return rep
}

// invokeStream runs the stream sample through the event publisher's
// handler as Lambda would, after checking that the mapping's filter lets
// each of its records through.
func (h *harness) invokeStream(t *testing.T, raw []byte) events.DynamoDBEventResponse {
	t.Helper()
	ev := decodeStreamEvent(t, raw)
	f := streamFilter(t)
	for _, r := range ev.Records {
		if !f.matches(t, r) {
			t.Fatalf("record %s does not pass the event source mapping's filter", r.Change.SequenceNumber)
		}
	}
	out, err := lambda.NewHandler(handlers.EventPublisher(h.d)).Invoke(context.Background(), raw)
	if err != nil {
		t.Fatalf("invoke event-publisher: %v", err)
	}
	var resp events.DynamoDBEventResponse
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil || resp.BatchItemFailures == nil {
		t.Fatalf("event-publisher answered %s, not a partial batch response (%v)", out, err)
	}
	return resp
}

// decodeStreamEvent decodes the stream sample strictly: DynamoDB Stream
// records with new images.
func decodeStreamEvent(t *testing.T, raw []byte) events.DynamoDBEvent {
	t.Helper()
	var ev events.DynamoDBEvent
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("not a DynamoDB Stream event: %v", err)
	}
	if len(ev.Records) == 0 {
		t.Fatal("no records")
	}
	for _, r := range ev.Records {
		if r.EventSource != "aws:dynamodb" || !strings.Contains(r.EventSourceArn, ":table/") || !strings.Contains(r.EventSourceArn, "/stream/") ||
			r.Change.SequenceNumber == "" || r.Change.StreamViewType != "NEW_IMAGE" || len(r.Change.NewImage) == 0 || r.EventID == "" {
			t.Fatalf("record %+v", r)
		}
		for k, v := range r.Change.Keys {
			if img, ok := r.Change.NewImage[k]; !ok || img.String() != v.String() {
				t.Fatalf("record %s: key %s differs from its image", r.Change.SequenceNumber, k)
			}
		}
	}
	return ev
}

// decodeAPIEvent decodes a sample strictly and checks that it is the event
// API Gateway would send for its route: route key, method, path and path
// parameters, query string, body length and the JWT claims.
func decodeAPIEvent(t *testing.T, raw []byte) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("not an API Gateway v2 event: %v", err)
	}
	rt, ok := routeFor(ev.RouteKey)
	if !ok {
		t.Fatalf("routeKey %q is no route of handlers.Routes", ev.RouteKey)
	}
	rc := ev.RequestContext
	switch {
	case ev.Version != "2.0":
		t.Fatalf("version %q, want 2.0", ev.Version)
	case rc.RouteKey != ev.RouteKey:
		t.Fatalf("requestContext.routeKey %q, routeKey %q", rc.RouteKey, ev.RouteKey)
	case rc.HTTP.Method != rt.Method:
		t.Fatalf("requestContext.http.method %q on route %s", rc.HTTP.Method, rt.RouteKey())
	case rc.HTTP.Path != ev.RawPath:
		t.Fatalf("requestContext.http.path %q, rawPath %q", rc.HTTP.Path, ev.RawPath)
	case rc.Stage != "$default" || rc.RequestID == "" || rc.TimeEpoch != sampleTime.UnixMilli():
		t.Fatalf("requestContext stage %q, requestId %q, timeEpoch %d", rc.Stage, rc.RequestID, rc.TimeEpoch)
	}
	params, ok := matchPath(rt.Path, ev.RawPath)
	if !ok {
		t.Fatalf("rawPath %q does not match %s", ev.RawPath, rt.Path)
	}
	if len(params) == 0 {
		params = nil
	}
	if !reflect.DeepEqual(params, ev.PathParameters) {
		t.Fatalf("pathParameters %v, but the path says %v", ev.PathParameters, params)
	}
	q, err := url.ParseQuery(ev.RawQueryString)
	if err != nil {
		t.Fatalf("rawQueryString %q: %v", ev.RawQueryString, err)
	}
	var joined map[string]string
	for k, vs := range q {
		if joined == nil {
			joined = map[string]string{}
		}
		joined[k] = strings.Join(vs, ",")
	}
	if !reflect.DeepEqual(joined, ev.QueryStringParameters) {
		t.Fatalf("queryStringParameters %v, but rawQueryString says %v", ev.QueryStringParameters, joined)
	}
	if cl, ok := ev.Headers["content-length"]; ok && cl != strconv.Itoa(len(ev.Body)) {
		t.Fatalf("content-length %s, body of %d bytes", cl, len(ev.Body))
	}
	for k := range ev.Headers {
		if k != strings.ToLower(k) {
			t.Fatalf("header %q: API Gateway sends header names in lower case", k)
		}
	}
	if ev.Body != "" && !json.Valid([]byte(ev.Body)) {
		t.Fatalf("body is not JSON: %s", ev.Body)
	}
	if rt.Internal() {
		// Authorized by IAM (AWS_IAM): the signer's identity, no JWT.
		if rc.Authorizer == nil || rc.Authorizer.IAM == nil || rc.Authorizer.JWT != nil {
			t.Fatal("an internal route's event needs requestContext.authorizer.iam (and no jwt): the IAM authorizer sets it")
		}
		if iam := rc.Authorizer.IAM; !strings.HasPrefix(iam.UserARN, "arn:aws:") || iam.AccountID == "" {
			t.Fatalf("authorizer.iam %+v: no principal ARN", iam)
		}
		if !strings.HasPrefix(ev.Headers["authorization"], "AWS4-HMAC-SHA256 ") {
			t.Fatalf("an internal route's request is SigV4-signed: authorization %q", ev.Headers["authorization"])
		}
		return ev
	}
	if rc.Authorizer == nil || rc.Authorizer.JWT == nil {
		t.Fatal("no requestContext.authorizer.jwt: the JWT authorizer always sets it")
	}
	c := rc.Authorizer.JWT.Claims
	if c["sub"] == "" || c["account_id"] == "" {
		t.Fatalf("claims %v lack sub or account_id", c)
	}
	return ev
}

// decodeScheduledEvent decodes the scheduled sample strictly.
func decodeScheduledEvent(t *testing.T, raw []byte) events.EventBridgeEvent {
	t.Helper()
	var ev events.EventBridgeEvent
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("not an EventBridge event: %v", err)
	}
	if ev.DetailType != "Scheduled Event" || ev.Time.IsZero() || ev.ID == "" || !json.Valid(ev.Detail) {
		t.Fatalf("scheduled event %+v", ev)
	}
	return ev
}

// matchPath matches an API Gateway path template against a path.
func matchPath(tmpl, path string) (map[string]string, bool) {
	ts := strings.Split(strings.Trim(tmpl, "/"), "/")
	ps := strings.Split(strings.Trim(path, "/"), "/")
	if len(ts) != len(ps) {
		return nil, false
	}
	params := map[string]string{}
	for i, s := range ts {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			if ps[i] == "" {
				return nil, false
			}
			params[s[1:len(s)-1]] = ps[i]
		} else if s != ps[i] {
			return nil, false
		}
	}
	return params, true
}

// errorCode reads {"error":{"code":…}}.
func errorCode(t *testing.T, resp events.APIGatewayV2HTTPResponse) string {
	t.Helper()
	var b struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("status %d without the error shape: %s", resp.StatusCode, resp.Body)
	}
	return b.Error.Code
}

func wantStatus(t *testing.T, resp events.APIGatewayV2HTTPResponse, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, resp.Body)
	}
	if code != "" {
		if got := errorCode(t, resp); got != code {
			t.Fatalf("error %q, want %q: %s", got, code, resp.Body)
		}
	}
}

// ---- seeds ----

// seedSettings saves the ServiceNow settings with the settings sample.
func (h *harness) seedSettings(t *testing.T, all map[string][]byte) {
	t.Helper()
	wantStatus(t, h.invokeAPI(t, all["integration-settings-servicenow.json"]), http.StatusOK, "")
}

// seedConnection stores a connection of the sample account, with tokens.
func (h *harness) seedConnection(t *testing.T, k connection.Key, instance string) connection.Connection {
	t.Helper()
	ctx := context.Background()
	name := vault.ConnectionSecretName(h.d.Config.SecretPrefix, k.Account, k.Vendor, string(k.Level), k.UserID)
	version, err := vault.PutTokens(ctx, h.d.Vault, name, vault.Tokens{AccessToken: "seeded-access", RefreshToken: "seeded-refresh"})
	if err != nil {
		t.Fatal(err)
	}
	c := connection.Connection{
		Key: k, ID: "conn-" + k.Vendor + "-" + string(k.Level), Instance: instance,
		ConnectedUser: connection.Identity{ID: "vendor-ada", Name: "Ada Admin", Email: "ada@acme.example"},
		ConnectedBy:   connection.Person{UserID: sampleUser, Email: "ada@acme.example", Name: "Ada Admin"},
		SecretName:    name, SecretVersion: version,
		GrantedAt: sampleTime.Add(-95 * 24 * time.Hour), RefreshTokenExpiresAt: sampleTime.Add(5 * 24 * time.Hour),
		NextCheckAt: sampleTime.Add(-5 * 24 * time.Hour),
		CreatedAt:   sampleTime.Add(-95 * 24 * time.Hour), UpdatedAt: sampleTime.Add(-95 * 24 * time.Hour),
	}
	ops := []store.Op{store.CreateConnection{Conn: c}}
	if k.Level == connection.LevelUser {
		ops = append(ops, store.AdjustCounts{Account: k.Account, Vendor: k.Vendor, Total: 1, Connected: 1})
	}
	if err := h.d.Store.Apply(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	return c
}

// seedLiveConnection is seedConnection with an access token valid for
// another 30 minutes.
func (h *harness) seedLiveConnection(t *testing.T, k connection.Key, instance string) connection.Connection {
	t.Helper()
	c := h.seedConnection(t, k, instance)
	c.Version = 1 // as created
	c.LastRefreshedAt, c.AccessTokenExpiresAt = sampleTime, sampleTime.Add(30*time.Minute)
	if err := h.d.Store.Apply(context.Background(), store.UpdateConnection{Conn: c}); err != nil {
		t.Fatal(err)
	}
	c.Version++
	return c
}

// seedAtlassianApp stores this deployment's Atlassian app credentials.
func (h *harness) seedAtlassianApp(t *testing.T) {
	t.Helper()
	b, _ := json.Marshal(provider.Credentials{ClientID: "atlassian-app-id", ClientSecret: "atlassian-app-secret"})
	if _, err := h.d.Vault.Put(context.Background(), h.d.Config.AtlassianClientSecretName, b); err != nil {
		t.Fatal(err)
	}
}

// sampleNoticeID is the id the service gives the sample account's
// disconnection notice of its ServiceNow app connection (the id the dismiss
// sample carries).
var sampleNoticeID = connection.NoticeID(connection.AppKey(sampleAccount, "servicenow"), connection.NoticeDisconnected, 0)

// seedNotice stores that notice for the sample user.
func (h *harness) seedNotice(t *testing.T) {
	t.Helper()
	id := sampleNoticeID
	_, created, err := h.d.Store.CreateNotice(context.Background(), connection.Notice{
		Account: sampleAccount, UserID: sampleUser, ID: id, Vendor: "servicenow", Level: connection.LevelApp,
		Kind: connection.NoticeDisconnected, Email: "ada@acme.example", CreatedAt: sampleTime.Add(-time.Hour),
		Message:    "ServiceNow has unexpectedly been disconnected. Please reconnect your ServiceNow account.",
		Connection: connection.AppKey(sampleAccount, "servicenow"),
	})
	if err != nil || !created {
		t.Fatalf("seed notice: %v %v", created, err)
	}
}

// ---- the samples ----

// sampleCase is one run of one sample file.
type sampleCase struct {
	file string
	name string
	run  func(t *testing.T, h *harness, all map[string][]byte)
}

var sampleCases = []sampleCase{
	{"list-integrations.json", "the vendors of the type, with user-level data", func(t *testing.T, h *harness, all map[string][]byte) {
		resp := h.invokeAPI(t, all["list-integrations.json"])
		wantStatus(t, resp, http.StatusOK, "")
		var views []integrations.View
		if err := json.Unmarshal([]byte(resp.Body), &views); err != nil {
			t.Fatal(err)
		}
		if len(views) != len(vendors.OfType(vendors.TypeSupportAndTicketing)) || views[0].Vendor != "servicenow" || views[0].Type != "supportAndTicketing" || views[0].Integrated ||
			views[0].Status != connection.StatusNotConnected || views[0].ConnectionDetails == nil || views[0].UserConnection == nil {
			t.Fatalf("list: %s", resp.Body)
		}
	}},
	{"list-integrations.json", "after the app manager connected", func(t *testing.T, h *harness, all map[string][]byte) {
		h.seedSettings(t, all)
		h.seedConnection(t, connection.AppKey(sampleAccount, "servicenow"), "https://acme.service-now.com")
		h.seedConnection(t, connection.UserKey(sampleAccount, "servicenow", "user-bob"), "https://acme.service-now.com")
		resp := h.invokeAPI(t, all["list-integrations.json"])
		wantStatus(t, resp, http.StatusOK, "")
		var views []integrations.View
		if err := json.Unmarshal([]byte(resp.Body), &views); err != nil {
			t.Fatal(err)
		}
		v := views[0]
		if len(views) != len(vendors.OfType(vendors.TypeSupportAndTicketing)) || v.Vendor != "servicenow" || !v.Integrated || v.Status != connection.StatusExpiring || v.ConnectedUser == nil || v.ConnectedUser.Name != "Ada Admin" ||
			*v.ConnectionDetails != (integrations.Details{Total: 1, Connected: 1}) || v.UserConnection.Connected {
			t.Fatalf("list: %s", resp.Body)
		}
		if strings.Contains(resp.Body, "seeded-") {
			t.Fatalf("a token in the list: %s", resp.Body)
		}
	}},
	{"list-integrations-bad-type.json", "400 invalid_type", func(t *testing.T, h *harness, all map[string][]byte) {
		wantStatus(t, h.invokeAPI(t, all["list-integrations-bad-type.json"]), http.StatusBadRequest, "invalid_type")
	}},
	{"integration-settings-servicenow.json", "saved, secret kept out of the answer", func(t *testing.T, h *harness, all map[string][]byte) {
		resp := h.invokeAPI(t, all["integration-settings-servicenow.json"])
		wantStatus(t, resp, http.StatusOK, "")
		var v lifecycle.SettingsView
		if err := json.Unmarshal([]byte(resp.Body), &v); err != nil {
			t.Fatal(err)
		}
		if v.Vendor != "servicenow" || v.InstanceURL != "https://acme.service-now.com" || v.ClientID != "3f1c2b7a9d8e4f60a1b2c3d4e5f60718" ||
			!v.ClientSecretSet || v.RefreshTokenLifespanDays != 100 || !v.UpdatedAt.Equal(sampleTime) {
			t.Fatalf("settings: %s", resp.Body)
		}
		set, err := h.d.Store.GetSettings(context.Background(), sampleAccount, "servicenow")
		if err != nil {
			t.Fatal(err)
		}
		secret, err := h.d.Vault.Get(context.Background(), set.ClientSecretName, set.ClientSecretVersion)
		if err != nil || string(secret) != sampleSecret {
			t.Fatalf("the client secret in the vault: %q %v", secret, err)
		}
	}},
	{"oauth-url-app.json", "409 not_configured before the settings", func(t *testing.T, h *harness, all map[string][]byte) {
		wantStatus(t, h.invokeAPI(t, all["oauth-url-app.json"]), http.StatusConflict, "not_configured")
	}},
	{"oauth-url-app.json", "200 ServiceNow URL after the settings", func(t *testing.T, h *harness, all map[string][]byte) {
		h.seedSettings(t, all)
		resp := h.invokeAPI(t, all["oauth-url-app.json"])
		wantStatus(t, resp, http.StatusOK, "")
		u, q := authURL(t, resp)
		if u.Scheme+"://"+u.Host+u.Path != "https://acme.service-now.com/oauth_auth.do" || q.Get("client_id") != "3f1c2b7a9d8e4f60a1b2c3d4e5f60718" ||
			q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("response_type") != "code" ||
			q.Get("redirect_uri") != h.d.Config.RedirectURL {
			t.Fatalf("authorization URL %s", u)
		}
		st, err := h.d.Store.ConsumeState(context.Background(), q.Get("state"), sampleTime)
		if err != nil || st.Account != sampleAccount || st.UserID != sampleUser || st.Vendor != "servicenow" || st.Flow != connection.LevelApp ||
			st.Action != connection.ActionConnect || st.Verifier == "" {
			t.Fatalf("stored state %+v %v", st, err)
		}
	}},
	{"oauth-url-reconnect.json", "409 not_connected without a connection", func(t *testing.T, h *harness, all map[string][]byte) {
		h.seedAtlassianApp(t)
		wantStatus(t, h.invokeAPI(t, all["oauth-url-reconnect.json"]), http.StatusConflict, "not_connected")
	}},
	{"oauth-url-reconnect.json", "200 Atlassian URL for a connected account", func(t *testing.T, h *harness, all map[string][]byte) {
		h.seedAtlassianApp(t)
		h.seedConnection(t, connection.AppKey(sampleAccount, "confluence"), "https://acme.atlassian.net")
		resp := h.invokeAPI(t, all["oauth-url-reconnect.json"])
		wantStatus(t, resp, http.StatusOK, "")
		u, q := authURL(t, resp)
		if u.Scheme+"://"+u.Host+u.Path != "https://auth.atlassian.com/authorize" || q.Get("audience") != "api.atlassian.com" ||
			q.Get("prompt") != "consent" || q.Get("client_id") != "atlassian-app-id" || !strings.Contains(q.Get("scope"), "offline_access") ||
			q.Get("redirect_uri") != h.d.Config.RedirectURL {
			t.Fatalf("authorization URL %s", u)
		}
		st, err := h.d.Store.ConsumeState(context.Background(), q.Get("state"), sampleTime)
		if err != nil || st.Action != connection.ActionReconnect || st.Vendor != "confluence" {
			t.Fatalf("stored state %+v %v", st, err)
		}
	}},
	{"oauth-callback.json", "400 invalid_state for a made-up state", func(t *testing.T, h *harness, all map[string][]byte) {
		h.seedSettings(t, all)
		wantStatus(t, h.invokeAPI(t, all["oauth-callback.json"]), http.StatusBadRequest, "invalid_state")
	}},
	{"oauth-callback-denied.json", "400 invalid_state for a made-up state", func(t *testing.T, h *harness, all map[string][]byte) {
		wantStatus(t, h.invokeAPI(t, all["oauth-callback-denied.json"]), http.StatusBadRequest, "invalid_state")
	}},
	{"oauth-callback-denied.json", "400 authorization_denied for a state of the caller", func(t *testing.T, h *harness, all map[string][]byte) {
		h.seedSettings(t, all)
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(all["oauth-callback-denied.json"], &ev); err != nil {
			t.Fatal(err)
		}
		var body lifecycle.CallbackRequest
		if err := json.Unmarshal([]byte(ev.Body), &body); err != nil {
			t.Fatal(err)
		}
		err := h.d.Store.PutState(context.Background(), connection.AuthState{
			Nonce: body.State, Account: sampleAccount, UserID: sampleUser, Vendor: "servicenow", Flow: connection.LevelApp,
			Action: connection.ActionConnect, Instance: "https://acme.service-now.com", CreatedAt: sampleTime, ExpiresAt: sampleTime.Add(10 * time.Minute),
		})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, h.invokeAPI(t, all["oauth-callback-denied.json"]), http.StatusBadRequest, "authorization_denied")
		wantStatus(t, h.invokeAPI(t, all["oauth-callback-denied.json"]), http.StatusBadRequest, "invalid_state")
	}},
	{"disconnect-user.json", "404 not_connected when there is nothing", func(t *testing.T, h *harness, all map[string][]byte) {
		wantStatus(t, h.invokeAPI(t, all["disconnect-user.json"]), http.StatusNotFound, "not_connected")
	}},
	{"disconnect-user.json", "204 for the caller's connection", func(t *testing.T, h *harness, all map[string][]byte) {
		h.seedSettings(t, all)
		h.seedConnection(t, connection.AppKey(sampleAccount, "servicenow"), "https://acme.service-now.com")
		k := connection.UserKey(sampleAccount, "servicenow", sampleUser)
		h.seedConnection(t, k, "https://acme.service-now.com")
		// The vendor is unreachable here: revocation is best effort.
		wantStatus(t, h.invokeAPI(t, all["disconnect-user.json"]), http.StatusNoContent, "")
		if _, err := h.d.Store.GetConnection(context.Background(), k); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the user connection is still there: %v", err)
		}
		snap, err := h.d.Store.Snapshot(context.Background(), sampleAccount, sampleUser, []string{"servicenow"})
		if err != nil || snap["servicenow"].App == nil || snap["servicenow"].Counts != (connection.Counts{}) {
			t.Fatalf("after the disconnect: %+v %v", snap["servicenow"], err)
		}
	}},
	{"notifications-list.json", "200 []", func(t *testing.T, h *harness, all map[string][]byte) {
		resp := h.invokeAPI(t, all["notifications-list.json"])
		wantStatus(t, resp, http.StatusOK, "")
		if resp.Body != "[]" {
			t.Fatalf("notifications: %s", resp.Body)
		}
	}},
	{"notifications-list.json", "200 with the caller's notice", func(t *testing.T, h *harness, all map[string][]byte) {
		h.seedNotice(t)
		resp := h.invokeAPI(t, all["notifications-list.json"])
		wantStatus(t, resp, http.StatusOK, "")
		var ns []notices.Notification
		if err := json.Unmarshal([]byte(resp.Body), &ns); err != nil {
			t.Fatal(err)
		}
		if len(ns) != 1 || ns[0].ID != sampleNoticeID || ns[0].Kind != connection.NoticeDisconnected || ns[0].Level != connection.LevelApp {
			t.Fatalf("notifications: %s", resp.Body)
		}
	}},
	{"notifications-dismiss.json", "404 for an unknown notice", func(t *testing.T, h *harness, all map[string][]byte) {
		if id := decodeAPIEvent(t, all["notifications-dismiss.json"]).PathParameters["id"]; id != sampleNoticeID {
			t.Fatalf("the sample dismisses %q, not the id the service gives a notice (%s)", id, sampleNoticeID)
		}
		wantStatus(t, h.invokeAPI(t, all["notifications-dismiss.json"]), http.StatusNotFound, "not_found")
	}},
	{"notifications-dismiss.json", "204 for the caller's notice", func(t *testing.T, h *harness, all map[string][]byte) {
		h.seedNotice(t)
		wantStatus(t, h.invokeAPI(t, all["notifications-dismiss.json"]), http.StatusNoContent, "")
		if ns, err := h.d.Store.ListNotices(context.Background(), sampleAccount, sampleUser); err != nil || len(ns) != 0 {
			t.Fatalf("after dismissing: %+v %v", ns, err)
		}
	}},
	{"audit.json", "200 an empty timeline", func(t *testing.T, h *harness, all map[string][]byte) {
		resp := h.invokeAPI(t, all["audit.json"])
		wantStatus(t, resp, http.StatusOK, "")
		if resp.Body != `{"entries":[],"nextCursor":null}` {
			t.Fatalf("audit: %s", resp.Body)
		}
	}},
	{"audit.json", "200 the settings saved and a disconnect, newest first, with their actor", func(t *testing.T, h *harness, all map[string][]byte) {
		h.seedSettings(t, all)
		h.seedConnection(t, connection.AppKey(sampleAccount, "servicenow"), "https://acme.service-now.com")
		h.seedConnection(t, connection.UserKey(sampleAccount, "servicenow", sampleUser), "https://acme.service-now.com")
		wantStatus(t, h.invokeAPI(t, all["disconnect-user.json"]), http.StatusNoContent, "")
		resp := h.invokeAPI(t, all["audit.json"])
		wantStatus(t, resp, http.StatusOK, "")
		var page audit.Page
		if err := json.Unmarshal([]byte(resp.Body), &page); err != nil {
			t.Fatal(err)
		}
		actor := connection.UserActor(sampleUser)
		if len(page.Entries) != 2 || page.NextCursor != nil {
			t.Fatalf("audit: %s", resp.Body)
		}
		removed, saved := page.Entries[0], page.Entries[1]
		if removed.Action != connection.AuditRemoved || removed.Level != connection.LevelUser || removed.User != sampleUser ||
			removed.Actor != actor || !removed.At.Equal(sampleTime) || removed.Vendor != "servicenow" {
			t.Fatalf("first entry: %+v", removed)
		}
		if saved.Action != connection.AuditSettingsChanged || saved.Level != connection.LevelApp || saved.User != "" || saved.Actor != actor ||
			saved.Details["changed"] != "instanceUrl,clientId,clientSecret,refreshTokenLifespanDays" {
			t.Fatalf("second entry: %+v", saved)
		}
	}},
	{"token-broker.json", "404 not_connected when nothing is connected", func(t *testing.T, h *harness, all map[string][]byte) {
		resp := h.invokeAPI(t, all["token-broker.json"])
		wantStatus(t, resp, http.StatusNotFound, "not_connected")
		if !strings.Contains(h.log.String(), `"caller":"arn:aws:sts::123456789012:assumed-role/search-connector/i-0abc123def4567890"`) {
			t.Fatalf("the caller's principal is not logged: %s", h.log.String())
		}
	}},
	{"token-broker.json", "200 the app level's valid token, by fallback", func(t *testing.T, h *harness, all map[string][]byte) {
		h.seedSettings(t, all)
		h.seedLiveConnection(t, connection.AppKey(sampleAccount, "servicenow"), "https://acme.service-now.com")
		resp := h.invokeAPI(t, all["token-broker.json"])
		wantStatus(t, resp, http.StatusOK, "")
		want := `{"accessToken":"seeded-access","tokenType":"Bearer","expiresAt":"2027-01-20T10:30:00Z","level":"app","vendor":"servicenow",` +
			`"instance":"https://acme.service-now.com","apiBaseUrl":"https://acme.service-now.com"}`
		if resp.Body != want {
			t.Fatalf("token:\n got %s\nwant %s", resp.Body, want)
		}
	}},
	{"token-broker.json", "503 vendor_unavailable with Retry-After when the vendor cannot refresh; nothing marked", func(t *testing.T, h *harness, all map[string][]byte) {
		h.seedSettings(t, all)
		k := connection.AppKey(sampleAccount, "servicenow")
		before := h.seedConnection(t, k, "https://acme.service-now.com")
		resp := h.invokeAPI(t, all["token-broker.json"])
		wantStatus(t, resp, http.StatusServiceUnavailable, "vendor_unavailable")
		if resp.Headers["Retry-After"] == "" {
			t.Fatal("503 without Retry-After")
		}
		if got, err := h.d.Store.GetConnection(context.Background(), k); err != nil || got.Expired || got.SecretVersion != before.SecretVersion || got.LeaseOwner != "" {
			t.Fatalf("after the outage: %+v %v", got, err)
		}
	}},
	{"connection-check.json", "404 not_connected when nothing is connected", func(t *testing.T, h *harness, all map[string][]byte) {
		wantStatus(t, h.invokeAPI(t, all["connection-check.json"]), http.StatusNotFound, "not_connected")
	}},
	{"connection-check.json", "503 vendor_unavailable when the vendor cannot be asked; nothing marked", func(t *testing.T, h *harness, all map[string][]byte) {
		h.seedSettings(t, all)
		k := connection.AppKey(sampleAccount, "servicenow")
		h.seedLiveConnection(t, k, "https://acme.service-now.com")
		resp := h.invokeAPI(t, all["connection-check.json"])
		wantStatus(t, resp, http.StatusServiceUnavailable, "vendor_unavailable")
		if got, err := h.d.Store.GetConnection(context.Background(), k); err != nil || got.Expired {
			t.Fatalf("after the outage: %+v %v", got, err)
		}
	}},
	{"event-publisher.json", "one event per audit entry, with the documented detail", func(t *testing.T, h *harness, all map[string][]byte) {
		resp := h.invokeStream(t, all["event-publisher.json"])
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("failures %+v", resp.BatchItemFailures)
		}
		got := h.bus.Events()
		want := []struct{ detailType, detail string }{
			{"Connection User Changed", `{"eventId":"33ML77L1J6G5CBFMEP4FF2ONC7PGN","account":"acct-demo","vendor":"servicenow","level":"user","user":"user-ada",` +
				`"connectionId":"5f0c7e2a9b1d4c3e8f6a7b9c0d1e2f3a","occurredAt":"2027-01-20T10:00:00Z","actor":{"type":"user","id":"user-ada"},"previousUser":"Ada Admin"}`},
			{"Connection Disconnected", `{"eventId":"33ML77N0Q4A3D7KJ2H9SLBV6E1MRC","account":"acct-demo","vendor":"confluence","level":"app",` +
				`"connectionId":"9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a","occurredAt":"2027-01-20T10:05:00Z","actor":{"type":"scan"},"reason":"refresh_refused"}`},
		}
		if len(got) != len(want) {
			t.Fatalf("%d events: %+v", len(got), got)
		}
		for i, w := range want {
			if got[i].Source != "workplace.connections" || got[i].DetailType != w.detailType || string(got[i].Detail) != w.detail {
				t.Fatalf("event %d: %s %s %s\nwant %s %s", i, got[i].Source, got[i].DetailType, got[i].Detail, w.detailType, w.detail)
			}
		}
	}},
	{"event-publisher.json", "a bus that refuses: every record is delivered again", func(t *testing.T, h *harness, all map[string][]byte) {
		h.d.Bus = refusing{}
		resp := h.invokeStream(t, all["event-publisher.json"])
		var ids []string
		for _, f := range resp.BatchItemFailures {
			ids = append(ids, f.ItemIdentifier)
		}
		if strings.Join(ids, ",") != "4421584500000000017450439091,4421584500000000017450439092" {
			t.Fatalf("failures %v", ids)
		}
	}},
	{"expiry-scan.json", "a complete run at the event's time", func(t *testing.T, h *harness, all map[string][]byte) {
		rep := h.invokeScan(t, all["expiry-scan.json"])
		if !rep.Complete || !rep.Now.Equal(time.Date(2027, 1, 20, 6, 0, 0, 0, time.UTC)) || rep.Checked != 0 || rep.Failed != 0 {
			t.Fatalf("report %+v", rep)
		}
	}},
	{"expiry-scan.json", "a warning for a connection in its window", func(t *testing.T, h *harness, all map[string][]byte) {
		h.seedSettings(t, all)
		h.seedConnection(t, connection.AppKey(sampleAccount, "servicenow"), "https://acme.service-now.com")
		rep := h.invokeScan(t, all["expiry-scan.json"])
		if !rep.Complete || rep.Checked != 1 || rep.Notices != 1 || rep.Failed != 0 {
			t.Fatalf("report %+v", rep)
		}
		msgs := h.outbox.Messages()
		if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "ada@acme.example" ||
			!strings.Contains(msgs[0].Text, "https://app.acme.example/manage/apps/integrations") {
			t.Fatalf("outbox %+v", msgs)
		}
		// The same event again: nothing more.
		if rep := h.invokeScan(t, all["expiry-scan.json"]); rep.Notices != 0 || len(h.outbox.Messages()) != 1 {
			t.Fatalf("second run %+v", rep)
		}
	}},
}

// authURL reads a 200 answer of the oauth-url route.
func authURL(t *testing.T, resp events.APIGatewayV2HTTPResponse) (*url.URL, url.Values) {
	t.Helper()
	var out lifecycle.AuthURL
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
		t.Fatal(err)
	}
	if !out.ExpiresAt.Equal(sampleTime.Add(10 * time.Minute)) {
		t.Fatalf("expiresAt %s", out.ExpiresAt)
	}
	u, err := url.Parse(out.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if len(q.Get("state")) < 32 {
		t.Fatalf("state %q", q.Get("state"))
	}
	return u, q
}

// refusing is a bus that takes nothing.
type refusing struct{}

func (refusing) Put(_ context.Context, evs []eventbus.Event) []error {
	errs := make([]error, len(evs))
	for i := range errs {
		errs[i] = eventbus.ErrRejected
	}
	return errs
}

// TestSampleEvents runs every sample of events/ through its handler.
func TestSampleEvents(t *testing.T) {
	all := samples(t)
	for _, c := range sampleCases {
		t.Run(strings.TrimSuffix(c.file, ".json")+"/"+c.name, func(t *testing.T) {
			if _, ok := all[c.file]; !ok {
				t.Fatalf("no events/%s", c.file)
			}
			h := newHarness(t)
			c.run(t, h, all)
			logs := h.log.String()
			for _, s := range []string{sampleSecret, "seeded-access", "seeded-refresh", "atlassian-app-secret", "example-authorization-code"} {
				if strings.Contains(logs, s) {
					t.Fatalf("%q is in the log", s)
				}
			}
		})
	}
}

// TestSampleEventsCoverage: every file of events/ has a case, and every
// route of the API has a sample.
func TestSampleEventsCoverage(t *testing.T) {
	all := samples(t)
	covered := map[string]bool{}
	for _, c := range sampleCases {
		covered[c.file] = true
	}
	var files []string
	for name := range all {
		files = append(files, name)
	}
	sort.Strings(files)
	routesWithSample := map[string]bool{}
	scheduled, stream := false, false
	for _, name := range files {
		if name == envFile {
			continue
		}
		if !covered[name] {
			t.Errorf("events/%s has no test case", name)
		}
		var shape struct {
			RouteKey   string `json:"routeKey"`
			DetailType string `json:"detail-type"`
			Records    []struct {
				EventSource string `json:"eventSource"`
			} `json:"Records"`
		}
		if err := json.Unmarshal(all[name], &shape); err != nil {
			t.Errorf("events/%s is not JSON: %v", name, err)
			continue
		}
		switch {
		case shape.RouteKey != "":
			t.Run(name, func(t *testing.T) { decodeAPIEvent(t, all[name]) })
			routesWithSample[shape.RouteKey] = true
		case shape.DetailType != "":
			t.Run(name, func(t *testing.T) { decodeScheduledEvent(t, all[name]) })
			scheduled = true
		case len(shape.Records) > 0 && shape.Records[0].EventSource == "aws:dynamodb":
			t.Run(name, func(t *testing.T) { decodeStreamEvent(t, all[name]) })
			stream = true
		default:
			t.Errorf("events/%s is neither an API Gateway, a scheduled nor a DynamoDB Stream event", name)
		}
	}
	for _, r := range handlers.Routes {
		if !routesWithSample[r.RouteKey()] {
			t.Errorf("route %s has no sample event in events/", r.RouteKey())
		}
	}
	if !scheduled {
		t.Error("the expiry scan has no sample event in events/")
	}
	if !stream {
		t.Error("the event publisher has no sample event in events/")
	}
}

// TestRoutesMatchFunctions: each route's Function is a functions/<name>
// Lambda that starts that route's handler, traced.
func TestRoutesMatchFunctions(t *testing.T) {
	starts := map[string]string{"expiry-scan": "handlers.ExpiryScan(", "event-publisher": "handlers.EventPublisher("}
	for _, r := range handlers.Routes {
		full := runtime.FuncForPC(reflect.ValueOf(r.Handler).Pointer()).Name()
		want := "handlers." + full[strings.LastIndex(full, ".")+1:] + "("
		if prev, ok := starts[r.Function]; ok && prev != want {
			t.Errorf("function %s serves routes of two handlers: %s and %s", r.Function, prev, want)
		}
		starts[r.Function] = want
	}
	for fn, want := range starts {
		src, err := os.ReadFile(filepath.Join("..", "..", "functions", fn, "main.go"))
		if err != nil {
			t.Errorf("function %s: %v", fn, err)
			continue
		}
		// Wrapped in awsdeps.Traced: its AWS and vendor calls join the
		// invocation's X-Ray trace.
		if !strings.Contains(string(src), "lambda.Start(awsdeps.Traced("+want) {
			t.Errorf("functions/%s/main.go does not start awsdeps.Traced(%s…))", fn, want)
		}
	}
}
