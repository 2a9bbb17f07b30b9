package provider_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/workplace/connections/shared/provider"
)

// Deficient reads the token response as the exchange parsed it: a refresh
// token must be there, and every required scope granted (an absent scope
// field grants what was requested, RFC 6749 §5.1).
func TestDeficient(t *testing.T) {
	const confluenceAll = "read:confluence-content.all read:confluence-space.summary search:confluence read:me offline_access"
	cases := []struct {
		name, vendor string
		a            answer
		reason       string
		missing      []string
	}{
		{"servicenow as documented", "servicenow", answer{200, "", `{"access_token":"a","refresh_token":"r","scope":"useraccount","token_type":"Bearer","expires_in":1799}`}, "", nil},
		{"scope absent: as requested", "servicenow", answer{200, "", `{"access_token":"a","refresh_token":"r"}`}, "", nil},
		{"scope null: as requested", "servicenow", answer{200, "", `{"access_token":"a","refresh_token":"r","scope":null}`}, "", nil},
		{"extra scopes granted", "servicenow", answer{200, "", `{"access_token":"a","refresh_token":"r","scope":"useraccount  incident_read"}`}, "", nil},
		{"scope empty: nothing granted", "servicenow", answer{200, "", `{"access_token":"a","refresh_token":"r","scope":""}`}, provider.ReasonScopeNotGranted, []string{"useraccount"}},
		{"another scope", "servicenow", answer{200, "", `{"access_token":"a","refresh_token":"r","scope":"useraccountx"}`}, provider.ReasonScopeNotGranted, []string{"useraccount"}},
		{"scope not a string", "servicenow", answer{200, "", `{"access_token":"a","refresh_token":"r","scope":["useraccount"]}`}, provider.ReasonScopeNotGranted, []string{"useraccount"}},
		{"no refresh token", "servicenow", answer{200, "", `{"access_token":"a","scope":"useraccount"}`}, provider.ReasonNoRefreshToken, nil},
		{"empty refresh token", "servicenow", answer{200, "", `{"access_token":"a","refresh_token":"","scope":"useraccount"}`}, provider.ReasonNoRefreshToken, nil},
		{"no refresh token and no scope", "confluence", answer{200, "", `{"access_token":"a","scope":"read:me"}`}, provider.ReasonNoRefreshToken, nil},
		{"confluence, all granted in any order", "confluence", answer{200, "", `{"access_token":"a","refresh_token":"r","scope":"offline_access read:me search:confluence read:confluence-space.summary read:confluence-content.all"}`}, "", nil},
		{"confluence without read:me and search", "confluence", answer{200, "", `{"access_token":"a","refresh_token":"r","scope":"read:confluence-content.all read:confluence-space.summary offline_access"}`}, provider.ReasonScopeNotGranted, []string{"search:confluence", "read:me"}},
		{"confluence, all granted", "confluence", answer{200, "", `{"access_token":"a","refresh_token":"r","scope":"` + confluenceAll + `"}`}, "", nil},
		// Scope tokens are case-sensitive (RFC 6749 §3.3).
		{"confluence, scope of another case", "confluence", answer{200, "", `{"access_token":"a","refresh_token":"r","scope":"read:confluence-content.all read:confluence-space.summary search:confluence READ:ME offline_access"}`}, provider.ReasonScopeNotGranted, []string{"read:me"}},
		{"form answer with the scope", "servicenow", answer{200, "application/x-www-form-urlencoded", "access_token=a&refresh_token=r&scope=useraccount"}, "", nil},
		{"form answer without scope", "servicenow", answer{200, "application/x-www-form-urlencoded", "access_token=a&refresh_token=r"}, provider.ReasonScopeNotGranted, []string{"useraccount"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ url.Values) { tc.a.write(w) })
			tok, err := f.client(t, lookup(t, tc.vendor)).Exchange(t.Context(), plantedCode, plantedVerifier)
			if err != nil {
				t.Fatal(err)
			}
			reason, missing := provider.Deficient(lookup(t, tc.vendor), tok)
			if reason != tc.reason || !slices.Equal(missing, tc.missing) {
				t.Fatalf("Deficient = %q %v, want %q %v", reason, missing, tc.reason, tc.missing)
			}
		})
	}
}
