package vendors_test

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/vendors"
)

func mustLookup(t *testing.T, id string) vendors.Vendor {
	t.Helper()
	v, ok := vendors.Lookup(id)
	if !ok {
		t.Fatalf("vendor %q is not in the registry", id)
	}
	return v
}

func TestCheckInstanceServiceNow(t *testing.T) {
	sn := mustLookup(t, "servicenow")
	ok := []struct{ name, raw, want string }{
		{"plain", "https://acme.service-now.com", "https://acme.service-now.com"},
		{"uppercase host", "https://ACME.Service-Now.COM", "https://acme.service-now.com"},
		{"uppercase scheme", "HTTPS://acme.service-now.com", "https://acme.service-now.com"},
		{"trailing slash", "https://acme.service-now.com/", "https://acme.service-now.com"},
		{"surrounding spaces", "  https://acme.service-now.com \t", "https://acme.service-now.com"},
		{"digits and hyphens", "https://dev-12345.service-now.com", "https://dev-12345.service-now.com"},
	}
	for _, tc := range ok {
		t.Run("accepts "+tc.name, func(t *testing.T) {
			got, err := sn.CheckInstance(tc.raw, nil, nil)
			if err != nil {
				t.Fatalf("CheckInstance(%q): %v", tc.raw, err)
			}
			if got != tc.want {
				t.Fatalf("CheckInstance(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
	bad := []struct{ name, raw string }{
		{"empty", ""},
		{"blank", "   "},
		{"plain http", "http://acme.service-now.com"},
		{"other scheme", "ftp://acme.service-now.com"},
		{"javascript", "javascript:alert(1)"},
		{"no scheme", "acme.service-now.com"},
		{"scheme-relative", "//acme.service-now.com"},
		{"other domain", "https://acme.example.com"},
		{"lookalike domain", "https://acme.servicenow.com"},
		{"bare suffix", "https://service-now.com"},
		{"empty label", "https://.service-now.com"},
		{"suffix as prefix", "https://acme.service-now.com.evil.com"},
		{"suffix glued", "https://evilservice-now.com"},
		{"evil path trick", "https://evil.com/.service-now.com"},
		{"evil query trick", "https://evil.com?.service-now.com"},
		{"evil fragment trick", "https://evil.com#.service-now.com"},
		{"evil userinfo trick", "https://acme.service-now.com@evil.com"},
		{"evil backslash trick", `https://evil.com\.service-now.com`},
		{"two labels", "https://a.b.service-now.com"},
		{"trailing dot", "https://acme.service-now.com."},
		{"underscore", "https://ac_me.service-now.com"},
		{"non-ascii label", "https://acmé.service-now.com"},
		{"userinfo", "https://user:pw@acme.service-now.com"},
		{"user only", "https://user@acme.service-now.com"},
		{"port", "https://acme.service-now.com:8443"},
		{"default port", "https://acme.service-now.com:443"},
		{"path", "https://acme.service-now.com/oauth_token.do"},
		{"encoded path", "https://acme.service-now.com/%2F"},
		{"query", "https://acme.service-now.com?x=1"},
		{"fragment", "https://acme.service-now.com#top"},
		{"ipv4", "https://10.0.0.1"},
		{"ipv4 with port", "https://127.0.0.1:3000"},
		{"ipv6", "https://[::1]"},
		{"ipv6 with port", "https://[::1]:443"},
		{"localhost", "https://localhost"},
	}
	for _, tc := range bad {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			if got, err := sn.CheckInstance(tc.raw, nil, nil); err == nil {
				t.Fatalf("CheckInstance(%q) = %q, want an error", tc.raw, got)
			}
		})
	}
}

func TestCheckInstanceExtraHosts(t *testing.T) {
	sn := mustLookup(t, "servicenow")
	extra := []string{"127.0.0.1:3000", "Sandbox.Test", "*.dev.test", "sn.corp.example"}
	// Marked private (PRIVATE_VENDOR_HOSTS): these may be plain http.
	// Marking allows nothing by itself: only-private.test is no instance.
	private := []string{"127.0.0.1:3000", "sandbox.test", "*.dev.test", "only-private.test"}
	cases := []struct {
		name, raw, want string // want "" means rejected
	}{
		{"http with port, marked private", "http://127.0.0.1:3000", "http://127.0.0.1:3000"},
		{"https with port", "https://127.0.0.1:3000/", "https://127.0.0.1:3000"},
		{"other port", "http://127.0.0.1:3001", ""},
		{"no port", "http://127.0.0.1", ""},
		{"case-insensitive host", "http://SANDBOX.test", "http://sandbox.test"},
		{"pattern", "http://acme.dev.test", "http://acme.dev.test"},
		{"pattern needs a label", "http://dev.test", ""},
		{"other scheme", "ftp://sandbox.test", ""},
		{"path", "http://sandbox.test/x", ""},
		{"query", "http://sandbox.test?x", ""},
		{"userinfo", "http://u@sandbox.test", ""},
		{"a configured host not marked private is https", "https://sn.corp.example", "https://sn.corp.example"},
		{"a configured host not marked private is never plain http", "http://sn.corp.example", ""},
		{"marked private but not an allowed host", "http://only-private.test", ""},
		{"marked private but not an allowed host, https", "https://only-private.test", ""},
		{"http still refused for the vendor's own hosts", "http://acme.service-now.com", ""},
		{"vendor's own hosts still allowed", "https://acme.service-now.com", "https://acme.service-now.com"},
		{"unlisted host", "http://evil.test", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sn.CheckInstance(tc.raw, extra, private)
			switch {
			case tc.want == "" && err == nil:
				t.Fatalf("CheckInstance(%q) = %q, want an error", tc.raw, got)
			case tc.want != "" && err != nil:
				t.Fatalf("CheckInstance(%q): %v", tc.raw, err)
			case got != tc.want:
				t.Fatalf("CheckInstance(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
	// Without the private mark, the same extra hosts take https only.
	if got, err := sn.CheckInstance("http://127.0.0.1:3000", extra, nil); err == nil {
		t.Fatalf("CheckInstance = %q: plain http to a host not marked private", got)
	}
}

func TestCheckInstanceWithoutHostPatterns(t *testing.T) {
	// A vendor without an instance accepts nothing but extra hosts.
	c := mustLookup(t, "confluence")
	if got, err := c.CheckInstance("https://acme.atlassian.net", nil, nil); err == nil {
		t.Fatalf("CheckInstance = %q, want an error for a vendor without instance hosts", got)
	}
	if got, err := c.CheckInstance("https://127.0.0.1:3000", []string{"127.0.0.1:3000"}, nil); err != nil || got != "https://127.0.0.1:3000" {
		t.Fatalf("CheckInstance = %q, %v; want the extra host", got, err)
	}
}

func TestEndpoint(t *testing.T) {
	sn := mustLookup(t, "servicenow")
	cf := mustLookup(t, "confluence")
	sandbox := map[string]string{
		"servicenow.instance": "http://127.0.0.1:3000/_sandbox/servicenow/{name}/",
		"confluence.auth":     "http://127.0.0.1:3000/_sandbox/confluence/",
		"confluence.api":      "http://127.0.0.1:3000/_sandbox/confluence",
	}
	cases := []struct {
		name      string
		v         vendors.Vendor
		tmpl      string
		instance  string
		overrides map[string]string
		want      string
	}{
		{"instance token", sn, sn.TokenURL, "https://acme.service-now.com", nil, "https://acme.service-now.com/oauth_token.do"},
		{"instance trailing slash", sn, sn.AuthURL, "https://acme.service-now.com/", nil, "https://acme.service-now.com/oauth_auth.do"},
		{"instance revoke", sn, sn.RevokeURL, "https://acme.service-now.com", nil, "https://acme.service-now.com/oauth_revoke_token.do"},
		{"instance override with name", sn, sn.TokenURL, "https://acme.service-now.com", sandbox, "http://127.0.0.1:3000/_sandbox/servicenow/acme/oauth_token.do"},
		{"instance override, other instance", sn, sn.AuthURL, "https://globex.service-now.com", sandbox, "http://127.0.0.1:3000/_sandbox/servicenow/globex/oauth_auth.do"},
		{"other vendor's override ignored", sn, sn.TokenURL, "https://acme.service-now.com",
			map[string]string{"confluence.instance": "http://x/{name}"}, "https://acme.service-now.com/oauth_token.do"},
		{"bases", cf, cf.AuthURL, "", nil, "https://auth.atlassian.com/authorize"},
		{"bases token", cf, cf.TokenURL, "", nil, "https://auth.atlassian.com/oauth/token"},
		{"api base", cf, "{api}/me", "", nil, "https://api.atlassian.com/me"},
		{"base override", cf, cf.TokenURL, "", sandbox, "http://127.0.0.1:3000/_sandbox/confluence/oauth/token"},
		{"api override", cf, "{api}/oauth/token/accessible-resources", "", sandbox, "http://127.0.0.1:3000/_sandbox/confluence/oauth/token/accessible-resources"},
		{"empty template", cf, cf.RevokeURL, "", sandbox, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.v.Endpoint(tc.tmpl, tc.instance, tc.overrides); got != tc.want {
				t.Fatalf("Endpoint(%q, %q) = %q, want %q", tc.tmpl, tc.instance, got, tc.want)
			}
		})
	}
}

func TestAPIBaseURL(t *testing.T) {
	sn := mustLookup(t, "servicenow")
	cf := mustLookup(t, "confluence")
	sandbox := map[string]string{
		"servicenow.instance": "http://127.0.0.1:3000/_sandbox/servicenow/{name}",
		"confluence.api":      "http://127.0.0.1:3000/_sandbox/confluence",
	}
	const cloud = "1324a887-45db-1bf4-1e99-ef0ff456d421"
	for _, tc := range []struct {
		v                vendors.Vendor
		instance, siteID string
		overrides        map[string]string
		want             string
	}{
		{sn, "https://acme.service-now.com", "", nil, "https://acme.service-now.com"},
		{sn, "https://acme.service-now.com", "", sandbox, "http://127.0.0.1:3000/_sandbox/servicenow/acme"},
		{cf, "https://acme.atlassian.net", cloud, nil, "https://api.atlassian.com/ex/confluence/" + cloud},
		{cf, "https://acme.atlassian.net", cloud, sandbox, "http://127.0.0.1:3000/_sandbox/confluence/ex/confluence/" + cloud},
		{cf, "https://acme.atlassian.net", "a/../b", nil, "https://api.atlassian.com/ex/confluence/a%2F..%2Fb"},
		{mustLookup(t, "jira"), "https://acme.atlassian.net", cloud, nil, "https://api.atlassian.com/ex/jira/" + cloud},
		{mustLookup(t, "dropbox"), "", "dbtid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I", nil, "https://api.dropboxapi.com/2"},
	} {
		if got := tc.v.APIBaseURL(tc.instance, tc.siteID, tc.overrides); got != tc.want {
			t.Errorf("%s APIBaseURL(%q, %q) = %q, want %q", tc.v.ID, tc.instance, tc.siteID, got, tc.want)
		}
	}
	for _, v := range vendors.Registry {
		if v.APIBase == "" {
			t.Errorf("%s has no APIBase", v.ID)
		}
	}
}

func TestInstanceName(t *testing.T) {
	for raw, want := range map[string]string{
		"https://acme.service-now.com":  "acme",
		"https://ACME.service-now.com/": "ACME",
		"http://127.0.0.1:3000":         "127",
		"https://localhost":             "localhost",
		"":                              "",
		"://bad":                        "",
	} {
		if got := vendors.InstanceName(raw); got != want {
			t.Errorf("InstanceName(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestIsRefusal(t *testing.T) {
	sn := mustLookup(t, "servicenow")
	cf := mustLookup(t, "confluence")
	db := mustLookup(t, "dropbox")
	cases := []struct {
		name   string
		v      vendors.Vendor
		status int
		code   string
		want   bool
	}{
		{"servicenow 401 server_error", sn, 401, "server_error", true},
		{"servicenow 401 access_denied", sn, 401, "access_denied", true},
		{"servicenow 401 invalid_grant", sn, 401, "invalid_grant", true},
		{"servicenow 400 invalid_grant", sn, 400, "invalid_grant", true},
		{"servicenow 401 invalid_client", sn, 401, "invalid_client", false},
		{"servicenow 401 without code", sn, 401, "", false},
		{"servicenow 500 server_error", sn, 500, "server_error", false},
		{"servicenow 503", sn, 503, "", false},
		{"servicenow 400 invalid_request", sn, 400, "invalid_request", false},
		{"atlassian 403 invalid_grant", cf, 403, "invalid_grant", true},
		{"atlassian 400 invalid_grant", cf, 400, "invalid_grant", true},
		{"atlassian 403 unauthorized_client", cf, 403, "unauthorized_client", true},
		{"atlassian 401 invalid_client", cf, 401, "invalid_client", false},
		{"atlassian 401 server_error", cf, 401, "server_error", false},
		{"atlassian 500", cf, 500, "", false},
		{"atlassian 503", cf, 503, "", false},
		{"atlassian 403 without code", cf, 403, "", false},
		{"dropbox 400 invalid_grant", db, 400, "invalid_grant", true},
		{"dropbox 401 invalid_grant", db, 401, "invalid_grant", false},
		{"dropbox 400 invalid_request", db, 400, "invalid_request", false},
		{"dropbox 401 invalid_client", db, 401, "invalid_client", false},
		{"dropbox 503", db, 503, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.v.IsRefusal(tc.status, tc.code); got != tc.want {
				t.Fatalf("IsRefusal(%d, %q) = %v, want %v", tc.status, tc.code, got, tc.want)
			}
		})
	}
	t.Run("catch-all rules", func(t *testing.T) {
		v := vendors.Vendor{Refusals: []vendors.Refusal{{Status: 410}, {}}}
		if !v.IsRefusal(410, "anything") || !v.IsRefusal(500, "") {
			t.Fatal("an empty code list (or status 0) must match anything")
		}
		if (vendors.Vendor{}).IsRefusal(401, "invalid_grant") {
			t.Fatal("a vendor without refusals refuses nothing")
		}
	})
}

func TestParseType(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want vendors.Type
		ok   bool
	}{
		{"supportAndTicketing", vendors.TypeSupportAndTicketing, true},
		{"knowledge", vendors.TypeKnowledge, true},
		{"fileStorage", vendors.TypeFileStorage, true},
		{"filestorage", "", false},
		{"", "", false},
		{"Knowledge", "", false},
		{"crm", "", false},
	} {
		got, ok := vendors.ParseType(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseType(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLookupAndOfType(t *testing.T) {
	if _, ok := vendors.Lookup("no-such-vendor"); ok {
		t.Fatal("Lookup found a vendor that is not registered")
	}
	if _, ok := vendors.Lookup("ServiceNow"); ok {
		t.Fatal("Lookup must match ids exactly")
	}
	if got, want := vendors.IDs(vendors.OfType("")), vendors.IDs(vendors.Registry); !slices.Equal(got, want) {
		t.Fatalf("OfType(\"\") = %v, want the whole registry %v", got, want)
	}
	for _, typ := range vendors.Types {
		var want []string
		for _, v := range vendors.Registry {
			if v.Type == typ {
				want = append(want, v.ID)
			}
		}
		if got := vendors.IDs(vendors.OfType(typ)); !slices.Equal(got, want) {
			t.Fatalf("OfType(%s) = %v, want %v", typ, got, want)
		}
	}
	if got := vendors.IDs(vendors.OfType(vendors.TypeSupportAndTicketing)); !slices.Contains(got, "servicenow") || slices.Contains(got, "confluence") {
		t.Fatalf("OfType(supportAndTicketing) = %v", got)
	}
	if got := vendors.OfType("crm"); len(got) != 0 {
		t.Fatalf("OfType(crm) = %v, want none", vendors.IDs(got))
	}
	if got := vendors.IDs(nil); len(got) != 0 {
		t.Fatalf("IDs(nil) = %v", got)
	}
	if !mustLookup(t, "servicenow").NeedsSettings() || mustLookup(t, "confluence").NeedsSettings() {
		t.Fatal("ServiceNow (per-account client) needs settings, Confluence (deployment client) does not")
	}
}

var placeholder = regexp.MustCompile(`\{([^}]*)\}`)

// TestRegistryComplete checks that every entry is usable as declared. (That
// every entry's identity lookup exists is checked in package provider.)
func TestRegistryComplete(t *testing.T) {
	if len(vendors.Registry) == 0 {
		t.Fatal("empty registry")
	}
	seen := map[string]bool{}
	for _, v := range vendors.Registry {
		t.Run(v.ID, func(t *testing.T) {
			if v.ID == "" || v.ID != strings.ToLower(v.ID) || strings.ContainsAny(v.ID, "/.# ") {
				t.Errorf("id %q must be a non-empty lowercase word", v.ID)
			}
			if seen[v.ID] {
				t.Errorf("duplicate id %q", v.ID)
			}
			seen[v.ID] = true
			if v.Name == "" {
				t.Error("no name")
			}
			if _, ok := vendors.ParseType(string(v.Type)); !ok {
				t.Errorf("type %q is not a known type", v.Type)
			}
			if v.Credentials != vendors.PerAccount && v.Credentials != vendors.Deployment {
				t.Errorf("credentials %q is neither perAccount nor deployment", v.Credentials)
			}
			if v.AuthURL == "" || v.TokenURL == "" {
				t.Error("AuthURL and TokenURL are required")
			}
			if len(v.Scopes) == 0 {
				t.Error("no scopes")
			}
			if len(v.RequiredScopes) == 0 {
				t.Error("no required scopes: a grant narrowed by the user or the vendor would be stored as healthy")
			}
			for _, sc := range v.RequiredScopes {
				if !slices.Contains(v.Scopes, sc) {
					t.Errorf("required scope %q is never requested", sc)
				}
			}
			if v.Identity == "" {
				t.Error("no identity lookup named")
			}
			if len(v.Refusals) == 0 {
				t.Error("no refusals: a dead refresh token would be retried forever")
			}
			for _, r := range v.Refusals {
				if r.Status == 0 && len(r.Codes) == 0 {
					t.Error("a refusal matching every answer would treat outages as dead grants")
				}
			}
			if err := v.Refresh.Check(); err != nil {
				t.Errorf("refresh policy: %v", err)
			}
			if v.Credentials == vendors.PerAccount && (v.Refresh.Extendable() || v.Refresh.NeverExpires) {
				// The scan would refresh it, and its IAM (template.yaml)
				// reads only the deployment's apps, not accounts' clients.
				t.Error("a per-account vendor whose policy the scan refreshes needs the expiry scan to read <prefix>/clients/: grant it first")
			}
			if v.App != "" {
				app, ok := vendors.Lookup(v.App)
				if !ok || v.Credentials != vendors.Deployment || app.Credentials != vendors.Deployment || app.App != "" {
					t.Errorf("App %q must be another deployment vendor's id that uses its own app", v.App)
				}
			}
			hasInstance := len(v.InstanceHosts) > 0
			if v.Credentials == vendors.PerAccount && !hasInstance {
				t.Error("a per-account vendor needs instance host patterns")
			}
			for _, h := range v.InstanceHosts {
				if !strings.HasPrefix(h, "*.") || strings.Count(h, ".") < 2 {
					t.Errorf("instance host pattern %q must be *.<domain>.<tld>", h)
				}
			}
			instance := ""
			if hasInstance {
				instance = "https://acme" + strings.TrimPrefix(v.InstanceHosts[0], "*")
				if got, err := v.CheckInstance(instance, nil, nil); err != nil || got != instance {
					t.Errorf("CheckInstance(%q) = %q, %v", instance, got, err)
				}
			}
			if v.Issuer == "" {
				t.Error("no issuer: an iss in a callback could never match")
			}
			if v.Revocation != vendors.RevokeRFC7009 && (v.Revocation != vendors.RevokeBearer || v.RevokeURL == "") {
				t.Errorf("revocation %q: RFC 7009 (\"\"), or bearer with a RevokeURL", v.Revocation)
			}
			for what, tmpl := range map[string]string{"AuthURL": v.AuthURL, "TokenURL": v.TokenURL, "RevokeURL": v.RevokeURL, "Issuer": v.Issuer} {
				if tmpl == "" {
					continue
				}
				for _, m := range placeholder.FindAllStringSubmatch(tmpl, -1) {
					name := m[1]
					if name == "instance" && !hasInstance {
						t.Errorf("%s %q uses {instance} but the vendor has no instance hosts", what, tmpl)
					}
					if _, ok := v.Bases[name]; name != "instance" && !ok {
						t.Errorf("%s %q uses an undeclared base {%s}", what, tmpl, name)
					}
				}
				u, err := url.Parse(v.Endpoint(tmpl, instance, nil))
				if err != nil || u.Scheme != "https" || u.Host == "" || strings.Contains(u.String(), "{") {
					t.Errorf("%s expands to %q, want an absolute https URL", what, v.Endpoint(tmpl, instance, nil))
				}
			}
		})
	}
}

func TestIssuerMatches(t *testing.T) {
	sn := mustLookup(t, "servicenow")
	cf := mustLookup(t, "confluence")
	const inst = "https://acme.service-now.com"
	sandbox := map[string]string{"servicenow.instance": "http://127.0.0.1:3000/_sandbox/servicenow/{name}", "confluence.auth": "http://127.0.0.1:3000/_sandbox/confluence"}
	cases := []struct {
		name     string
		v        vendors.Vendor
		iss      string
		instance string
		want     bool
	}{
		{"servicenow, none", sn, "", inst, true},
		{"servicenow, its instance", sn, inst, inst, true},
		{"servicenow, another instance", sn, "https://evil.service-now.com", inst, false},
		{"servicenow, trailing slash", sn, inst + "/", inst, false},
		{"servicenow, other case", sn, "https://ACME.service-now.com", inst, false},
		{"servicenow, Atlassian's", sn, "https://auth.atlassian.com", inst, false},
		{"servicenow, the sandbox it is reached at", sn, sn.Endpoint("{instance}", inst, sandbox), inst, false},
		{"confluence, none", cf, "", "", true},
		{"confluence, Atlassian's", cf, "https://auth.atlassian.com", "https://acme.atlassian.net", true},
		{"confluence, the site", cf, "https://acme.atlassian.net", "https://acme.atlassian.net", false},
		{"confluence, the sandbox it is reached at", cf, cf.Endpoint("{auth}", "", sandbox), "", false},
		{"dropbox, none", mustLookup(t, "dropbox"), "", "", true},
		{"dropbox, its id_token's iss", mustLookup(t, "dropbox"), "https://www.dropbox.com", "", true},
		{"dropbox, its API host", mustLookup(t, "dropbox"), "https://api.dropboxapi.com", "", false},
		{"always sends iss, none", withIssuer(sn, "{instance}", true), "", inst, false},
		{"always sends iss, right", withIssuer(sn, "{instance}", true), inst, inst, true},
		{"no declared issuer, none", withIssuer(sn, "", false), "", inst, true},
		{"no declared issuer, any", withIssuer(sn, "", false), inst, inst, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.v.IssuerMatches(tc.iss, tc.instance); got != tc.want {
				t.Fatalf("IssuerMatches(%q, %q) = %t, want %t", tc.iss, tc.instance, got, tc.want)
			}
		})
	}
}

func withIssuer(v vendors.Vendor, issuer string, sends bool) vendors.Vendor {
	v.Issuer, v.SendsIssuer = issuer, sends
	return v
}

// Check accepts the five shapes and refuses what none of them is.
func TestPolicyCheck(t *testing.T) {
	bad := map[string]vendors.RefreshPolicy{
		"nothing":                    {AccessTTL: time.Hour},
		"no access lifetime":         {Lifespan: day},
		"single use, not rotating":   {SingleUse: true, Inactivity: day, AccessTTL: time.Hour},
		"never, with a lifespan":     {NeverExpires: true, Lifespan: day, AccessTTL: time.Hour},
		"lifespan and inactivity":    {Lifespan: day, Inactivity: day, AccessTTL: time.Hour},
		"rotating lifespan":          {Rotating: true, Lifespan: day, AccessTTL: time.Hour},
		"absolute before inactivity": {Inactivity: 10 * day, Absolute: day, AccessTTL: time.Hour},
		"negative":                   {Inactivity: -day, AccessTTL: time.Hour},
	}
	for name, p := range bad {
		if err := p.Check(); err == nil {
			t.Errorf("%s: accepted %+v", name, p)
		}
	}
}

const day = 24 * time.Hour

func TestMissingScopes(t *testing.T) {
	v := vendors.Vendor{RequiredScopes: []string{"read", "write", "offline_access"}}
	for granted, want := range map[string]string{
		"read write offline_access": "",
		"offline_access  read":      "write",
		"":                          "read write offline_access",
		"Read write offline_access": "read",
	} {
		if got := strings.Join(v.MissingScopes(granted), " "); got != want {
			t.Errorf("MissingScopes(%q) = %q, want %q", granted, got, want)
		}
	}
}

func TestDeploymentApps(t *testing.T) {
	// Every deployment vendor's app, each once: Confluence's own today.
	want := []string{}
	for _, v := range vendors.Registry {
		if v.Credentials == vendors.Deployment && v.App == "" {
			want = append(want, v.ID)
		}
	}
	if got := vendors.DeploymentApps(); !slices.Equal(got, want) {
		t.Errorf("DeploymentApps() = %v, want %v", got, want)
	}
	if got := (vendors.Vendor{ID: "jira", App: "confluence"}).AppID(); got != "confluence" {
		t.Errorf("AppID of a vendor sharing Confluence's app = %q", got)
	}
	if got := (vendors.Vendor{ID: "box"}).AppID(); got != "box" {
		t.Errorf("AppID of a vendor with its own app = %q", got)
	}
}
