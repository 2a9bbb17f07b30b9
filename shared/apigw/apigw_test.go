package apigw_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workplace/connections/shared/apigw"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/problem"
)

var defaultClaims = config.Claims{UserID: "sub", Email: "email", Name: "name", Account: "account_id", Role: "role"}

func withClaims(claims map[string]string) apigw.Request {
	var req apigw.Request
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
	}
	return req
}

func wantProblem(t *testing.T, err error, status int, code string) {
	t.Helper()
	var p *problem.Problem
	if !errors.As(err, &p) {
		t.Fatalf("got %v, want problem %d %s", err, status, code)
	}
	if p.Status != status || p.Code != code {
		t.Fatalf("got problem %d %s, want %d %s", p.Status, p.Code, status, code)
	}
}

func TestCaller(t *testing.T) {
	full := map[string]string{"sub": "u-1", "email": "ada@acme.com", "name": "Ada", "account_id": "acct-1", "role": "appManager"}
	custom := config.Claims{UserID: "uid", Email: "mail", Name: "display", Account: "custom:tenant", Role: "custom:role"}
	cases := []struct {
		name    string
		req     apigw.Request
		claims  config.Claims
		manager string
		want    apigw.Identity
		denied  bool
	}{
		{"app manager", withClaims(full), defaultClaims, "appManager",
			apigw.Identity{Account: "acct-1", UserID: "u-1", Email: "ada@acme.com", Name: "Ada", Role: "appManager", IsAppManager: true}, false},
		{"ordinary user", withClaims(map[string]string{"sub": "u-2", "account_id": "acct-1", "role": "member"}), defaultClaims, "appManager",
			apigw.Identity{Account: "acct-1", UserID: "u-2", Role: "member"}, false},
		{"no role", withClaims(map[string]string{"sub": "u-2", "account_id": "acct-1"}), defaultClaims, "appManager",
			apigw.Identity{Account: "acct-1", UserID: "u-2"}, false},
		{"role is case-sensitive", withClaims(map[string]string{"sub": "u-2", "account_id": "acct-1", "role": "appmanager"}), defaultClaims, "appManager",
			apigw.Identity{Account: "acct-1", UserID: "u-2", Role: "appmanager"}, false},
		{"no manager role configured", withClaims(map[string]string{"sub": "u-2", "account_id": "acct-1", "role": ""}), defaultClaims, "",
			apigw.Identity{Account: "acct-1", UserID: "u-2"}, false},
		{"custom claim names", withClaims(map[string]string{"uid": "u-3", "custom:tenant": "acct-9", "mail": "m@x", "display": "Max", "custom:role": "admin", "sub": "ignored"}), custom, "admin",
			apigw.Identity{Account: "acct-9", UserID: "u-3", Email: "m@x", Name: "Max", Role: "admin", IsAppManager: true}, false},
		{"default names not read when customised", withClaims(full), custom, "appManager", apigw.Identity{}, true},
		{"no account", withClaims(map[string]string{"sub": "u-1", "role": "appManager"}), defaultClaims, "appManager", apigw.Identity{}, true},
		{"empty account", withClaims(map[string]string{"sub": "u-1", "account_id": ""}), defaultClaims, "appManager", apigw.Identity{}, true},
		{"no user", withClaims(map[string]string{"account_id": "acct-1", "role": "appManager"}), defaultClaims, "appManager", apigw.Identity{}, true},
		{"no claims", withClaims(nil), defaultClaims, "appManager", apigw.Identity{}, true},
		{"no jwt", func() apigw.Request {
			var r apigw.Request
			r.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{}
			return r
		}(), defaultClaims, "appManager", apigw.Identity{}, true},
		{"no authorizer", apigw.Request{}, defaultClaims, "appManager", apigw.Identity{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := apigw.Caller(tc.req, tc.claims, tc.manager)
			if tc.denied {
				wantProblem(t, err, http.StatusUnauthorized, "unauthorized")
				if got.IsAppManager {
					t.Fatal("a refused caller must not be an app manager")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func wantHeaders(t *testing.T, r apigw.Response) {
	t.Helper()
	if r.Headers["Content-Type"] != "application/json" || r.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("headers %v", r.Headers)
	}
}

func TestJSON(t *testing.T) {
	r := apigw.JSON(http.StatusOK, map[string]any{"vendor": "servicenow", "integrated": true})
	if r.StatusCode != http.StatusOK || r.Body != `{"integrated":true,"vendor":"servicenow"}` {
		t.Fatalf("got %d %s", r.StatusCode, r.Body)
	}
	wantHeaders(t, r)
	if r := apigw.JSON(http.StatusCreated, []int{}); r.StatusCode != http.StatusCreated || r.Body != "[]" {
		t.Fatalf("got %d %s", r.StatusCode, r.Body)
	}
	bad := apigw.JSON(http.StatusOK, map[string]any{"ch": make(chan int)})
	if bad.StatusCode != http.StatusInternalServerError || !strings.Contains(bad.Body, `"internal"`) {
		t.Fatalf("unencodable value: got %d %s", bad.StatusCode, bad.Body)
	}
	wantHeaders(t, bad)
}

func TestNoContent(t *testing.T) {
	r := apigw.NoContent()
	if r.StatusCode != http.StatusNoContent || r.Body != "" || r.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("got %+v", r)
	}
}

func TestFail(t *testing.T) {
	type errBody struct {
		Error map[string]any `json:"error"`
	}
	cases := []struct {
		name   string
		err    error
		status int
		body   map[string]any
	}{
		{"problem", apigw.Errorf(http.StatusBadRequest, "invalid_type", "type must be …"), 400,
			map[string]any{"code": "invalid_type", "message": "type must be …"}},
		{"wrapped problem", fmt.Errorf("route: %w", problem.New(http.StatusConflict, "already_connected", "%s is connected", "ServiceNow")), 409,
			map[string]any{"code": "already_connected", "message": "ServiceNow is connected"}},
		{"details", problem.New(http.StatusConflict, "site_choice_required", "choose").With("sites", []string{"a", "b"}), 409,
			map[string]any{"code": "site_choice_required", "message": "choose", "sites": []any{"a", "b"}}},
		{"details cannot override code or message", problem.New(http.StatusForbidden, "forbidden", "no").With("code", "ok").With("message", "yes"), 403,
			map[string]any{"code": "forbidden", "message": "no"}},
		{"plain error is a 500 without its text", errors.New("dynamodb: table connections-prod secret=abc"), 500,
			map[string]any{"code": "internal", "message": "something went wrong on our side; try again"}},
		{"context error", context.DeadlineExceeded, 500,
			map[string]any{"code": "internal", "message": "something went wrong on our side; try again"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := apigw.Fail(t.Context(), tc.err)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.status)
			}
			wantHeaders(t, r)
			var got errBody
			dec := json.NewDecoder(strings.NewReader(r.Body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("body %s: %v", r.Body, err)
			}
			if !reflect.DeepEqual(got.Error, tc.body) {
				t.Fatalf("error %v, want %v", got.Error, tc.body)
			}
			if tc.status == 500 && (strings.Contains(r.Body, "dynamodb") || strings.Contains(r.Body, "deadline")) {
				t.Fatalf("a 500 reveals its cause: %s", r.Body)
			}
		})
	}
}

type callbackBody struct {
	State string `json:"state"`
	Code  string `json:"code,omitempty"`
}

func TestDecodeBody(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name   string
		body   string
		base64 bool
		want   callbackBody // zero: invalid_body expected
	}{
		{"object", `{"state":"s1","code":"c1"}`, false, callbackBody{"s1", "c1"}},
		{"surrounding whitespace", " \n{\"state\":\"s1\"}\n ", false, callbackBody{State: "s1"}},
		{"base64", b64(`{"state":"s2","code":"c2"}`), true, callbackBody{"s2", "c2"}},
		{"empty", "", false, callbackBody{}},
		{"blank", "  ", false, callbackBody{}},
		{"malformed", `{"state":`, false, callbackBody{}},
		{"unknown field", `{"state":"s","admin":true}`, false, callbackBody{}},
		{"wrong type", `{"state":1}`, false, callbackBody{}},
		{"array", `[{"state":"s"}]`, false, callbackBody{}},
		{"string", `"state"`, false, callbackBody{}},
		{"null", `null`, false, callbackBody{}},
		{"two objects", `{"state":"a"}{"state":"b"}`, false, callbackBody{}},
		{"two objects spaced", `{"state":"a"} {"state":"b"}`, false, callbackBody{}},
		{"trailing garbage", `{"state":"a"}x`, false, callbackBody{}},
		{"trailing brace", `{"state":"a"}}`, false, callbackBody{}},
		{"trailing bracket", `{"state":"a"}]`, false, callbackBody{}},
		{"trailing number", `{"state":"a"} 1`, false, callbackBody{}},
		{"form encoded", `state=a&code=b`, false, callbackBody{}},
		{"base64 flag on plain JSON", `{"state":"a"}`, true, callbackBody{}},
		{"bad base64", "%%%", true, callbackBody{}},
		{"base64 of garbage", b64(`{"state":`), true, callbackBody{}},
		{"base64 of unknown field", b64(`{"state":"s","x":1}`), true, callbackBody{}},
		{"base64 of two objects", b64(`{"state":"a"}{}`), true, callbackBody{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got callbackBody
			err := apigw.DecodeBody(apigw.Request{Body: tc.body, IsBase64Encoded: tc.base64}, &got)
			if tc.want == (callbackBody{}) {
				wantProblem(t, err, http.StatusBadRequest, "invalid_body")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// The callback body is what a frontend forwards of the vendor's redirect
// query, whatever the vendor added (iss, session_state, …): unknown fields
// are ignored, everything else is as strict as DecodeBody.
func TestDecodeTolerantBody(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name   string
		body   string
		base64 bool
		want   callbackBody // zero: invalid_body expected
	}{
		{"object", `{"state":"s1","code":"c1"}`, false, callbackBody{"s1", "c1"}},
		{"forwarded query", `{"state":"s1","code":"c1","iss":"https://auth.example.com","session_state":"x.y"}`, false, callbackBody{"s1", "c1"}},
		{"unknown field of any type", `{"state":"s1","n":1,"o":{"a":[1,{"b":null}]},"t":true,"z":null}`, false, callbackBody{State: "s1"}},
		{"unknown field first", `{"admin":true,"state":"s1"}`, false, callbackBody{State: "s1"}},
		{"base64 of unknown field", b64(`{"state":"s","x":1}`), true, callbackBody{State: "s"}},
		{"empty", "", false, callbackBody{}},
		{"malformed", `{"state":`, false, callbackBody{}},
		{"malformed unknown field", `{"state":"s","x":}`, false, callbackBody{}},
		{"wrong type", `{"state":1}`, false, callbackBody{}},
		{"array", `[{"state":"s"}]`, false, callbackBody{}},
		{"null", `null`, false, callbackBody{}},
		{"two objects", `{"state":"a"}{"state":"b"}`, false, callbackBody{}},
		{"trailing garbage", `{"state":"a"}x`, false, callbackBody{}},
		{"form encoded", `state=a&code=b`, false, callbackBody{}},
		{"bad base64", "%%%", true, callbackBody{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got callbackBody
			err := apigw.DecodeTolerantBody(apigw.Request{Body: tc.body, IsBase64Encoded: tc.base64}, &got)
			if tc.want == (callbackBody{}) {
				wantProblem(t, err, http.StatusBadRequest, "invalid_body")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestErrorf(t *testing.T) {
	e := apigw.Errorf(http.StatusNotFound, "unknown_vendor", "no such vendor")
	if e.Status != 404 || e.Code != "unknown_vendor" || e.Message != "no such vendor" || e.Error() != "unknown_vendor: no such vendor" {
		t.Fatalf("got %+v (%s)", e, e)
	}
}

func TestInternalCaller(t *testing.T) {
	const arn = "arn:aws:sts::123456789012:assumed-role/search-connector/i-0abc"
	var req apigw.Request
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{AccountID: "123456789012", UserARN: arn},
	}
	if got, err := apigw.InternalCaller(req); err != nil || got != arn {
		t.Fatalf("InternalCaller = %q, %v", got, err)
	}
	for name, a := range map[string]*events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		"no authorizer":           nil,
		"a JWT only":              {JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "u1", "account_id": "a1"}}},
		"IAM without a principal": {IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{AccountID: "123456789012"}},
	} {
		var req apigw.Request
		req.RequestContext.Authorizer = a
		_, err := apigw.InternalCaller(req)
		var p *problem.Problem
		if !errors.As(err, &p) || p.Status != http.StatusUnauthorized || p.Code != "unauthorized" {
			t.Errorf("%s: %v, want 401 unauthorized", name, err)
		}
	}
}
