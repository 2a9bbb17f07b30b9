package console_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/infra/console"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/vendors"
)

func names(fs []console.Field) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

// TestFieldsFromTheRegistry: each vendor's settings fields follow from its
// registry entry, so a new vendor gets them without touching the console.
func TestFieldsFromTheRegistry(t *testing.T) {
	want := map[string][]string{
		"servicenow": {"instanceUrl", "clientId", "clientSecret", "refreshTokenLifespanDays"},
		"jira":       {"siteUrl"},
		"confluence": {"siteUrl"},
	}
	for _, v := range vendors.Registry {
		if got := names(console.Fields(v)); !slices.Equal(got, append([]string{}, want[v.ID]...)) {
			t.Errorf("%s: fields %v, want %v", v.ID, got, want[v.ID])
		}
	}
	sn, _ := vendors.Lookup("servicenow")
	for _, f := range console.Fields(sn) {
		if f.Name == "refreshTokenLifespanDays" && f.Value != "100" {
			t.Errorf("ServiceNow's lifespan starts at %q, want the registry's 100 days", f.Value)
		}
		if f.Name == "instanceUrl" && f.Placeholder != "https://acme.service-now.com" {
			t.Errorf("ServiceNow's instance placeholder %q", f.Placeholder)
		}
	}
	// A vendor that is not in the registry yet.
	next := vendors.Vendor{ID: "zendesk", Name: "Zendesk", Credentials: vendors.PerAccount, InstanceHosts: []string{"*.zendesk.com"},
		Refresh: vendors.RefreshPolicy{Inactivity: 30 * 24 * time.Hour}}
	got := console.Fields(next)
	if !slices.Equal(names(got), []string{"instanceUrl", "clientId", "clientSecret"}) || got[0].Placeholder != "https://acme.zendesk.com" {
		t.Errorf("a new per-account vendor without a fixed lifespan: %+v", got)
	}
	if got := console.Fields(vendors.Vendor{ID: "multi", Credentials: vendors.Deployment, SiteChoice: true}); !slices.Equal(names(got), []string{"siteUrl"}) {
		t.Errorf("a new vendor whose grants cover several sites: %v", names(got))
	}
}

// TestFieldsAreSettingsKeys: every field is a key of the settings route's
// body, so what the console sends is what the route reads.
func TestFieldsAreSettingsKeys(t *testing.T) {
	keys := map[string]bool{}
	rt := reflect.TypeFor[lifecycle.SettingsRequest]()
	for i := range rt.NumField() {
		keys[strings.Split(rt.Field(i).Tag.Get("json"), ",")[0]] = true
	}
	for _, v := range console.Vendors(vendors.Registry) {
		for _, f := range v.Fields {
			if !keys[f.Name] {
				t.Errorf("%s: field %q is not in the settings body %v", v.ID, f.Name, keys)
			}
		}
	}
}

// TestPages: the console, its callback page and the reconnect pages the
// emails link to; the configuration is in the page, nothing else is served.
func TestPages(t *testing.T) {
	c, err := console.New(console.Options{AppReconnectPath: "/manage/apps/integrations", UserReconnectPath: "profile/external-apps/", ManagerRole: "appManager"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/console", "/console/", "/console/callback", "/console/manage/apps/integrations", "/console/profile/external-apps"} {
		if !slices.Contains(c.Pages(), p) {
			t.Errorf("Pages %v lacks %s", c.Pages(), p)
		}
		w := httptest.NewRecorder()
		c.ServeHTTP(w, httptest.NewRequest(http.MethodGet, p, nil))
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s", p, w.Code, w.Header().Get("Content-Type"))
		}
		if w.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: Referrer-Policy %q", p, w.Header().Get("Referrer-Policy"))
		}
		body := w.Body.String()
		if p != "/console/callback" && (strings.Contains(body, "/*BOOT*/") || !strings.Contains(body, `"appReconnectPath":"/console/manage/apps/integrations"`) ||
			!strings.Contains(body, `"name":"refreshTokenLifespanDays"`)) {
			t.Errorf("%s: the page does not carry its configuration", p)
		}
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/console/nothing", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("/console/nothing: %d", w.Code)
	}
}
