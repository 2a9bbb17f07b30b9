package vendors_test

import "testing"

// SharePoint's endpoints are Entra's organizations endpoint and Graph's
// v1.0 API, the latter the same whatever the tenant (the site id is not in
// Graph's URLs); a dead grant is only a 400 invalid_grant or
// interaction_required.
func TestSharePointEntry(t *testing.T) {
	sp := mustLookup(t, "sharepoint")
	if got := sp.Endpoint(sp.TokenURL, "", nil); got != "https://login.microsoftonline.com/organizations/oauth2/v2.0/token" {
		t.Errorf("token endpoint %s", got)
	}
	for _, tc := range []struct {
		overrides map[string]string
		want      string
	}{
		{nil, "https://graph.microsoft.com/v1.0"},
		{map[string]string{"sharepoint.graph": "http://127.0.0.1:3000/_sandbox/sharepoint"}, "http://127.0.0.1:3000/_sandbox/sharepoint/v1.0"},
	} {
		if got := sp.APIBaseURL("", "84841066-274d-4ec0-a5c1-276be684bdd3", tc.overrides); got != tc.want {
			t.Errorf("APIBaseURL = %q, want %q", got, tc.want)
		}
	}
	for _, tc := range []struct {
		status int
		code   string
		dead   bool
	}{
		{400, "invalid_grant", true},
		{400, "interaction_required", true},
		{401, "invalid_client", false},
		{400, "invalid_request", false},
		{400, "invalid_scope", false},
		{500, "invalid_grant", false},
		{503, "temporarily_unavailable", false},
	} {
		if got := sp.IsRefusal(tc.status, tc.code); got != tc.dead {
			t.Errorf("IsRefusal(%d, %s) = %v", tc.status, tc.code, got)
		}
	}
}
