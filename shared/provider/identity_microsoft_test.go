package provider_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/provider"
)

// The authorization URL is Entra's organizations endpoint with Graph's
// permission names, offline_access, an account picker, the code in the
// query and PKCE S256.
func TestAuthCodeURLMicrosoft(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { w.WriteHeader(http.StatusTeapot) })
	raw := f.client(t, lookup(t, "sharepoint")).AuthCodeURL("state-7", plantedVerifier)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Scheme+"://"+u.Host+u.Path, f.srv.URL+"/login/organizations/oauth2/v2.0/authorize"; got != want {
		t.Fatalf("authorization endpoint %s, want %s", got, want)
	}
	sum := sha256.Sum256([]byte(plantedVerifier))
	q := u.Query()
	for k, v := range map[string]string{
		"response_type": "code", "client_id": clientID, "redirect_uri": redirectURL, "state": "state-7",
		"scope":  "offline_access User.Read Files.Read.All Sites.Read.All",
		"prompt": "select_account", "response_mode": "query",
		"code_challenge": base64.RawURLEncoding.EncodeToString(sum[:]), "code_challenge_method": "S256",
	} {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if strings.Contains(raw, plantedSecret) || strings.Contains(raw, plantedVerifier) {
		t.Fatal("the authorization URL carries the client secret or the PKCE verifier")
	}
}

// Code and refresh token go to the organizations token endpoint with the
// client's secret in the form body, never as HTTP Basic; a refresh keeps
// the new refresh token Microsoft answers.
func TestExchangeAndRefreshMicrosoft(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, form url.Values) {
		writeJSON(w, 200, `{"token_type":"Bearer","scope":"Files.Read.All Sites.Read.All User.Read","expires_in":3599,"ext_expires_in":3599,"access_token":"new-access","refresh_token":"new-refresh"}`)
	})
	c := f.client(t, lookup(t, "sharepoint"))
	tok, err := c.Exchange(t.Context(), plantedCode, plantedVerifier)
	if err != nil || tok.RefreshToken != "new-refresh" {
		t.Fatalf("exchange: %+v, %v", tok, err)
	}
	if reason, missing := provider.Deficient(lookup(t, "sharepoint"), tok); reason != "" {
		t.Fatalf("Microsoft's answer deemed deficient: %s %v", reason, missing)
	}
	tok, err = c.Refresh(t.Context(), plantedRefresh)
	if err != nil || tok.RefreshToken != "new-refresh" {
		t.Fatalf("refresh: %+v, %v", tok, err)
	}
	for _, r := range f.requests() {
		if r.Path != "/login/organizations/oauth2/v2.0/token" || r.Header.Get("Authorization") != "" ||
			r.Form.Get("client_id") != clientID || r.Form.Get("client_secret") != plantedSecret || r.RawQuery != "" {
			t.Fatalf("token request %s ?%s auth %q form %v", r.Path, r.RawQuery, r.Header.Get("Authorization"), r.Form)
		}
	}
	if got := f.requests()[0].Form.Get("code_verifier"); got != plantedVerifier {
		t.Fatalf("code_verifier %q", got)
	}
}

// A dead grant is 400 invalid_grant (whatever the AADSTS code), or 400
// interaction_required; a bad client, a malformed request or an outage is
// not.
func TestRefreshMicrosoftRefusals(t *testing.T) {
	// Entra's error answer: the OAuth code, "AADSTS<n>: …", and <n>.
	entra := func(code, desc string) string {
		n, _, _ := strings.Cut(desc, ":")
		return `{"error":"` + code + `","error_description":"AADSTS` + desc + `","error_codes":[` + n + `],"trace_id":"` + plantedBody + `"}`
	}
	cases := []struct {
		name    string
		a       answer
		refused bool
	}{
		{"expired by inactivity", answer{400, "", entra("invalid_grant", "700082: The refresh token has expired due to inactivity.")}, true},
		{"revoked", answer{400, "", entra("invalid_grant", "50173: The provided grant has expired due to it being revoked.")}, true},
		{"interaction required", answer{400, "", entra("interaction_required", "50076: you must use multi-factor authentication.")}, true},
		{"bad client secret", answer{401, "", entra("invalid_client", "7000215: Invalid client secret provided.")}, false},
		{"malformed request", answer{400, "", entra("invalid_request", "9002313: Request is malformed or invalid.")}, false},
		{"busy", answer{503, "", entra("temporarily_unavailable", "90006: The service is temporarily unavailable.")}, false},
		{"invalid_grant with another status", answer{500, "", entra("invalid_grant", "50000: TokenIssuanceError")}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { tc.a.write(w) })
			_, err := f.client(t, lookup(t, "sharepoint")).Refresh(t.Context(), plantedRefresh)
			clean(t, err)
			if got := errors.Is(err, provider.ErrRefused); got != tc.refused {
				t.Fatalf("errors.Is(%v, ErrRefused) = %v, want %v", err, got, tc.refused)
			}
		})
	}
}

func TestIdentifyMicrosoft(t *testing.T) {
	sp := lookup(t, "sharepoint")
	tok := &oauth2.Token{AccessToken: plantedAccess}
	t.Run("user and tenant; the principal name when there is no mail", func(t *testing.T) {
		f := identityServer(t, "[]")
		who, err := f.client(t, sp).Identify(t.Context(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if who.User.ID != "87d349ed-44d7-43e1-9a83-5f2406dee5bd" || who.User.Name != "Megan Bowen" || who.User.Email != "MeganB@contoso.onmicrosoft.com" {
			t.Fatalf("user %+v", who.User)
		}
		if len(who.Sites) != 1 || who.Sites[0] != (provider.Site{ID: "84841066-274d-4ec0-a5c1-276be684bdd3", Name: "Contoso"}) {
			t.Fatalf("sites %+v, want the tenant", who.Sites)
		}
		var got []string
		for _, r := range f.requests() {
			got = append(got, r.Path+"?"+r.RawQuery)
			if r.Header.Get("Accept") != "application/json" || strings.Contains(r.RawQuery, plantedAccess) {
				t.Fatalf("request ?%s headers %v", r.RawQuery, r.Header)
			}
		}
		if strings.Join(got, " ") != "/graph/v1.0/me?$select=id,displayName,mail,userPrincipalName /graph/v1.0/organization?$select=id,displayName" {
			t.Fatalf("requests %v", got)
		}
	})
	me := `{"id":"u-1","displayName":"Ada","mail":"ada@contoso.com","userPrincipalName":"ada@contoso.onmicrosoft.com"}`
	org := `{"value":[{"id":"t-1","displayName":"Contoso"}]}`
	t.Run("mail wins", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) {
			if strings.HasSuffix(r.URL.Path, "/me") {
				writeJSON(w, 200, me)
				return
			}
			writeJSON(w, 200, org)
		})
		who, err := f.client(t, sp).Identify(t.Context(), tok)
		if err != nil || who.User.Email != "ada@contoso.com" || who.Sites[0].ID != "t-1" {
			t.Fatalf("who %+v, %v", who, err)
		}
	})
	failures := []struct {
		name    string
		me, org answer
	}{
		{"me 401", answer{401, "", `{"error":{"code":"InvalidAuthenticationToken","message":"` + plantedBody + `"}}`}, answer{200, "", org}},
		{"me without id", answer{200, "", `{"displayName":"` + plantedBody + `"}`}, answer{200, "", org}},
		{"organization 403", answer{200, "", me}, answer{403, "", `{"error":{"code":"Authorization_RequestDenied","message":"` + plantedBody + `"}}`}},
		{"no organization (a personal account)", answer{200, "", me}, answer{200, "", `{"value":[]}`}},
		{"organization without id", answer{200, "", me}, answer{200, "", `{"value":[{"displayName":"` + plantedBody + `"}]}`}},
		{"organization unparsable", answer{200, "", me}, answer{200, "", `{"value":"` + plantedBody}},
		{"organization 500", answer{200, "", me}, answer{500, "text/html", plantedBody}},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) {
				if strings.HasSuffix(r.URL.Path, "/me") {
					tc.me.write(w)
					return
				}
				tc.org.write(w)
			})
			who, err := f.client(t, sp).Identify(t.Context(), tok)
			clean(t, err)
			if who.User.ID != "" || len(who.Sites) != 0 {
				t.Fatalf("who %+v with an error", who)
			}
		})
	}
}
