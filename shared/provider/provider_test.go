package provider_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/vendors"
)

// Distinctive values planted in requests and in the vendor's answers: no
// error may ever carry one of them.
const (
	plantedAccess   = "AT-planted-5b1e0c"
	plantedRefresh  = "RT-planted-93d7aa"
	plantedCode     = "CODE-planted-e41f"
	plantedSecret   = "SECRET-planted-77c2"
	plantedVerifier = "VERIFIER-planted-0d9b3c51a2f84e6b9c7d5e3f1a2b4c6d8e0f"
	plantedBody     = "BODY-planted-c0ffee"

	clientID    = "client-id-1"
	instance    = "https://acme.service-now.com"
	redirectURL = "https://app.example.com/console/callback"
)

var planted = []string{plantedAccess, plantedRefresh, plantedCode, plantedSecret, plantedVerifier, plantedBody}

// clean asserts that an error, and everything it wraps, says nothing secret.
func clean(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("want an error")
	}
	texts := []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
	var ve *provider.VendorError
	if errors.As(err, &ve) {
		texts = append(texts, ve.Code, ve.Cause)
	}
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		texts = append(texts, e.Error())
	}
	for _, s := range texts {
		for _, p := range planted {
			if strings.Contains(s, p) {
				t.Fatalf("error leaks %q: %s", p, s)
			}
		}
	}
}

// request is what the fake vendor received.
type request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Form                   url.Values // the form body
}

// fakeVendor imitates a vendor: token endpoint, identity lookups and
// revocation, answering with what the test's handler says.
type fakeVendor struct {
	srv    *httptest.Server
	handle func(w http.ResponseWriter, r *http.Request, form url.Values)

	mu   sync.Mutex
	reqs []request
}

func newFake(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, form url.Values)) *fakeVendor {
	t.Helper()
	f := &fakeVendor{handle: handle}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		f.mu.Lock()
		f.reqs = append(f.reqs, request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Form: form})
		f.mu.Unlock()
		f.handle(w, r, form)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeVendor) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

func (f *fakeVendor) last(t *testing.T) request {
	t.Helper()
	rs := f.requests()
	if len(rs) == 0 {
		t.Fatal("the vendor got no request")
	}
	return rs[len(rs)-1]
}

// overrides point the vendors at the fake: ServiceNow instances at
// /sn/<name>, Atlassian's auth and api hosts at /auth and /api,
// Microsoft's login and Graph hosts at /login and /graph, Dropbox's at
// /dbx-www and /dbx.
func (f *fakeVendor) overrides() map[string]string {
	return map[string]string{
		"servicenow.instance": f.srv.URL + "/sn/{name}",
		"confluence.auth":     f.srv.URL + "/auth",
		"confluence.api":      f.srv.URL + "/api",
		"jira.auth":           f.srv.URL + "/auth",
		"jira.api":            f.srv.URL + "/api",
		"dropbox.www":         f.srv.URL + "/dbx-www",
		"dropbox.api":         f.srv.URL + "/dbx",
		"box.account":         f.srv.URL + "/box-account",
		"box.api":             f.srv.URL + "/box",
		// Google's hosts, as the sandbox serves them: under one prefix.
		"googledrive.accounts":      f.srv.URL + "/google",
		"googledrive.oauth2":        f.srv.URL + "/google",
		"googledrive.openidconnect": f.srv.URL + "/google",
		"sharepoint.login":          f.srv.URL + "/login",
		"sharepoint.graph":          f.srv.URL + "/graph",
	}
}

func lookup(t *testing.T, id string) vendors.Vendor {
	t.Helper()
	v, ok := vendors.Lookup(id)
	if !ok {
		t.Fatalf("no vendor %q", id)
	}
	return v
}

func (f *fakeVendor) client(t *testing.T, v vendors.Vendor) *provider.Client {
	t.Helper()
	inst := ""
	if len(v.InstanceHosts) > 0 {
		inst = "https://acme" + strings.TrimPrefix(v.InstanceHosts[0], "*")
	}
	return provider.New(v, inst, provider.Credentials{ClientID: clientID, ClientSecret: plantedSecret}, redirectURL, f.overrides(), f.srv.Client())
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// answer is a canned vendor answer.
type answer struct {
	status      int
	contentType string
	body        string
}

func (a answer) write(w http.ResponseWriter) {
	ct := a.contentType
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func tokenJSON(access, refresh string) string {
	b, _ := json.Marshal(map[string]any{"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": 1800, "scope": "useraccount"})
	return string(b)
}

func TestAuthCodeURL(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { w.WriteHeader(http.StatusTeapot) })
	sum := sha256.Sum256([]byte(plantedVerifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])

	t.Run("servicenow", func(t *testing.T) {
		raw := f.client(t, lookup(t, "servicenow")).AuthCodeURL("state-123", plantedVerifier)
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := u.Scheme+"://"+u.Host+u.Path, f.srv.URL+"/sn/acme/oauth_auth.do"; got != want {
			t.Fatalf("authorization endpoint %s, want %s", got, want)
		}
		q := u.Query()
		want := map[string]string{
			"response_type": "code", "client_id": clientID, "redirect_uri": redirectURL, "scope": "useraccount",
			"state": "state-123", "code_challenge": challenge, "code_challenge_method": "S256",
		}
		for k, v := range want {
			if q.Get(k) != v {
				t.Errorf("%s = %q, want %q", k, q.Get(k), v)
			}
		}
		if strings.Contains(raw, plantedSecret) || strings.Contains(raw, plantedVerifier) {
			t.Fatal("the authorization URL carries the client secret or the PKCE verifier")
		}
	})
	t.Run("servicenow without verifier has no challenge", func(t *testing.T) {
		u, _ := url.Parse(f.client(t, lookup(t, "servicenow")).AuthCodeURL("s", ""))
		if u.Query().Has("code_challenge") {
			t.Fatal("challenge without a verifier")
		}
	})
	t.Run("servicenow real instance", func(t *testing.T) {
		c := provider.New(lookup(t, "servicenow"), instance, provider.Credentials{ClientID: clientID}, redirectURL, nil, nil)
		if got := c.AuthCodeURL("s", ""); !strings.HasPrefix(got, instance+"/oauth_auth.do?") {
			t.Fatalf("AuthCodeURL = %s", got)
		}
		if c.HTTP == nil {
			t.Fatal("New must default the HTTP client")
		}
	})
	t.Run("confluence", func(t *testing.T) {
		raw := f.client(t, lookup(t, "confluence")).AuthCodeURL("state-9", plantedVerifier)
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := u.Scheme+"://"+u.Host+u.Path, f.srv.URL+"/auth/authorize"; got != want {
			t.Fatalf("authorization endpoint %s, want %s", got, want)
		}
		q := u.Query()
		for k, v := range map[string]string{"audience": "api.atlassian.com", "prompt": "consent", "state": "state-9", "response_type": "code", "client_id": clientID} {
			if q.Get(k) != v {
				t.Errorf("%s = %q, want %q", k, q.Get(k), v)
			}
		}
		scopes := strings.Fields(q.Get("scope"))
		for _, s := range []string{"offline_access", "read:me"} {
			if !slices.Contains(scopes, s) {
				t.Errorf("scope %q missing from %v", s, scopes)
			}
		}
		// Atlassian's authorization server takes PKCE S256.
		if q.Get("code_challenge") != challenge || q.Get("code_challenge_method") != "S256" {
			t.Errorf("code_challenge %q method %q, want the S256 challenge of the verifier", q.Get("code_challenge"), q.Get("code_challenge_method"))
		}
		if strings.Contains(raw, plantedSecret) || strings.Contains(raw, plantedVerifier) {
			t.Fatal("the authorization URL carries the client secret or the PKCE verifier")
		}
	})
}

func TestExchange(t *testing.T) {
	t.Run("servicenow success: secret and verifier in the body", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, form url.Values) {
			writeJSON(w, 200, tokenJSON(plantedAccess, plantedRefresh))
		})
		tok, err := f.client(t, lookup(t, "servicenow")).Exchange(t.Context(), plantedCode, plantedVerifier)
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken != plantedAccess || tok.RefreshToken != plantedRefresh || tok.Expiry.IsZero() {
			t.Fatalf("token %+v", tok)
		}
		r := f.last(t)
		if r.Method != http.MethodPost || r.Path != "/sn/acme/oauth_token.do" || r.RawQuery != "" {
			t.Fatalf("request %s %s?%s", r.Method, r.Path, r.RawQuery)
		}
		for k, v := range map[string]string{"grant_type": "authorization_code", "code": plantedCode, "redirect_uri": redirectURL,
			"client_id": clientID, "client_secret": plantedSecret, "code_verifier": plantedVerifier} {
			if r.Form.Get(k) != v {
				t.Errorf("form %s = %q, want %q", k, r.Form.Get(k), v)
			}
		}
		if r.Header.Get("Authorization") != "" {
			t.Error("ServiceNow takes the client secret in the body, not in a header")
		}
	})
	t.Run("confluence success: credentials and verifier in the body", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, form url.Values) {
			writeJSON(w, 200, tokenJSON(plantedAccess, plantedRefresh))
		})
		tok, err := f.client(t, lookup(t, "confluence")).Exchange(t.Context(), plantedCode, plantedVerifier)
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken != plantedAccess || tok.RefreshToken != plantedRefresh {
			t.Fatalf("token %+v", tok)
		}
		r := f.last(t)
		if r.Path != "/auth/oauth/token" || r.Form.Get("code") != plantedCode {
			t.Fatalf("request %s form %v", r.Path, r.Form)
		}
		if r.Form.Get("code_verifier") != plantedVerifier {
			t.Errorf("code_verifier %q, want the state's verifier", r.Form.Get("code_verifier"))
		}
		// Atlassian documents client_id and client_secret in the body.
		if r.Form.Get("client_id") == "" || r.Form.Get("client_secret") == "" || r.Header.Get("Authorization") != "" {
			t.Errorf("want client credentials in the body: form %v, Authorization %q", r.Form, r.Header.Get("Authorization"))
		}
	})

	failures := []struct {
		name string
		a    answer
	}{
		{"400 invalid_grant with a description", answer{400, "", `{"error":"invalid_grant","error_description":"` + plantedBody + `"}`}},
		{"401 invalid_client", answer{401, "", `{"error":"invalid_client","error_description":"` + plantedBody + `","echo":"` + plantedSecret + `"}`}},
		{"401 servicenow refusal", answer{401, "", `{"error":"server_error","error_description":"access_denied"}`}},
		{"500 html", answer{500, "text/html", "<html>" + plantedBody + " " + plantedCode + "</html>"}},
		{"503 plain text", answer{503, "text/plain", plantedBody}},
		{"200 with an error", answer{200, "", `{"error":"invalid_request","error_description":"` + plantedBody + `"}`}},
		{"200 without access token", answer{200, "", `{"refresh_token":"` + plantedRefresh + `","note":"` + plantedBody + `"}`}},
		{"200 unparsable json", answer{200, "", `{"access_token":"` + plantedAccess + `",` + plantedBody}},
		{"200 bad expires_in", answer{200, "", `{"access_token":"` + plantedAccess + `","expires_in":"` + plantedBody + `"}`}},
		{"200 bad form", answer{200, "application/x-www-form-urlencoded", "access_token=" + plantedAccess + "&x=%zz" + plantedBody}},
		{"error code carrying a body", answer{400, "", `{"error":"` + plantedBody + `"}`}},
	}
	for _, id := range []string{"servicenow", "confluence"} {
		for _, tc := range failures {
			t.Run(id+" "+tc.name, func(t *testing.T) {
				f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { tc.a.write(w) })
				tok, err := f.client(t, lookup(t, id)).Exchange(t.Context(), plantedCode, plantedVerifier)
				if tok != nil {
					t.Fatalf("token %+v with error %v", tok, err)
				}
				clean(t, err)
				if errors.Is(err, provider.ErrRefused) {
					t.Fatal("an exchange failure is not a refused refresh token")
				}
				var ve *provider.VendorError
				if !errors.As(err, &ve) {
					t.Fatalf("error %T %v, want a *provider.VendorError", err, err)
				}
				if tc.a.status >= 300 && ve.Status != tc.a.status {
					t.Fatalf("status %d, want %d", ve.Status, tc.a.status)
				}
			})
		}
	}
}

func TestRefresh(t *testing.T) {
	cases := []struct {
		name    string
		vendor  string
		a       answer
		refused bool
	}{
		{"servicenow 401 server_error/access_denied", "servicenow", answer{401, "", `{"error":"server_error","error_description":"access_denied"}`}, true},
		{"servicenow 401 access_denied", "servicenow", answer{401, "", `{"error":"access_denied","error_description":"` + plantedBody + `"}`}, true},
		{"servicenow 400 invalid_grant", "servicenow", answer{400, "", `{"error":"invalid_grant","error_description":"` + plantedBody + `"}`}, true},
		{"servicenow 401 invalid_client", "servicenow", answer{401, "", `{"error":"invalid_client","error_description":"` + plantedBody + `"}`}, false},
		{"servicenow 401 empty body", "servicenow", answer{401, "text/plain", ""}, false},
		{"servicenow 500 server_error", "servicenow", answer{500, "", `{"error":"server_error","error_description":"` + plantedBody + `"}`}, false},
		{"servicenow 503 html", "servicenow", answer{503, "text/html", "<h1>" + plantedBody + "</h1>"}, false},
		{"servicenow 429", "servicenow", answer{429, "", `{"error":"rate_limited"}`}, false},
		{"atlassian 403 invalid_grant", "confluence", answer{403, "", `{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}`}, true},
		{"atlassian 403 unauthorized_client", "confluence", answer{403, "", `{"error":"unauthorized_client","error_description":"refresh_token is invalid ` + plantedBody + `"}`}, true},
		{"atlassian 401 invalid_client", "confluence", answer{401, "", `{"error":"invalid_client","error_description":"` + plantedBody + `"}`}, false},
		{"atlassian 500", "confluence", answer{500, "", `{"error":"server_error","trace":"` + plantedBody + `"}`}, false},
		{"atlassian 503", "confluence", answer{503, "text/html", plantedBody}, false},
		{"atlassian 403 without code", "confluence", answer{403, "", `{"message":"` + plantedBody + `"}`}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { tc.a.write(w) })
			tok, err := f.client(t, lookup(t, tc.vendor)).Refresh(t.Context(), plantedRefresh)
			if tok != nil {
				t.Fatalf("token %+v with error %v", tok, err)
			}
			clean(t, err)
			if got := errors.Is(err, provider.ErrRefused); got != tc.refused {
				t.Fatalf("errors.Is(%v, ErrRefused) = %v, want %v", err, got, tc.refused)
			}
			r := f.last(t)
			if r.RawQuery != "" || r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("refresh_token") != plantedRefresh {
				t.Fatalf("refresh request ?%s form %v", r.RawQuery, r.Form)
			}
		})
	}
}

func TestRefreshOutagesAreNotRefusals(t *testing.T) {
	for _, id := range []string{"servicenow", "confluence"} {
		t.Run(id+" deadline passed", func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) {
				writeJSON(w, 200, tokenJSON(plantedAccess, plantedRefresh))
			})
			ctx, cancel := context.WithDeadline(t.Context(), time.Unix(0, 0))
			defer cancel()
			_, err := f.client(t, lookup(t, id)).Refresh(ctx, plantedRefresh)
			clean(t, err)
			if errors.Is(err, provider.ErrRefused) {
				t.Fatal("a timeout is not a refusal")
			}
			if !strings.Contains(err.Error(), "timeout") {
				t.Fatalf("error %q does not say it timed out", err)
			}
		})
		t.Run(id+" client timeout", func(t *testing.T) {
			release := make(chan struct{})
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) {
				select {
				case <-r.Context().Done():
				case <-release:
				}
			})
			defer close(release)
			c := f.client(t, lookup(t, id))
			c.HTTP = &http.Client{Transport: f.srv.Client().Transport, Timeout: 50 * time.Millisecond}
			_, err := c.Refresh(t.Context(), plantedRefresh)
			clean(t, err)
			if errors.Is(err, provider.ErrRefused) {
				t.Fatal("a timeout is not a refusal")
			}
		})
		t.Run(id+" vendor unreachable", func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) {})
			c := f.client(t, lookup(t, id))
			f.srv.Close()
			_, err := c.Refresh(t.Context(), plantedRefresh)
			clean(t, err)
			if errors.Is(err, provider.ErrRefused) {
				t.Fatal("an unreachable vendor is not a refusal")
			}
		})
	}
}

func TestRefreshSuccess(t *testing.T) {
	t.Run("servicenow omits the refresh token: the old one stays", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, form url.Values) {
			writeJSON(w, 200, `{"access_token":"new-access","token_type":"Bearer","expires_in":1800}`)
		})
		tok, err := f.client(t, lookup(t, "servicenow")).Refresh(t.Context(), plantedRefresh)
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken != "new-access" || tok.RefreshToken != plantedRefresh {
			t.Fatalf("token %+v, want the new access token and the old refresh token", tok)
		}
		r := f.last(t)
		if r.Path != "/sn/acme/oauth_token.do" || r.Form.Get("client_secret") != plantedSecret || r.Form.Get("client_id") != clientID {
			t.Fatalf("request %s form %v", r.Path, r.Form)
		}
	})
	t.Run("servicenow returns the same refresh token", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, form url.Values) {
			writeJSON(w, 200, tokenJSON("new-access", form.Get("refresh_token")))
		})
		tok, err := f.client(t, lookup(t, "servicenow")).Refresh(t.Context(), plantedRefresh)
		if err != nil || tok.RefreshToken != plantedRefresh {
			t.Fatalf("token %+v, %v", tok, err)
		}
	})
	t.Run("atlassian rotates", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, form url.Values) {
			writeJSON(w, 200, `{"access_token":"new-access","refresh_token":"rotated","expires_in":3600,"refresh_token_expires_in":7776000}`)
		})
		tok, err := f.client(t, lookup(t, "confluence")).Refresh(t.Context(), plantedRefresh)
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken != "new-access" || tok.RefreshToken != "rotated" {
			t.Fatalf("token %+v, want the rotated refresh token", tok)
		}
		if got, ok := tok.Extra("refresh_token_expires_in").(float64); !ok || got != 7776000 {
			t.Fatalf("refresh_token_expires_in = %v, want it kept in the token", tok.Extra("refresh_token_expires_in"))
		}
		if r := f.last(t); r.Path != "/auth/oauth/token" {
			t.Fatalf("refresh went to %s", r.Path)
		}
	})
}

// identityServer answers the identity lookups of every vendor for the
// access token plantedAccess, as the real APIs do (Dropbox's is an RPC:
// POST, no body).
func identityServer(t *testing.T, sites string) *fakeVendor {
	return newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) {
		method := http.MethodGet
		if r.URL.Path == "/dbx/2/users/get_current_account" {
			method = http.MethodPost
		}
		if r.Header.Get("Authorization") != "Bearer "+plantedAccess || r.Method != method {
			writeJSON(w, 401, `{"code":401,"message":"Unauthorized"}`)
			return
		}
		switch r.URL.Path {
		case "/sn/acme/api/now/table/sys_user":
			writeJSON(w, 200, `{"result":[{"sys_id":"6816f79cc0a8016401c5a33be04be441","user_name":"admin","name":"System Administrator","email":"admin@example.com"}]}`)
		case "/api/me":
			writeJSON(w, 200, `{"account_id":"5b10a2844c20165700ede21g","name":"Ada Admin","email":"ada@acme.com","account_status":"active"}`)
		case "/api/oauth/token/accessible-resources":
			writeJSON(w, 200, sites)
		case "/dbx/2/users/get_current_account":
			writeJSON(w, 200, dropboxTeamAccount)
		case "/box/2.0/users/me":
			writeJSON(w, 200, `{"type":"user","id":"11446498","name":"Aaron Levie","login":"ceo@example.com","enterprise":{"id":"1910967","type":"enterprise","name":"Acme Inc."}}`)
		case "/google/v1/userinfo":
			writeJSON(w, 200, `{"sub":"110169484474386276334","name":"Ada Admin","given_name":"Ada","family_name":"Admin","email":"ada@acme.com","email_verified":true,"hd":"acme.com"}`)
		case "/graph/v1.0/me":
			writeJSON(w, 200, `{"id":"87d349ed-44d7-43e1-9a83-5f2406dee5bd","displayName":"Megan Bowen","mail":null,"userPrincipalName":"MeganB@contoso.onmicrosoft.com"}`)
		case "/graph/v1.0/organization":
			writeJSON(w, 200, `{"value":[{"id":"84841066-274d-4ec0-a5c1-276be684bdd3","displayName":"Contoso","verifiedDomains":[{"name":"Contoso.onmicrosoft.com","isDefault":true,"isInitial":true}]}]}`)
		default:
			writeJSON(w, 404, `{"error":"not found"}`)
		}
	})
}

const threeSites = `[
 {"id":"1324a887-45db-1bf4-1e99-ef0ff456d421","url":"https://Globex.atlassian.net/","name":"globex","scopes":["read:me"]},
 {"id":"a1b2c3d4-0000-1111-2222-333344445555","url":"https://acme.atlassian.net","name":"acme","scopes":["read:me"]},
 {"id":"ffffffff-eeee-dddd-cccc-bbbbbbbbbbbb","url":"https://initech.atlassian.net","name":"initech"}]`

func TestIdentifyEveryRegistryEntry(t *testing.T) {
	f := identityServer(t, threeSites)
	for _, v := range vendors.Registry {
		t.Run(v.ID, func(t *testing.T) {
			who, err := f.client(t, v).Identify(t.Context(), &oauth2.Token{AccessToken: plantedAccess, TokenType: "Bearer"})
			if err != nil {
				t.Fatalf("identity lookup %q of %s: %v", v.Identity, v.ID, err)
			}
			if who.User.ID == "" {
				t.Fatalf("identity without a user id: %+v", who)
			}
			if v.SiteChoice && len(who.Sites) == 0 {
				t.Fatal("a vendor with site choice must report the sites of the grant")
			}
		})
	}
}

func TestIdentifyServiceNow(t *testing.T) {
	sn := lookup(t, "servicenow")
	tok := &oauth2.Token{AccessToken: plantedAccess}
	t.Run("reads the current user", func(t *testing.T) {
		f := identityServer(t, "[]")
		who, err := f.client(t, sn).Identify(t.Context(), tok)
		if err != nil {
			t.Fatal(err)
		}
		want := provider.Who{}
		want.User.ID, want.User.Name, want.User.Email = "6816f79cc0a8016401c5a33be04be441", "System Administrator", "admin@example.com"
		if who.User != want.User || len(who.Sites) != 0 {
			t.Fatalf("who %+v, want %+v", who, want)
		}
		r := f.last(t)
		q, _ := url.ParseQuery(r.RawQuery)
		if q.Get("sysparm_query") != "sys_id=javascript:gs.getUserID()" || q.Get("sysparm_limit") != "1" {
			t.Fatalf("query %q", r.RawQuery)
		}
		if strings.Contains(r.RawQuery, plantedAccess) || r.Header.Get("Accept") != "application/json" {
			t.Fatalf("request ?%s headers %v", r.RawQuery, r.Header)
		}
	})
	cases := []struct {
		name string
		a    answer
		want string // name expected on success, "" for an error
	}{
		{"name falls back to user_name", answer{200, "", `{"result":[{"sys_id":"abc","user_name":"ada","name":"","email":"a@x"}]}`}, "ada"},
		{"empty result", answer{200, "", `{"result":[]}`}, ""},
		{"no result", answer{200, "", `{"note":"` + plantedBody + `"}`}, ""},
		{"no sys_id", answer{200, "", `{"result":[{"user_name":"` + plantedBody + `"}]}`}, ""},
		{"401", answer{401, "", `{"error":{"message":"` + plantedBody + `","detail":"` + plantedAccess + `"}}`}, ""},
		{"500 html", answer{500, "text/html", plantedBody}, ""},
		{"unparsable", answer{200, "", `{"result":[` + plantedBody}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { tc.a.write(w) })
			who, err := f.client(t, sn).Identify(t.Context(), tok)
			if tc.want != "" {
				if err != nil || who.User.Name != tc.want {
					t.Fatalf("who %+v, %v; want name %q", who, err, tc.want)
				}
				return
			}
			clean(t, err)
			if who.User.ID != "" {
				t.Fatalf("who %+v with an error", who)
			}
		})
	}
}

func TestIdentifyAtlassian(t *testing.T) {
	cf := lookup(t, "confluence")
	tok := &oauth2.Token{AccessToken: plantedAccess}
	t.Run("user and every site, normalised, none dropped", func(t *testing.T) {
		f := identityServer(t, threeSites)
		who, err := f.client(t, cf).Identify(t.Context(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if who.User.ID != "5b10a2844c20165700ede21g" || who.User.Name != "Ada Admin" || who.User.Email != "ada@acme.com" {
			t.Fatalf("user %+v", who.User)
		}
		want := []provider.Site{
			{ID: "1324a887-45db-1bf4-1e99-ef0ff456d421", URL: "https://globex.atlassian.net", Name: "globex"},
			{ID: "a1b2c3d4-0000-1111-2222-333344445555", URL: "https://acme.atlassian.net", Name: "acme"},
			{ID: "ffffffff-eeee-dddd-cccc-bbbbbbbbbbbb", URL: "https://initech.atlassian.net", Name: "initech"},
		}
		if len(who.Sites) != len(want) {
			t.Fatalf("sites %+v, want %+v", who.Sites, want)
		}
		for i := range want {
			if who.Sites[i] != want[i] {
				t.Fatalf("site %d = %+v, want %+v", i, who.Sites[i], want[i])
			}
		}
		paths := []string{}
		for _, r := range f.requests() {
			paths = append(paths, r.Path)
		}
		if strings.Join(paths, " ") != "/api/me /api/oauth/token/accessible-resources" {
			t.Fatalf("requests %v", paths)
		}
	})
	t.Run("one site", func(t *testing.T) {
		f := identityServer(t, `[{"id":"c1","url":"https://acme.atlassian.net","name":"acme"}]`)
		who, err := f.client(t, cf).Identify(t.Context(), tok)
		if err != nil || len(who.Sites) != 1 || who.Sites[0].ID != "c1" {
			t.Fatalf("who %+v, %v", who, err)
		}
	})
	failures := []struct {
		name      string
		me, sites answer
	}{
		{"no sites", answer{200, "", `{"account_id":"x"}`}, answer{200, "", `[]`}},
		{"me without account id", answer{200, "", `{"name":"` + plantedBody + `"}`}, answer{200, "", threeSites}},
		{"me 401", answer{401, "", `{"code":401,"message":"` + plantedBody + `"}`}, answer{200, "", threeSites}},
		{"me 403 missing scope", answer{403, "", `{"message":"` + plantedBody + `"}`}, answer{200, "", threeSites}},
		{"sites 500", answer{200, "", `{"account_id":"x"}`}, answer{500, "text/plain", plantedBody}},
		{"sites unparsable", answer{200, "", `{"account_id":"x"}`}, answer{200, "", `{"sites":"` + plantedBody + `"}`}},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) {
				if r.URL.Path == "/api/me" {
					tc.me.write(w)
					return
				}
				tc.sites.write(w)
			})
			who, err := f.client(t, cf).Identify(t.Context(), tok)
			clean(t, err)
			if who.User.ID != "" || len(who.Sites) != 0 {
				t.Fatalf("who %+v with an error", who)
			}
		})
	}
}

// Box: the user who authorized, by id, and the enterprise as the site,
// asked for by fields (with the mini user's fields, which Box would
// otherwise drop); a personal account has no enterprise and no site.
func TestIdentifyBox(t *testing.T) {
	bx := lookup(t, "box")
	tok := &oauth2.Token{AccessToken: plantedAccess}
	t.Run("user and enterprise", func(t *testing.T) {
		f := identityServer(t, "[]")
		who, err := f.client(t, bx).Identify(t.Context(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if who.User != (connection.Identity{ID: "11446498", Name: "Aaron Levie", Email: "ceo@example.com"}) {
			t.Fatalf("user %+v", who.User)
		}
		if len(who.Sites) != 1 || who.Sites[0] != (provider.Site{ID: "1910967", Name: "Acme Inc."}) {
			t.Fatalf("sites %+v", who.Sites)
		}
		r := f.last(t)
		if r.Path != "/box/2.0/users/me" || r.RawQuery != "fields=id,name,login,enterprise" {
			t.Fatalf("request %s?%s", r.Path, r.RawQuery)
		}
	})
	cases := []struct {
		name  string
		a     answer
		sites int // on success; -1: an error
	}{
		{"personal account", answer{200, "", `{"type":"user","id":"7","name":"Pat","login":"pat@example.com","enterprise":null}`}, 0},
		{"no enterprise field", answer{200, "", `{"type":"user","id":"7","name":"Pat","login":"pat@example.com"}`}, 0},
		{"no id", answer{200, "", `{"type":"user","name":"` + plantedBody + `"}`}, -1},
		{"401", answer{401, "", plantedBody}, -1},
		{"unparsable", answer{200, "", `{"id":` + plantedBody}, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { tc.a.write(w) })
			who, err := f.client(t, bx).Identify(t.Context(), tok)
			if tc.sites < 0 {
				clean(t, err)
				return
			}
			if err != nil || who.User.ID != "7" || who.User.Email != "pat@example.com" || len(who.Sites) != tc.sites {
				t.Fatalf("who %+v, %v", who, err)
			}
		})
	}
}

func TestIdentifyFailuresAreSafe(t *testing.T) {
	tok := &oauth2.Token{AccessToken: plantedAccess}
	t.Run("unknown lookup", func(t *testing.T) {
		f := identityServer(t, threeSites)
		v := lookup(t, "confluence")
		v.Identity = "no-such-family"
		if _, err := f.client(t, v).Identify(t.Context(), tok); err == nil {
			t.Fatal("want an error for a vendor without an identity lookup")
		}
	})
	for _, v := range vendors.Registry {
		t.Run(v.ID+" unreachable", func(t *testing.T) {
			f := identityServer(t, threeSites)
			c := f.client(t, v)
			f.srv.Close()
			_, err := c.Identify(t.Context(), tok)
			clean(t, err)
		})
		t.Run(v.ID+" deadline passed", func(t *testing.T) {
			f := identityServer(t, threeSites)
			ctx, cancel := context.WithDeadline(t.Context(), time.Unix(0, 0))
			defer cancel()
			_, err := f.client(t, v).Identify(ctx, tok)
			clean(t, err)
		})
	}
}

func TestRevoke(t *testing.T) {
	t.Run("servicenow posts the token in the form body", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { w.WriteHeader(http.StatusOK) })
		c := f.client(t, lookup(t, "servicenow"))
		if !c.CanRevoke() {
			t.Fatal("ServiceNow offers revocation")
		}
		if err := c.Revoke(t.Context(), &oauth2.Token{AccessToken: plantedAccess, RefreshToken: plantedRefresh}); err != nil {
			t.Fatal(err)
		}
		rs := f.requests()
		if len(rs) != 1 {
			t.Fatalf("%d requests, want 1", len(rs))
		}
		r := rs[0]
		if r.Method != http.MethodPost || r.Path != "/sn/acme/oauth_revoke_token.do" {
			t.Fatalf("request %s %s", r.Method, r.Path)
		}
		if r.RawQuery != "" || strings.Contains(r.Path, plantedRefresh) {
			t.Fatalf("the token must never be in the URL: %s?%s", r.Path, r.RawQuery)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Fatalf("Content-Type %q", ct)
		}
		for k, v := range map[string]string{"token": plantedRefresh, "client_id": clientID, "client_secret": plantedSecret} {
			if r.Form.Get(k) != v {
				t.Errorf("form %s = %q, want %q", k, r.Form.Get(k), v)
			}
		}
	})
	// Revocation authenticates the client as the vendor's token endpoint
	// does (defect 5: it always put the credentials in the body). A vendor
	// that takes HTTP Basic gets the very header x/oauth2 sends to its token
	// endpoint, and no secret in the body; one that takes the body gets the
	// body and no header. The credentials need form-urlencoding (RFC 6749
	// section 2.3.1) before Basic.
	for _, inBody := range []bool{false, true} {
		name := map[bool]string{false: "HTTP Basic", true: "body"}[inBody]
		t.Run("client authentication as at the token endpoint: "+name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) {
				if strings.HasSuffix(r.URL.Path, "/token") {
					writeJSON(w, http.StatusOK, tokenJSON(plantedAccess, plantedRefresh))
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			v := vendors.Vendor{
				ID: "basicvendor", Name: "Basic Vendor",
				Bases:   map[string]string{"auth": "https://auth.example.com"},
				AuthURL: "{auth}/authorize", TokenURL: "{auth}/token", RevokeURL: "{auth}/revoke",
				ClientSecretInBody: inBody,
			}
			const oddID, oddSecret = "client id/1", "s&e=c+ret:" + plantedSecret
			c := provider.New(v, "", provider.Credentials{ClientID: oddID, ClientSecret: oddSecret}, redirectURL,
				map[string]string{"basicvendor.auth": f.srv.URL}, f.srv.Client())
			if _, err := c.Refresh(t.Context(), plantedRefresh); err != nil {
				t.Fatal(err)
			}
			if err := c.Revoke(t.Context(), &oauth2.Token{RefreshToken: plantedRefresh}); err != nil {
				t.Fatal(err)
			}
			rs := f.requests()
			if len(rs) != 2 || rs[0].Path != "/token" || rs[1].Path != "/revoke" {
				t.Fatalf("requests %+v", rs)
			}
			tokenReq, revokeReq := rs[0], rs[1]
			if got, want := revokeReq.Header.Get("Authorization"), tokenReq.Header.Get("Authorization"); got != want {
				t.Fatalf("revocation Authorization %q, token endpoint's %q", got, want)
			}
			for _, k := range []string{"client_id", "client_secret"} {
				if got, want := revokeReq.Form[k], tokenReq.Form[k]; !slices.Equal(got, want) {
					t.Errorf("revocation form %s = %q, token endpoint's %q", k, got, want)
				}
			}
			if revokeReq.Form.Get("token") != plantedRefresh {
				t.Errorf("revocation token %q", revokeReq.Form.Get("token"))
			}
			if inBody {
				if revokeReq.Header.Get("Authorization") != "" || revokeReq.Form.Get("client_secret") != oddSecret {
					t.Fatal("body style: the secret must be in the body and nowhere else")
				}
				return
			}
			req := &http.Request{Header: revokeReq.Header}
			user, pass, ok := req.BasicAuth()
			if !ok || user != url.QueryEscape(oddID) || pass != url.QueryEscape(oddSecret) {
				t.Fatalf("Basic credentials %q:%q (%v), want the form-urlencoded id and secret", user, pass, ok)
			}
			if revokeReq.Form.Has("client_secret") || revokeReq.Form.Has("client_id") {
				t.Fatal("Basic style: the client credentials must not be in the body as well (RFC 6749 section 2.3)")
			}
		})
	}
	t.Run("servicenow empty token is a no-op", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { w.WriteHeader(http.StatusOK) })
		for _, tok := range []*oauth2.Token{nil, {}} {
			if err := f.client(t, lookup(t, "servicenow")).Revoke(t.Context(), tok); err != nil || len(f.requests()) != 0 {
				t.Fatalf("err %v, %d requests", err, len(f.requests()))
			}
		}
	})
	t.Run("servicenow without a refresh token revokes the access token", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { w.WriteHeader(http.StatusOK) })
		if err := f.client(t, lookup(t, "servicenow")).Revoke(t.Context(), &oauth2.Token{AccessToken: plantedAccess}); err != nil {
			t.Fatal(err)
		}
		if r := f.last(t); r.Form.Get("token") != plantedAccess {
			t.Fatalf("revoked %q, want the access token", r.Form.Get("token"))
		}
	})
	t.Run("confluence is a no-op", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { w.WriteHeader(http.StatusOK) })
		c := f.client(t, lookup(t, "confluence"))
		if c.CanRevoke() {
			t.Fatal("Confluence has no revocation URL")
		}
		if err := c.Revoke(t.Context(), &oauth2.Token{RefreshToken: plantedRefresh}); err != nil {
			t.Fatal(err)
		}
		if n := len(f.requests()); n != 0 {
			t.Fatalf("%d requests to the vendor, want none", n)
		}
	})
	for _, tc := range []struct {
		name string
		a    answer
	}{
		{"400", answer{400, "", `{"error":"invalid_request","error_description":"` + plantedBody + " " + plantedRefresh + `"}`}},
		{"500", answer{500, "text/html", plantedBody}},
	} {
		t.Run("servicenow "+tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { tc.a.write(w) })
			err := f.client(t, lookup(t, "servicenow")).Revoke(t.Context(), &oauth2.Token{RefreshToken: plantedRefresh})
			clean(t, err)
		})
	}
	t.Run("servicenow unreachable", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) {})
		c := f.client(t, lookup(t, "servicenow"))
		f.srv.Close()
		clean(t, c.Revoke(t.Context(), &oauth2.Token{RefreshToken: plantedRefresh}))
	})
}

func TestVendorErrorText(t *testing.T) {
	for _, tc := range []struct {
		e    provider.VendorError
		want string
	}{
		{provider.VendorError{}, "vendor call failed"},
		{provider.VendorError{Status: 503}, "vendor call failed: status 503"},
		{provider.VendorError{Status: 400, Code: "invalid_grant"}, "vendor call failed: status 400 invalid_grant"},
		{provider.VendorError{Cause: "Post failed: timeout"}, "vendor call failed: Post failed: timeout"},
		{provider.VendorError{Status: 401, Code: "x", Cause: "identity lookup"}, "vendor call failed: status 401 x: identity lookup"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}
