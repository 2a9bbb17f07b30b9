package lifecycle_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/vendors"
	"github.com/workplace/connections/shared/vendors/vendortest"
)

// A vendor without site choice whose identity lookup reports the one
// tenant (or domain, team) of a grant: the connection is on that tenant,
// and a reconnect, a change of user or a user-level connection on another
// is site_mismatch with nothing changed; the same tenant is fine.
func TestTenantSite(t *testing.T) {
	v := vendortest.Entry(t, "confluence")
	v.ID, v.Name, v.Type, v.SiteChoice = "tenant-like", "Tenant (synthetic)", vendors.TypeFileStorage, false
	vendortest.Use(t, v)
	defer sandbox.Speak(v.ID, "confluence", sandbox.Rules{Rotates: true, Expiry: sandbox.ExpiryInactivity}, sandbox.Lifetimes{Access: time.Hour, Refresh: 90 * 24 * time.Hour})()
	e := newEnv(t)

	app := e.connectApp(v.ID, knobs("sandbox_site", "acme"))
	if app.SiteID != sandbox.AtlassianCloudID("acme") || app.Instance != "https://acme.atlassian.net" {
		t.Fatalf("connected on site %q (%s)", app.SiteID, app.Instance)
	}
	before := e.save(app.Key)
	cases := []struct {
		name   string
		flow   string
		action string
		knobs  []string
		status int
		code   string
	}{
		{"reconnect on another tenant", "app", "reconnect", []string{"sandbox_site", "beta"}, http.StatusConflict, "site_mismatch"},
		{"change of user on another tenant", "app", "changeUser", []string{"sandbox_site", "beta", "sandbox_user", "carol"}, http.StatusConflict, "site_mismatch"},
		{"a grant reporting two tenants", "app", "reconnect", []string{"sandbox_site", "acme,beta"}, http.StatusBadGateway, "vendor_error"},
	}
	for _, tc := range cases {
		_, err := e.complete(manager, e.authorize(manager, v.ID, tc.flow, tc.action, knobs(tc.knobs...)))
		wantProblem(t, err, tc.status, tc.code)
		e.unchanged(before)
	}
	_, err := e.complete(bob, e.authorize(bob, v.ID, "user", "", knobs("sandbox_site", "beta", "sandbox_user", "bob")))
	wantProblem(t, err, http.StatusConflict, "site_mismatch")
	e.noConn(connection.UserKey(account, v.ID, bob.UserID))

	// The same tenant: a change of user and a user-level connection.
	if res := e.connect(manager, v.ID, "app", "changeUser", knobs("sandbox_site", "acme", "sandbox_user", "carol")); !res.UserChanged {
		t.Fatalf("change of user on the same tenant: %+v", res)
	}
	if u := e.connectUser(bob, v.ID, "bob"); u.SiteID != app.SiteID {
		t.Fatalf("user level on site %q, app on %q", u.SiteID, app.SiteID)
	}
}
