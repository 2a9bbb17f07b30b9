package provider_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/provider"
)

// Google's authorization URL asks for offline access with the consent
// screen (a refresh token every time), PKCE S256, and the scopes as the
// token response spells them.
func TestGoogleAuthCodeURL(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { w.WriteHeader(http.StatusTeapot) })
	raw := f.client(t, lookup(t, "googledrive")).AuthCodeURL("state-g", plantedVerifier)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Scheme+"://"+u.Host+u.Path, f.srv.URL+"/google/o/oauth2/v2/auth"; got != want {
		t.Fatalf("authorization endpoint %s, want %s", got, want)
	}
	q := u.Query()
	for k, v := range map[string]string{
		"access_type": "offline", "prompt": "consent", "response_type": "code", "client_id": clientID,
		"redirect_uri": redirectURL, "state": "state-g", "code_challenge_method": "S256",
	} {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if got := strings.Fields(q.Get("scope")); !slices.Equal(got, []string{"openid", "https://www.googleapis.com/auth/userinfo.email",
		"https://www.googleapis.com/auth/userinfo.profile", "https://www.googleapis.com/auth/drive.readonly"}) {
		t.Errorf("scope %v", got)
	}
	if strings.Contains(raw, plantedSecret) || strings.Contains(raw, plantedVerifier) {
		t.Fatal("the authorization URL carries the client secret or the PKCE verifier")
	}
}

// A token response that spells the scopes as Google does grants what the
// registry requires; one without Drive (unticked on the consent screen)
// does not.
func TestGoogleGrantedScopes(t *testing.T) {
	v := lookup(t, "googledrive")
	granted := "https://www.googleapis.com/auth/drive.readonly https://www.googleapis.com/auth/userinfo.profile openid https://www.googleapis.com/auth/userinfo.email"
	tok := (&oauth2.Token{AccessToken: "a", RefreshToken: "r"}).WithExtra(map[string]any{"scope": granted})
	if reason, missing := provider.Deficient(v, tok); reason != "" {
		t.Fatalf("Google's own answer refused: %s %v", reason, missing)
	}
	narrow := (&oauth2.Token{AccessToken: "a", RefreshToken: "r"}).WithExtra(map[string]any{
		"scope": "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
	})
	if reason, missing := provider.Deficient(v, narrow); reason != provider.ReasonScopeNotGranted ||
		!slices.Equal(missing, []string{"https://www.googleapis.com/auth/drive.readonly"}) {
		t.Fatalf("without Drive: %q %v", reason, missing)
	}
}

// Google answers a refresh without a refresh token (it does not rotate):
// the stored one stays. The client's credentials go in the body.
func TestGoogleRefresh(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, form url.Values) {
		writeJSON(w, 200, `{"access_token":"new-access","expires_in":3599,"scope":"openid https://www.googleapis.com/auth/drive.readonly","token_type":"Bearer"}`)
	})
	tok, err := f.client(t, lookup(t, "googledrive")).Refresh(t.Context(), plantedRefresh)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "new-access" || tok.RefreshToken != plantedRefresh {
		t.Fatalf("token %+v, want the new access token and the old refresh token", tok)
	}
	r := f.last(t)
	if r.Path != "/google/token" || r.Form.Get("client_id") != clientID || r.Form.Get("client_secret") != plantedSecret || r.Header.Get("Authorization") != "" {
		t.Fatalf("refresh request %s form %v Authorization %q", r.Path, r.Form, r.Header.Get("Authorization"))
	}

	for _, tc := range []struct {
		name    string
		a       answer
		refused bool
	}{
		{"400 invalid_grant: expired or revoked", answer{400, "", `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`}, true},
		{"400 invalid_grant with another text", answer{400, "", `{"error":"invalid_grant","error_description":"` + plantedBody + `"}`}, true},
		{"401 invalid_client: the deployment's app, not the grant", answer{401, "", `{"error":"invalid_client","error_description":"The OAuth client was not found."}`}, false},
		{"400 invalid_request", answer{400, "", `{"error":"invalid_request","error_description":"` + plantedBody + `"}`}, false},
		{"500", answer{500, "text/html", plantedBody}, false},
		{"503", answer{503, "", `{"error":"temporarily_unavailable"}`}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { tc.a.write(w) })
			_, err := f.client(t, lookup(t, "googledrive")).Refresh(t.Context(), plantedRefresh)
			clean(t, err)
			if got := errors.Is(err, provider.ErrRefused); got != tc.refused {
				t.Fatalf("refused = %v, want %v (%v)", got, tc.refused, err)
			}
		})
	}
}

// The userinfo answer gives the account (sub) and, for a Workspace
// account, its domain as the grant's one site; a personal account has
// none.
func TestIdentifyGoogle(t *testing.T) {
	g := lookup(t, "googledrive")
	tok := &oauth2.Token{AccessToken: plantedAccess}
	for _, tc := range []struct {
		name  string
		body  string
		want  provider.Who
		wantE bool
	}{
		{"workspace account", `{"sub":"110169484474386276334","name":"Ada Admin","email":"ada@acme.com","email_verified":true,"hd":"acme.com"}`,
			provider.Who{Sites: []provider.Site{{ID: "acme.com", Name: "acme.com"}}}, false},
		{"domain in capitals", `{"sub":"110169484474386276334","name":"Ada Admin","email":"ada@acme.com","hd":"ACME.com"}`,
			provider.Who{Sites: []provider.Site{{ID: "acme.com", Name: "acme.com"}}}, false},
		{"personal account", `{"sub":"110169484474386276334","name":"Ada Admin","email":"ada@acme.com","picture":"https://x"}`, provider.Who{}, false},
		{"no sub", `{"name":"` + plantedBody + `","email":"ada@acme.com"}`, provider.Who{}, true},
		{"unparsable", `{"sub":` + plantedBody, provider.Who{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) {
				if r.URL.Path != "/google/v1/userinfo" || r.Header.Get("Authorization") != "Bearer "+plantedAccess || r.URL.RawQuery != "" {
					writeJSON(w, 401, `{"error":"invalid_request","error_description":"Invalid Credentials"}`)
					return
				}
				writeJSON(w, 200, tc.body)
			})
			who, err := f.client(t, g).Identify(t.Context(), tok)
			if tc.wantE {
				clean(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if who.User.ID != "110169484474386276334" || who.User.Name != "Ada Admin" || who.User.Email != "ada@acme.com" {
				t.Fatalf("user %+v", who.User)
			}
			if !slices.Equal(who.Sites, tc.want.Sites) {
				t.Fatalf("sites %+v, want %+v", who.Sites, tc.want.Sites)
			}
		})
	}
	for _, a := range []answer{
		{401, "", `{"error":"invalid_request","error_description":"` + plantedBody + `"}`},
		{403, "", `{"error":"insufficient_scope"}`},
		{500, "text/html", plantedBody},
	} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { a.write(w) })
		_, err := f.client(t, g).Identify(t.Context(), tok)
		clean(t, err)
	}
}

// Revocation posts the token in the body to oauth2.googleapis.com/revoke,
// never in the URL (Google's curl example has it in the query).
func TestGoogleRevoke(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { w.WriteHeader(http.StatusOK) })
	c := f.client(t, lookup(t, "googledrive"))
	if !c.CanRevoke() {
		t.Fatal("Google offers revocation")
	}
	if err := c.Revoke(t.Context(), &oauth2.Token{RefreshToken: plantedRefresh}); err != nil {
		t.Fatal(err)
	}
	r := f.last(t)
	if r.Method != http.MethodPost || r.Path != "/google/revoke" || r.RawQuery != "" || r.Form.Get("token") != plantedRefresh {
		t.Fatalf("revocation %s %s?%s form %v", r.Method, r.Path, r.RawQuery, r.Form)
	}
	f = newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) {
		writeJSON(w, 400, `{"error":"invalid_token","error_description":"Token expired or revoked"}`)
	})
	clean(t, f.client(t, lookup(t, "googledrive")).Revoke(t.Context(), &oauth2.Token{RefreshToken: plantedRefresh}))
}
