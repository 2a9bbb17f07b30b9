package lifecycle_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/workplace/connections/shared/lifecycle"
)

func TestSaveSettingsServiceNow(t *testing.T) {
	e := newEnv(t)
	view, err := e.svc.SaveSettings(t.Context(), manager, "servicenow", lifecycle.SettingsRequest{
		InstanceURL: ptr(" https://ACME.service-now.com/ "), ClientID: ptr(snClientID), ClientSecret: ptr(e.snSecret),
		RefreshTokenLifespanDays: ptr(30),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := lifecycle.SettingsView{
		Vendor: "servicenow", InstanceURL: snInstance, ClientID: snClientID, ClientSecretSet: true,
		RefreshTokenLifespanDays: 30, UpdatedAt: start,
	}
	if view != want {
		t.Fatalf("view = %+v, want %+v", view, want)
	}
	b, _ := json.Marshal(view)
	if strings.Contains(string(b), e.snSecret) {
		t.Fatalf("the settings view shows the client secret: %s", b)
	}

	set, ok := e.settings(account, "servicenow")
	if !ok {
		t.Fatal("settings were not stored")
	}
	if set.InstanceURL != snInstance || set.ClientID != snClientID || set.UpdatedBy != manager.UserID {
		t.Fatalf("stored settings = %+v", set)
	}
	if b, _ := json.Marshal(set); strings.Contains(string(b), e.snSecret) {
		t.Fatal("the stored settings hold the client secret itself")
	}
	secret, err := e.vault.Get(t.Context(), set.ClientSecretName, set.ClientSecretVersion)
	if err != nil || string(secret) != e.snSecret {
		t.Fatalf("vault holds %q (%v) at the settings' version, want the client secret", secret, err)
	}

	// Without refreshTokenLifespanDays, ServiceNow's default of 100 days.
	view = e.saveServiceNow(manager)
	if view.RefreshTokenLifespanDays != 100 {
		t.Fatalf("default lifespan = %d days, want 100", view.RefreshTokenLifespanDays)
	}
}

func TestSaveSettingsInstanceAllowList(t *testing.T) {
	bad := []string{
		"https://evil.com",
		"https://a.b.service-now.com",
		"https://service-now.com",
		"https://.service-now.com",
		"https://acme.service-now.com.evil.com",
		"https://evil.com/.service-now.com",
		"https://evil.com?.service-now.com",
		"https://evil.com#.service-now.com",
		"https://evil.com\\.service-now.com",
		"https://acme_1.service-now.com",
		"http://acme.service-now.com",
		"ftp://acme.service-now.com",
		"acme.service-now.com",
		"//acme.service-now.com",
		"https://user:pass@acme.service-now.com",
		"https://acme.service-now.com@evil.com",
		"https://acme.service-now.com/oauth_token.do",
		"https://acme.service-now.com/x/../",
		"https://acme.service-now.com?x=1",
		"https://acme.service-now.com#x",
		"https://acme.service-now.com:8443",
		"https://127.0.0.1",
		"https://10.0.0.1",
		"https://169.254.169.254",
		"https://[::1]",
		"https://localhost",
		"javascript:alert(1)",
		"",
	}
	for _, raw := range bad {
		t.Run(raw, func(t *testing.T) {
			e := newEnv(t)
			_, err := e.svc.SaveSettings(t.Context(), manager, "servicenow", lifecycle.SettingsRequest{
				InstanceURL: ptr(raw), ClientID: ptr(snClientID), ClientSecret: ptr(e.snSecret),
			})
			wantProblem(t, err, http.StatusBadRequest, "invalid_instance")
			if _, ok := e.settings(account, "servicenow"); ok {
				t.Fatal("refused settings were stored")
			}
		})
	}
	good := map[string]string{
		"https://acme.service-now.com":    snInstance,
		"https://acme.service-now.com/":   snInstance,
		"https://Acme.Service-Now.com":    snInstance,
		"https://dev-123.service-now.com": "https://dev-123.service-now.com",
	}
	for raw, want := range good {
		t.Run(raw, func(t *testing.T) {
			e := newEnv(t)
			view, err := e.svc.SaveSettings(t.Context(), manager, "servicenow", lifecycle.SettingsRequest{
				InstanceURL: ptr(raw), ClientID: ptr(snClientID), ClientSecret: ptr(e.snSecret),
			})
			if err != nil || view.InstanceURL != want {
				t.Fatalf("got %q, %v; want %q", view.InstanceURL, err, want)
			}
		})
	}
}

// Extra instance hosts (ALLOWED_INSTANCE_HOSTS) are https like the
// vendor's own; plain http only for one the deployment also marked private
// (PRIVATE_VENDOR_HOSTS), and the mark alone allows no host.
func TestSaveSettingsConfiguredHosts(t *testing.T) {
	for _, tc := range []struct {
		name, raw, want string // want "" means 400 invalid_instance, nothing stored
		private         []string
	}{
		{"configured host over https", "https://sn.corp.example", "https://sn.corp.example", nil},
		{"configured host over plain http", "http://sn.corp.example", "", nil},
		{"configured host marked private over plain http", "http://sn.corp.example", "http://sn.corp.example", []string{"sn.corp.example"}},
		{"marked private but not configured", "http://lab.corp.example", "", []string{"lab.corp.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.svc.AllowedInstanceHosts = []string{"sn.corp.example"}
			e.svc.PrivateVendorHosts = tc.private
			view, err := e.svc.SaveSettings(t.Context(), manager, "servicenow", lifecycle.SettingsRequest{
				InstanceURL: ptr(tc.raw), ClientID: ptr(snClientID), ClientSecret: ptr(e.snSecret),
			})
			if tc.want == "" {
				wantProblem(t, err, http.StatusBadRequest, "invalid_instance")
				if _, ok := e.settings(account, "servicenow"); ok {
					t.Fatal("refused settings were stored")
				}
				return
			}
			if err != nil || view.InstanceURL != tc.want {
				t.Fatalf("got %q, %v; want %q", view.InstanceURL, err, tc.want)
			}
		})
	}
}

func TestSaveSettingsRefusals(t *testing.T) {
	tests := []struct {
		name   string
		who    lifecycle.Caller
		vendor string
		req    lifecycle.SettingsRequest
		status int
		code   string
	}{
		{"unknown vendor", manager, "nosuchvendor", lifecycle.SettingsRequest{}, http.StatusNotFound, "unknown_vendor"},
		{"not an app manager", bob, "servicenow",
			lifecycle.SettingsRequest{InstanceURL: ptr(snInstance), ClientID: ptr(snClientID), ClientSecret: ptr("s")},
			http.StatusForbidden, "forbidden"},
		{"not an app manager, confluence", bob, "confluence",
			lifecycle.SettingsRequest{SiteURL: ptr("https://acme.atlassian.net")}, http.StatusForbidden, "forbidden"},
		{"empty body", manager, "servicenow", lifecycle.SettingsRequest{}, http.StatusBadRequest, "invalid_body"},
		{"no instanceUrl", manager, "servicenow",
			lifecycle.SettingsRequest{ClientID: ptr(snClientID), ClientSecret: ptr("s")}, http.StatusBadRequest, "invalid_body"},
		{"no clientId", manager, "servicenow",
			lifecycle.SettingsRequest{InstanceURL: ptr(snInstance), ClientSecret: ptr("s")}, http.StatusBadRequest, "invalid_body"},
		{"no clientSecret on the first save", manager, "servicenow",
			lifecycle.SettingsRequest{InstanceURL: ptr(snInstance), ClientID: ptr(snClientID)}, http.StatusBadRequest, "invalid_body"},
		{"empty clientId", manager, "servicenow",
			lifecycle.SettingsRequest{InstanceURL: ptr(snInstance), ClientID: ptr(""), ClientSecret: ptr("s")}, http.StatusBadRequest, "invalid_body"},
		{"empty clientSecret", manager, "servicenow",
			lifecycle.SettingsRequest{InstanceURL: ptr(snInstance), ClientID: ptr(snClientID), ClientSecret: ptr("")}, http.StatusBadRequest, "invalid_body"},
		{"lifespan 0", manager, "servicenow",
			lifecycle.SettingsRequest{InstanceURL: ptr(snInstance), ClientID: ptr(snClientID), ClientSecret: ptr("s"), RefreshTokenLifespanDays: ptr(0)},
			http.StatusBadRequest, "invalid_body"},
		{"siteUrl for servicenow", manager, "servicenow",
			lifecycle.SettingsRequest{InstanceURL: ptr(snInstance), ClientID: ptr(snClientID), ClientSecret: ptr("s"), SiteURL: ptr("https://acme.atlassian.net")},
			http.StatusBadRequest, "invalid_body"},
		{"instanceUrl for confluence", manager, "confluence",
			lifecycle.SettingsRequest{InstanceURL: ptr("https://acme.atlassian.net")}, http.StatusBadRequest, "invalid_body"},
		{"client for confluence", manager, "confluence",
			lifecycle.SettingsRequest{ClientID: ptr("mine"), ClientSecret: ptr("s")}, http.StatusBadRequest, "invalid_body"},
		{"lifespan for confluence", manager, "confluence",
			lifecycle.SettingsRequest{RefreshTokenLifespanDays: ptr(10)}, http.StatusBadRequest, "invalid_body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			_, err := e.svc.SaveSettings(t.Context(), tt.who, tt.vendor, tt.req)
			wantProblem(t, err, tt.status, tt.code)
			for _, v := range []string{"servicenow", "confluence"} {
				if _, ok := e.settings(account, v); ok {
					t.Fatalf("refused settings of %s were stored", v)
				}
			}
		})
	}
}

func TestSaveSettingsInstanceLockedWhileConnected(t *testing.T) {
	e := newEnv(t)
	e.connectApp("servicenow", nil)
	before, _ := e.settings(account, "servicenow")

	_, err := e.svc.SaveSettings(t.Context(), manager, "servicenow", lifecycle.SettingsRequest{
		InstanceURL: ptr("https://other.service-now.com"), ClientID: ptr(snClientID), ClientSecret: ptr(e.snSecret),
	})
	wantProblem(t, err, http.StatusConflict, "instance_locked")
	if after, _ := e.settings(account, "servicenow"); after != before {
		t.Fatalf("settings changed: %+v, was %+v", after, before)
	}

	// The same instance, however written, is not a move.
	view, err := e.svc.SaveSettings(t.Context(), manager, "servicenow", lifecycle.SettingsRequest{
		InstanceURL: ptr("https://ACME.service-now.com/"), ClientID: ptr(snClientID),
	})
	if err != nil || view.InstanceURL != snInstance {
		t.Fatalf("re-save on the same instance: %+v, %v", view, err)
	}
}

func TestSaveSettingsKeepsSecretWhenOmitted(t *testing.T) {
	e := newEnv(t)
	e.saveServiceNow(manager)
	first, _ := e.settings(account, "servicenow")

	e.clock.Advance(1)
	view, err := e.svc.SaveSettings(t.Context(), manager, "servicenow", lifecycle.SettingsRequest{
		InstanceURL: ptr(snInstance), ClientID: ptr(snClientID), RefreshTokenLifespanDays: ptr(60),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !view.ClientSecretSet || view.RefreshTokenLifespanDays != 60 {
		t.Fatalf("view = %+v", view)
	}
	second, _ := e.settings(account, "servicenow")
	if second.ClientSecretName != first.ClientSecretName || second.ClientSecretVersion != first.ClientSecretVersion {
		t.Fatalf("secret moved from %s@%s to %s@%s", first.ClientSecretName, first.ClientSecretVersion,
			second.ClientSecretName, second.ClientSecretVersion)
	}
	// The kept secret still works: a whole connection goes through.
	e.connectApp("servicenow", nil)

	// A new client id needs its own secret.
	_, err = e.svc.SaveSettings(t.Context(), manager, "servicenow", lifecycle.SettingsRequest{
		InstanceURL: ptr(snInstance), ClientID: ptr("another-client"),
	})
	wantProblem(t, err, http.StatusBadRequest, "invalid_body")

	// A new secret is a new version; the old one stays readable.
	_, err = e.svc.SaveSettings(t.Context(), manager, "servicenow", lifecycle.SettingsRequest{
		InstanceURL: ptr(snInstance), ClientID: ptr(snClientID), ClientSecret: ptr("rotated-secret"),
	})
	if err != nil {
		t.Fatal(err)
	}
	third, _ := e.settings(account, "servicenow")
	if third.ClientSecretVersion == first.ClientSecretVersion {
		t.Fatal("a new client secret did not make a new version")
	}
	if old, err := e.vault.Get(t.Context(), first.ClientSecretName, first.ClientSecretVersion); err != nil || string(old) != e.snSecret {
		t.Fatalf("old secret version: %v", err)
	}
}

func TestSaveSettingsConfluenceSite(t *testing.T) {
	for _, raw := range []string{
		"https://evil.com", "http://acme.atlassian.net", "https://a.b.atlassian.net", "https://acme.atlassian.net/wiki",
		"https://user@acme.atlassian.net", "https://127.0.0.1", "acme.atlassian.net",
	} {
		t.Run(raw, func(t *testing.T) {
			e := newEnv(t)
			_, err := e.svc.SaveSettings(t.Context(), manager, "confluence", lifecycle.SettingsRequest{SiteURL: ptr(raw)})
			wantProblem(t, err, http.StatusBadRequest, "invalid_instance")
			if _, ok := e.settings(account, "confluence"); ok {
				t.Fatal("refused settings were stored")
			}
		})
	}

	e := newEnv(t)
	view, err := e.svc.SaveSettings(t.Context(), manager, "confluence", lifecycle.SettingsRequest{SiteURL: ptr("https://Acme.atlassian.net/")})
	if err != nil || view.SiteURL != "https://acme.atlassian.net" || view.ClientSecretSet {
		t.Fatalf("got %+v, %v", view, err)
	}
	e.connectApp("confluence", nil) // sandbox site acme

	_, err = e.svc.SaveSettings(t.Context(), manager, "confluence", lifecycle.SettingsRequest{SiteURL: ptr("https://beta.atlassian.net")})
	wantProblem(t, err, http.StatusConflict, "instance_locked")
	if set, _ := e.settings(account, "confluence"); set.SiteURL != "https://acme.atlassian.net" {
		t.Fatalf("site moved to %s", set.SiteURL)
	}
	if _, err := e.svc.SaveSettings(t.Context(), manager, "confluence", lifecycle.SettingsRequest{SiteURL: ptr("https://acme.atlassian.net")}); err != nil {
		t.Fatalf("same site: %v", err)
	}
}
