package localserver_test

// The API's OpenAPI description (shared/openapi) against the end-to-end
// suite: every exchange the suite makes with the API through a local
// server passes a validating middleware (libopenapi-validator, OpenAPI
// 3.1) that checks the request and the response against the document and
// fails the test on any mismatch. TestMain then asserts that every route
// of the API was validated at least once.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"

	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/openapi"
	"github.com/workplace/connections/shared/vendors"
)

// contract validates exchanges against the document and counts them by
// route.
type contract struct {
	mu      sync.Mutex // the validator is used by one exchange at a time
	v       validator.Validator
	counts  map[string]int // validated exchanges by route key; "" outside the API's routes
	refused int            // of those, requests the document refuses (and the API refused)
	errors  map[string]int // error answers by "route status code"
}

var (
	suiteContractOnce sync.Once
	suiteContract     *contract
	suiteContractErr  error
)

// theContract is the suite's one contract, whose counts TestMain checks.
func theContract() (*contract, error) {
	suiteContractOnce.Do(func() { suiteContract, suiteContractErr = newContract() })
	return suiteContract, suiteContractErr
}

func newContract() (*contract, error) {
	b, err := openapi.JSON()
	if err != nil {
		return nil, err
	}
	return contractOf(b)
}

// newContractFor is the contract of a server whose registry holds other
// vendors than the document's (a test that adds a synthetic vendor): the
// document with its vendor ids.
func newContractFor(ids []string) (*contract, error) {
	b, err := openapi.JSON()
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	doc["components"].(map[string]any)["schemas"].(map[string]any)["VendorID"].(map[string]any)["enum"] = ids
	if b, err = json.Marshal(doc); err != nil {
		return nil, err
	}
	return contractOf(b)
}

// documentVendors are the vendor ids the document names.
func documentVendors() []string {
	b, _ := openapi.JSON()
	var doc struct {
		Components struct {
			Schemas struct {
				VendorID struct {
					Enum []string `json:"enum"`
				} `json:"VendorID"`
			} `json:"schemas"`
		} `json:"components"`
	}
	_ = json.Unmarshal(b, &doc)
	return doc.Components.Schemas.VendorID.Enum
}

func contractOf(b []byte) (*contract, error) {
	doc, err := libopenapi.NewDocument(b)
	if err != nil {
		return nil, err
	}
	// Security is not validated: in local mode the identity travels in the
	// X-* headers the server turns into the JWT claims (or IAM principal),
	// not in an Authorization header. Format assertions are: a date-time
	// that is not RFC 3339 is a mismatch.
	v, errs := validator.NewValidator(doc, config.WithoutSecurityValidation(), config.WithFormatAssertions())
	if len(errs) > 0 {
		return nil, fmt.Errorf("validator: %v", errs)
	}
	return &contract{v: v, counts: map[string]int{}, errors: map[string]int{}}, nil
}

// inContract reports whether a path is the API's (under /v1, exact or
// not) rather than one of the local server's own (tools, sandbox,
// console, this description), which the document leaves out.
func inContract(path string) bool {
	return strings.HasPrefix(strings.TrimLeft(path, "/"), "v1/") || strings.TrimLeft(path, "/") == "v1"
}

// routeOf is the API route a path and method are, "" for none.
func routeOf(method, path string) string {
	for _, r := range handlers.Routes {
		if r.Method == method && matches(r.Path, path) {
			return r.RouteKey()
		}
	}
	return ""
}

// exact reports whether a path has no empty, "." or ".." segment and no
// trailing slash: the only paths the local server routes.
func exact(path string) bool {
	segs := strings.Split(path, "/")
	for _, s := range segs[1:] {
		if s == "" || s == "." || s == ".." {
			return false
		}
	}
	return segs[0] == ""
}

func matches(tmpl, path string) bool {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i, t := range ts {
		if strings.HasPrefix(t, "{") && ps[i] != "" {
			continue
		}
		if t != ps[i] {
			return false
		}
	}
	return true
}

// exchange is one request and its answer.
type exchange struct {
	method     string
	uri        string // path and query
	reqHeader  http.Header
	reqBody    []byte
	status     int
	respHeader http.Header
	respBody   []byte
}

func (x exchange) String() string {
	return fmt.Sprintf("%s %s %s → %d %s", x.method, x.uri, x.reqBody, x.status, x.respBody)
}

// check validates one exchange and counts it. What it checks:
//   - a path the document does not have is answered 404 not_found, and a
//     path it has with a method it does not 405 method_not_allowed (the
//     local server's answers; API Gateway's in AWS);
//   - a request the document accepts gets a response the document
//     describes for its operation and status: body, content type, error
//     code and required headers;
//   - a request the document refuses (a bad parameter or body) is refused
//     too: a 4xx the document describes for its operation.
func (c *contract) check(x exchange) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	path := strings.SplitN(x.uri, "?", 2)[0]
	if !exact(path) {
		// The server routes exact paths only; the validator would match
		// "//v1/…" or "/v1/…/" to a route.
		c.counts[""]++
		return wantLocalError(x, http.StatusNotFound, "not_found", "a path that is not in its exact form")
	}
	req, err := http.NewRequest(x.method, "http://127.0.0.1:3000"+x.uri, bytes.NewReader(x.reqBody))
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", x, err)}
	}
	for k, vs := range x.reqHeader {
		req.Header[k] = vs
	}
	ok, reqErrs := c.v.ValidateHttpRequestSync(req)
	for _, e := range reqErrs {
		if e.ValidationType == helpers.PathValidation {
			switch e.ValidationSubType {
			case helpers.ValidationMissing:
				c.counts[""]++
				return wantLocalError(x, http.StatusNotFound, "not_found", "a path the API does not have")
			case helpers.ValidationMissingOperation:
				c.counts[""]++
				return wantLocalError(x, http.StatusMethodNotAllowed, "method_not_allowed", "a method the path does not have")
			}
		}
	}
	route := routeOf(x.method, path)
	if route == "" {
		// The validator takes HEAD for GET; the server has no HEAD. (That
		// the document has no operation the API lacks is
		// shared/openapi's TestEveryRouteIsDescribed.)
		c.counts[""]++
		return wantLocalError(x, http.StatusMethodNotAllowed, "method_not_allowed", "a method the API does not have on this path")
	}
	c.counts[route]++
	var problems []string
	if !ok {
		c.refused++
		if x.status < 400 || x.status >= 500 {
			problems = append(problems, fmt.Sprintf("%s: the document refuses this request, the API answered %d: %s", x, x.status, describe(reqErrs)))
		}
	}
	if x.status >= 400 {
		var body struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(x.respBody, &body)
		c.errors[fmt.Sprintf("%s %d %s", route, x.status, body.Error.Code)]++
	}
	resp := &http.Response{
		StatusCode: x.status, Header: x.respHeader, Request: req,
		Body: io.NopCloser(bytes.NewReader(x.respBody)), ContentLength: int64(len(x.respBody)),
	}
	req.Body = io.NopCloser(bytes.NewReader(x.reqBody))
	if ok, errs := c.v.ValidateHttpResponse(req, resp); !ok {
		problems = append(problems, fmt.Sprintf("%s: the response is not the documented one: %s", x, describe(errs)))
	}
	return problems
}

// wantLocalError checks the local server's answer to what the document
// does not describe.
func wantLocalError(x exchange, status int, code, what string) []string {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if x.status != status || json.Unmarshal(x.respBody, &body) != nil || body.Error.Code != code || body.Error.Message == "" {
		return []string{fmt.Sprintf("%s: %s, want %d %s", x, what, status, code)}
	}
	return nil
}

func describe(errs []*liberrors.ValidationError) string {
	var out []string
	for _, e := range errs {
		s := e.Message
		if e.Reason != "" {
			s += " (" + e.Reason + ")"
		}
		for _, se := range e.SchemaValidationErrors {
			s += fmt.Sprintf("; %s at %s", se.Reason, se.FieldPath)
		}
		out = append(out, s)
	}
	return strings.Join(out, " | ")
}

// recorder is the validating middleware of one server: it keeps the
// mismatches until the test that made the request reports them.
type recorder struct {
	c        *contract
	mu       sync.Mutex
	failures []string
}

// validated wraps a server's handler with the suite's contract; the
// mismatches left unreported fail t when it ends.
func validated(t *testing.T, next http.Handler) (http.Handler, *recorder) {
	t.Helper()
	c, err := theContract()
	if ids := vendors.IDs(vendors.Registry); err == nil && !slices.Equal(ids, documentVendors()) {
		// Validated all the same, against the document with the
		// registry the test runs on.
		c, err = newContractFor(ids)
	}
	if err != nil {
		t.Fatalf("the OpenAPI document: %v", err)
	}
	rc := &recorder{c: c}
	t.Cleanup(func() { rc.flush(t) })
	return rc.wrap(next), rc
}

func (rc *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !inContract(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			rc.fail(fmt.Sprintf("%s %s: read the request body: %v", r.Method, r.URL, err))
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		// Checked before the answer goes out, so that the test that made
		// the request finds the mismatch when it has the answer.
		for _, p := range rc.c.check(exchange{
			// The path as the server routes it: decoded ("%2F" is "/").
			method: r.Method, uri: (&url.URL{Path: r.URL.Path, RawQuery: r.URL.RawQuery}).String(), reqHeader: r.Header.Clone(), reqBody: body,
			status: rec.Code, respHeader: rec.Header().Clone(), respBody: rec.Body.Bytes(),
		}) {
			rc.fail(p)
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

func (rc *recorder) fail(p string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.failures = append(rc.failures, p)
}

// flush fails t with the mismatches seen since the last flush.
func (rc *recorder) flush(t *testing.T) {
	t.Helper()
	rc.mu.Lock()
	failures := rc.failures
	rc.failures = nil
	rc.mu.Unlock()
	for _, f := range failures {
		t.Errorf("OpenAPI: %s", f)
	}
}

// checkLambda validates an exchange made straight with a route's Lambda
// handler (what HTTP cannot carry): the response against the document.
func (e *env) checkLambda(method, uri string, status int, header http.Header, body string) {
	e.t.Helper()
	c, err := theContract()
	if err != nil {
		e.t.Fatal(err)
	}
	h := header.Clone()
	for _, p := range c.check(exchange{method: method, uri: uri, status: status, respHeader: h, respBody: []byte(body)}) {
		e.t.Errorf("OpenAPI: %s", p)
	}
}

// contractMain runs the tests, then checks that the contract saw every
// route of the API, unless only some tests ran.
type contractMain struct{ m *testing.M }

func (cm contractMain) Run() int {
	code := cm.m.Run()
	if code != 0 || filtered() {
		return code
	}
	c, err := theContract()
	if err != nil {
		fmt.Fprintln(os.Stderr, "OpenAPI:", err)
		return 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var missing, seen []string
	for _, r := range handlers.Routes {
		if c.counts[r.RouteKey()] == 0 {
			missing = append(missing, r.RouteKey())
		}
		seen = append(seen, fmt.Sprintf("%s: %d", r.RouteKey(), c.counts[r.RouteKey()]))
	}
	sort.Strings(seen)
	if testing.Verbose() || len(missing) > 0 {
		fmt.Printf("OpenAPI: exchanges validated by route:\n  %s\n  outside the routes (404/405): %d\n  requests the document refuses, refused: %d\n",
			strings.Join(seen, "\n  "), c.counts[""], c.refused)
		documented := documentedErrors()
		var unseen []string
		for _, k := range documented {
			if c.errors[k] == 0 {
				unseen = append(unseen, k)
			}
		}
		fmt.Printf("OpenAPI: documented error answers (route, status, code) the suite met: %d of %d; not met:\n  %s\n",
			len(documented)-len(unseen), len(documented), strings.Join(unseen, "\n  "))
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: OpenAPI: no exchange of the suite was validated for %s\n", strings.Join(missing, ", "))
		return 1
	}
	return code
}

// documentedErrors are the error answers the document lists, as "route
// status code".
func documentedErrors() []string {
	b, _ := openapi.JSON()
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"components"`
	}
	_ = json.Unmarshal(b, &doc)
	type response struct {
		Ref     string `json:"$ref"`
		Content map[string]struct {
			Schema struct {
				AllOf []struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `json:"enum"`
								} `json:"code"`
							} `json:"properties"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"allOf"`
			} `json:"schema"`
		} `json:"content"`
	}
	var out []string
	for path, item := range doc.Paths {
		for method, raw := range item {
			var op struct {
				Responses map[string]response `json:"responses"`
			}
			if json.Unmarshal(raw, &op) != nil {
				continue
			}
			for status, r := range op.Responses {
				if r.Ref != "" {
					_ = json.Unmarshal(doc.Components.Responses[strings.TrimPrefix(r.Ref, "#/components/responses/")], &r)
				}
				for _, s := range r.Content["application/json"].Schema.AllOf {
					for _, code := range s.Properties.Error.Properties.Code.Enum {
						out = append(out, fmt.Sprintf("%s %s %s %s", strings.ToUpper(method), path, status, code))
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// filtered reports whether the run was limited to some tests (-run,
// -skip), so that not every route can be expected.
func filtered() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return true
		}
	}
	return false
}

// TestOpenAPIServed: GET /openapi.json is the document, as JSON, and
// nothing else is served at that path.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t, nil)
	r := e.get("/openapi.json", nil)
	e.want(r, http.StatusOK, "GET /openapi.json")
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	want, err := openapi.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.body, want) {
		t.Fatal("GET /openapi.json is not the document")
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || doc.OpenAPI != "3.1.0" || len(doc.Paths) == 0 {
		t.Fatalf("served %.200s (%v)", r.body, err)
	}
	if _, ok := doc.Paths["/v1/internal/token"]; !ok {
		t.Fatal("the token broker is not described")
	}
	if _, ok := doc.Paths["/_local/clock"]; ok {
		t.Fatal("a local-only route is in the API's description")
	}
	e.wantError(e.call(http.MethodPost, "/openapi.json", nil, "{}"), http.StatusMethodNotAllowed, "method_not_allowed", "POST /openapi.json")
	e.wantError(e.get("/openapi.json/", nil), http.StatusNotFound, "not_found", "GET /openapi.json/")
}

// TestOpenAPIContractCatchesMismatches: the validation fails exchanges
// that differ from the document — a test that can fail — and passes the
// documented ones.
func TestOpenAPIContractCatchesMismatches(t *testing.T) {
	c, err := newContract()
	if err != nil {
		t.Fatal(err)
	}
	jsonH := http.Header{"Content-Type": {"application/json"}}
	ada := http.Header{"X-Account-Id": {"a1"}, "X-User-Id": {"u1"}}
	view := `{"vendor":"servicenow","name":"ServiceNow","type":"supportAndTicketing","configured":true,"integrated":false,"refreshTokenExpired":false,"status":"notConnected"}`
	cases := []struct {
		name string
		x    exchange
		bad  string // "" when the exchange is as documented; else part of the complaint
	}{
		{"list as documented", exchange{method: "GET", uri: "/v1/account/integrations", reqHeader: ada, status: 200, respHeader: jsonH, respBody: []byte("[" + view + "]")}, ""},
		{"list element without its status", exchange{method: "GET", uri: "/v1/account/integrations", reqHeader: ada, status: 200, respHeader: jsonH,
			respBody: []byte(`[{"vendor":"servicenow","name":"ServiceNow","type":"supportAndTicketing","configured":true,"integrated":false,"refreshTokenExpired":false}]`)}, "not the documented"},
		{"list element with a token", exchange{method: "GET", uri: "/v1/account/integrations", reqHeader: ada, status: 200, respHeader: jsonH,
			respBody: []byte(strings.Replace(view, `"status"`, `"accessToken":"x","status"`, 1) + "")}, "not the documented"},
		{"a status the route never answers", exchange{method: "GET", uri: "/v1/account/integrations", reqHeader: ada, status: 409, respHeader: jsonH,
			respBody: []byte(`{"error":{"code":"conflict","message":"m"}}`)}, "not the documented"},
		{"a code the route does not answer with that status", exchange{method: "DELETE", uri: "/v1/account/integrations/servicenow?flow=app", reqHeader: ada, status: 409, respHeader: jsonH,
			respBody: []byte(`{"error":{"code":"already_connected","message":"m"}}`)}, "not the documented"},
		{"a documented code", exchange{method: "DELETE", uri: "/v1/account/integrations/servicenow?flow=app", reqHeader: ada, status: 409, respHeader: jsonH,
			respBody: []byte(`{"error":{"code":"has_user_connections","message":"m"}}`)}, ""},
		{"an error without its message", exchange{method: "DELETE", uri: "/v1/account/integrations/servicenow?flow=app", reqHeader: ada, status: 409, respHeader: jsonH,
			respBody: []byte(`{"error":{"code":"has_user_connections"}}`)}, "not the documented"},
		{"an undocumented error field", exchange{method: "DELETE", uri: "/v1/account/integrations/servicenow?flow=app", reqHeader: ada, status: 409, respHeader: jsonH,
			respBody: []byte(`{"error":{"code":"has_user_connections","message":"m","secret":"s"}}`)}, "not the documented"},
		{"disconnected", exchange{method: "DELETE", uri: "/v1/account/integrations/servicenow?flow=app", reqHeader: ada, status: 204, respHeader: http.Header{}}, ""},
		{"503 without Retry-After", exchange{method: "POST", uri: "/v1/internal/token", reqHeader: jsonH, reqBody: []byte(`{"account":"a1","vendor":"servicenow"}`), status: 503, respHeader: jsonH,
			respBody: []byte(`{"error":{"code":"vendor_unavailable","message":"m"}}`)}, "not the documented"},
		{"503 with Retry-After", exchange{method: "POST", uri: "/v1/internal/token", reqHeader: jsonH, reqBody: []byte(`{"account":"a1","vendor":"servicenow"}`), status: 503,
			respHeader: http.Header{"Content-Type": {"application/json"}, "Retry-After": {"5"}}, respBody: []byte(`{"error":{"code":"vendor_unavailable","message":"m"}}`)}, ""},
		{"a token of another type", exchange{method: "POST", uri: "/v1/internal/token", reqHeader: jsonH, reqBody: []byte(`{"account":"a1","vendor":"servicenow"}`), status: 200, respHeader: jsonH,
			respBody: []byte(`{"accessToken":"t","tokenType":"MAC","expiresAt":"2027-01-04T09:29:59Z","level":"app","vendor":"servicenow","instance":"https://acme.service-now.com","apiBaseUrl":"https://acme.service-now.com"}`)}, "not the documented"},
		{"a time that is not RFC 3339", exchange{method: "POST", uri: "/v1/internal/token", reqHeader: jsonH, reqBody: []byte(`{"account":"a1","vendor":"servicenow"}`), status: 200, respHeader: jsonH,
			respBody: []byte(`{"accessToken":"t","tokenType":"Bearer","expiresAt":"1798968599","level":"app","vendor":"servicenow","instance":"https://acme.service-now.com","apiBaseUrl":"https://acme.service-now.com"}`)}, "not the documented"},
		{"a refused type accepted", exchange{method: "GET", uri: "/v1/account/integrations?type=bogus", reqHeader: ada, status: 200, respHeader: jsonH, respBody: []byte("[]")}, "refuses this request"},
		{"a refused type refused", exchange{method: "GET", uri: "/v1/account/integrations?type=bogus", reqHeader: ada, status: 400, respHeader: jsonH,
			respBody: []byte(`{"error":{"code":"invalid_type","message":"m"}}`)}, ""},
		{"a refused body accepted", exchange{method: "PUT", uri: "/v1/account/integrations/servicenow/settings", reqHeader: jsonH, reqBody: []byte(`{"clientSecert":"x"}`), status: 200, respHeader: jsonH,
			respBody: []byte(`{"vendor":"servicenow","clientSecretSet":true,"updatedAt":"2027-01-04T09:00:00Z"}`)}, "refuses this request"},
		{"an unknown path answered", exchange{method: "GET", uri: "/v1/nowhere", status: 200, respHeader: jsonH, respBody: []byte("[]")}, "does not have"},
		{"an unknown path refused", exchange{method: "GET", uri: "/v1/nowhere", status: 404, respHeader: jsonH, respBody: []byte(`{"error":{"code":"not_found","message":"m"}}`)}, ""},
		{"another method answered 404", exchange{method: "GET", uri: "/v1/account/integrations/servicenow", status: 404, respHeader: jsonH, respBody: []byte(`{"error":{"code":"not_found","message":"m"}}`)}, "does not have"},
		{"another method refused", exchange{method: "GET", uri: "/v1/account/integrations/servicenow", status: 405, respHeader: jsonH, respBody: []byte(`{"error":{"code":"method_not_allowed","message":"m"}}`)}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := c.check(tc.x)
			switch {
			case tc.bad == "" && len(got) > 0:
				t.Fatalf("a documented exchange fails: %v", got)
			case tc.bad != "" && len(got) == 0:
				t.Fatalf("a mismatch passes: %s", tc.x)
			case tc.bad != "" && !strings.Contains(strings.Join(got, "\n"), tc.bad):
				t.Fatalf("complaint %v, want one about %q", got, tc.bad)
			}
		})
	}

	// Through the middleware: a server answering an undocumented body
	// leaves a failure for its test.
	rc := &recorder{c: c}
	srv := httptest.NewServer(rc.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"vendor":"trello"}]`)
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/account/integrations?" + url.Values{"type": {"knowledge"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != `[{"vendor":"trello"}]` {
		t.Fatalf("the middleware changed the answer: %s", b)
	}
	rc.mu.Lock()
	failures := slices.Clone(rc.failures)
	rc.mu.Unlock()
	if len(failures) != 1 || !strings.Contains(failures[0], "not the documented") {
		t.Fatalf("the middleware reported %v", failures)
	}
}
