package integrations_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/integrations"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vendors"
	"github.com/workplace/connections/shared/vendors/vendortest"
)

var (
	now  = time.Date(2027, 1, 20, 10, 0, 0, 0, time.UTC)
	day  = 24 * time.Hour
	warn = 10 * day
)

func lookup(t *testing.T, id string) vendors.Vendor {
	t.Helper()
	v, ok := vendors.Lookup(id)
	if !ok {
		t.Fatalf("no vendor %q", id)
	}
	return v
}

func tp(t time.Time) *time.Time { return &t }

// conn is a connection whose refresh token expires at rte (and, for a
// rotating vendor, whose grant ends at abs).
func conn(k connection.Key, rte, abs time.Time) *connection.Connection {
	return &connection.Connection{
		Key: k, ID: "c-1", Instance: "https://acme.service-now.com",
		ConnectedUser: connection.Identity{ID: "sys-1", Name: "Ada Admin", Email: "ada@acme.com"},
		ConnectedBy:   connection.Person{UserID: "u-ada", Email: "ada@platform.example"},
		SecretName:    "SECRET-NAME-planted", SecretVersion: "SECRET-VERSION-planted",
		RefreshTokenExpiresAt: rte, AbsoluteExpiresAt: abs,
	}
}

func expired(c *connection.Connection) *connection.Connection {
	c.Expired = true
	return c
}

func TestBuildAppLevel(t *testing.T) {
	sn, cf := lookup(t, "servicenow"), lookup(t, "confluence")
	snApp := connection.AppKey("a1", "servicenow")
	cfApp := connection.AppKey("a1", "confluence")
	settings := &connection.Settings{Account: "a1", Vendor: "servicenow", InstanceURL: "https://acme.service-now.com", ClientID: "id"}
	far, near, past := now.Add(50*day), now.Add(3*day), now.Add(-time.Minute)
	cases := []struct {
		name string
		v    vendors.Vendor
		s    connection.VendorSnapshot
		want integrations.View
	}{
		{"servicenow without settings", sn, connection.VendorSnapshot{},
			integrations.View{Vendor: "servicenow", Name: "ServiceNow", Type: vendors.TypeSupportAndTicketing, Status: connection.StatusNotConnected}},
		{"servicenow configured, not connected: shows the instance", sn, connection.VendorSnapshot{Settings: settings},
			integrations.View{Vendor: "servicenow", Name: "ServiceNow", Type: vendors.TypeSupportAndTicketing, Configured: true,
				Status: connection.StatusNotConnected, Instance: "https://acme.service-now.com"}},
		{"confluence needs no settings", cf, connection.VendorSnapshot{},
			integrations.View{Vendor: "confluence", Name: "Confluence", Type: vendors.TypeKnowledge, Configured: true, Status: connection.StatusNotConnected}},
		{"servicenow connected", sn, connection.VendorSnapshot{Settings: settings, App: conn(snApp, far, time.Time{})},
			integrations.View{Vendor: "servicenow", Name: "ServiceNow", Type: vendors.TypeSupportAndTicketing, Configured: true, Integrated: true,
				Status: connection.StatusConnected, RefreshTokenExpiresAt: tp(far), Instance: "https://acme.service-now.com"}},
		{"servicenow expiring (fixed lifespan)", sn, connection.VendorSnapshot{Settings: settings, App: conn(snApp, near, time.Time{})},
			integrations.View{Vendor: "servicenow", Name: "ServiceNow", Type: vendors.TypeSupportAndTicketing, Configured: true, Integrated: true,
				Status: connection.StatusExpiring, RefreshTokenExpiresAt: tp(near), Instance: "https://acme.service-now.com"}},
		{"servicenow expired by time", sn, connection.VendorSnapshot{Settings: settings, App: conn(snApp, past, time.Time{})},
			integrations.View{Vendor: "servicenow", Name: "ServiceNow", Type: vendors.TypeSupportAndTicketing, Configured: true, Integrated: true,
				RefreshTokenExpired: true, Status: connection.StatusExpired, RefreshTokenExpiresAt: tp(past), Instance: "https://acme.service-now.com"}},
		{"servicenow refused", sn, connection.VendorSnapshot{Settings: settings, App: expired(conn(snApp, far, time.Time{}))},
			integrations.View{Vendor: "servicenow", Name: "ServiceNow", Type: vendors.TypeSupportAndTicketing, Configured: true, Integrated: true,
				RefreshTokenExpired: true, Status: connection.StatusExpired, RefreshTokenExpiresAt: tp(far), Instance: "https://acme.service-now.com"}},
		{"servicenow connection without settings (integrated, not configured)", sn, connection.VendorSnapshot{App: conn(snApp, far, time.Time{})},
			integrations.View{Vendor: "servicenow", Name: "ServiceNow", Type: vendors.TypeSupportAndTicketing, Integrated: true,
				Status: connection.StatusConnected, RefreshTokenExpiresAt: tp(far), Instance: "https://acme.service-now.com"}},
		{"confluence: inactivity expiry near is kept alive", cf, connection.VendorSnapshot{App: conn(cfApp, near, now.Add(200*day))},
			integrations.View{Vendor: "confluence", Name: "Confluence", Type: vendors.TypeKnowledge, Configured: true, Integrated: true,
				Status: connection.StatusConnected, RefreshTokenExpiresAt: tp(near), Instance: "https://acme.service-now.com"}},
		{"confluence: absolute limit near", cf, connection.VendorSnapshot{App: conn(cfApp, far, now.Add(2*day))},
			integrations.View{Vendor: "confluence", Name: "Confluence", Type: vendors.TypeKnowledge, Configured: true, Integrated: true,
				Status: connection.StatusExpiring, RefreshTokenExpiresAt: tp(far), Instance: "https://acme.service-now.com"}},
		{"confluence: unused too long", cf, connection.VendorSnapshot{App: conn(cfApp, past, now.Add(200*day))},
			integrations.View{Vendor: "confluence", Name: "Confluence", Type: vendors.TypeKnowledge, Configured: true, Integrated: true,
				RefreshTokenExpired: true, Status: connection.StatusExpired, RefreshTokenExpiresAt: tp(past), Instance: "https://acme.service-now.com"}},
		{"confluence: refused", cf, connection.VendorSnapshot{App: expired(conn(cfApp, far, now.Add(200*day)))},
			integrations.View{Vendor: "confluence", Name: "Confluence", Type: vendors.TypeKnowledge, Configured: true, Integrated: true,
				RefreshTokenExpired: true, Status: connection.StatusExpired, RefreshTokenExpiresAt: tp(far), Instance: "https://acme.service-now.com"}},
		{"no known expiry", sn, connection.VendorSnapshot{Settings: settings, App: conn(snApp, time.Time{}, time.Time{})},
			integrations.View{Vendor: "servicenow", Name: "ServiceNow", Type: vendors.TypeSupportAndTicketing, Configured: true, Integrated: true,
				Status: connection.StatusConnected, Instance: "https://acme.service-now.com"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := integrations.Build(tc.v, tc.s, integrations.Options{Now: now, WarningWindow: warn})
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("view:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestBuildConnectedUserForAppManagersOnly(t *testing.T) {
	sn := lookup(t, "servicenow")
	s := connection.VendorSnapshot{App: conn(connection.AppKey("a1", "servicenow"), now.Add(50*day), time.Time{})}
	for _, manager := range []bool{true, false} {
		for _, userLevel := range []bool{true, false} {
			v := integrations.Build(sn, s, integrations.Options{Now: now, WarningWindow: warn, AppManager: manager, UserLevel: userLevel})
			b, _ := json.Marshal(v)
			if manager {
				if v.ConnectedUser == nil || *v.ConnectedUser != (integrations.ConnectedUser{Name: "Ada Admin", Email: "ada@acme.com"}) {
					t.Fatalf("app manager sees connectedUser %+v", v.ConnectedUser)
				}
				continue
			}
			if v.ConnectedUser != nil || strings.Contains(string(b), "connectedUser") || strings.Contains(string(b), "ada@acme.com") {
				t.Fatalf("an ordinary user (userLevel=%v) sees the connected user: %s", userLevel, b)
			}
		}
	}
	none := integrations.Build(sn, connection.VendorSnapshot{}, integrations.Options{Now: now, AppManager: true})
	if none.ConnectedUser != nil {
		t.Fatal("connectedUser without a connection")
	}
}

func TestBuildUserLevel(t *testing.T) {
	sn, cf := lookup(t, "servicenow"), lookup(t, "confluence")
	app := conn(connection.AppKey("a1", "servicenow"), now.Add(50*day), time.Time{})
	userKey := connection.UserKey("a1", "servicenow", "u-bob")
	bobUser := func(c *connection.Connection) *connection.Connection {
		c.ConnectedUser = connection.Identity{ID: "sys-bob", Name: "Bob", Email: "bob@acme.com"}
		return c
	}
	bob := &integrations.ConnectedUser{Name: "Bob", Email: "bob@acme.com"}
	far, near, past := now.Add(50*day), now.Add(3*day), now.Add(-time.Second)
	cases := []struct {
		name    string
		v       vendors.Vendor
		s       connection.VendorSnapshot
		details integrations.Details
		user    integrations.UserConnection
	}{
		{"no connections at all", sn, connection.VendorSnapshot{}, integrations.Details{},
			integrations.UserConnection{Status: connection.StatusNotConnected}},
		{"app only, counters", sn, connection.VendorSnapshot{App: app, Counts: connection.Counts{Total: 579, Connected: 100}},
			integrations.Details{Total: 579, Connected: 100}, integrations.UserConnection{Status: connection.StatusNotConnected}},
		{"negative counters read as zero", sn, connection.VendorSnapshot{App: app, Counts: connection.Counts{Total: -1, Connected: -3}},
			integrations.Details{}, integrations.UserConnection{Status: connection.StatusNotConnected}},
		{"user connected", sn, connection.VendorSnapshot{App: app, User: bobUser(conn(userKey, far, time.Time{})), Counts: connection.Counts{Total: 1, Connected: 1}},
			integrations.Details{Total: 1, Connected: 1},
			integrations.UserConnection{Connected: true, Status: connection.StatusConnected, RefreshTokenExpiresAt: tp(far), ConnectedUser: bob}},
		{"user expiring is still connected", sn, connection.VendorSnapshot{App: app, User: bobUser(conn(userKey, near, time.Time{})), Counts: connection.Counts{Total: 1, Connected: 1}},
			integrations.Details{Total: 1, Connected: 1},
			integrations.UserConnection{Connected: true, Status: connection.StatusExpiring, RefreshTokenExpiresAt: tp(near), ConnectedUser: bob}},
		{"user expired", sn, connection.VendorSnapshot{App: app, User: bobUser(conn(userKey, past, time.Time{})), Counts: connection.Counts{Total: 1}},
			integrations.Details{Total: 1},
			integrations.UserConnection{RefreshTokenExpired: true, Status: connection.StatusExpired, RefreshTokenExpiresAt: tp(past), ConnectedUser: bob}},
		{"user refused", sn, connection.VendorSnapshot{App: app, User: expired(bobUser(conn(userKey, far, time.Time{}))), Counts: connection.Counts{Total: 1}},
			integrations.Details{Total: 1},
			integrations.UserConnection{RefreshTokenExpired: true, Status: connection.StatusExpired, RefreshTokenExpiresAt: tp(far), ConnectedUser: bob}},
		{"rotating user near inactivity expiry is connected", cf,
			connection.VendorSnapshot{User: bobUser(conn(connection.UserKey("a1", "confluence", "u-bob"), near, now.Add(200*day))), Counts: connection.Counts{Total: 2, Connected: 2}},
			integrations.Details{Total: 2, Connected: 2},
			integrations.UserConnection{Connected: true, Status: connection.StatusConnected, RefreshTokenExpiresAt: tp(near), ConnectedUser: bob}},
	}
	for _, tc := range cases {
		for _, manager := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				o := integrations.Options{Now: now, WarningWindow: warn, AppManager: manager}
				if v := integrations.Build(tc.v, tc.s, o); v.ConnectionDetails != nil || v.UserConnection != nil {
					t.Fatalf("user-level data without UserLevel: %+v %+v", v.ConnectionDetails, v.UserConnection)
				}
				o.UserLevel = true
				v := integrations.Build(tc.v, tc.s, o)
				if v.ConnectionDetails == nil || *v.ConnectionDetails != tc.details {
					t.Fatalf("connectionDetails %+v, want %+v", v.ConnectionDetails, tc.details)
				}
				if v.UserConnection == nil || !reflect.DeepEqual(*v.UserConnection, tc.user) {
					t.Fatalf("userConnection %+v, want %+v", v.UserConnection, tc.user)
				}
			})
		}
	}
}

func TestBuildJSON(t *testing.T) {
	sn := lookup(t, "servicenow")
	local := time.FixedZone("CET", 3600)
	rte := time.Date(2027, 1, 30, 11, 0, 0, 0, local)
	s := connection.VendorSnapshot{
		Settings: &connection.Settings{InstanceURL: "https://acme.service-now.com", ClientSecretName: "CLIENT-SECRET-planted"},
		App:      conn(connection.AppKey("a1", "servicenow"), rte, time.Time{}),
		User:     conn(connection.UserKey("a1", "servicenow", "u-1"), rte, time.Time{}),
		Counts:   connection.Counts{Total: 579, Connected: 100},
	}
	v := integrations.Build(sn, s, integrations.Options{Now: now, WarningWindow: warn, AppManager: true, UserLevel: true})
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
	for _, secret := range []string{"SECRET-NAME-planted", "SECRET-VERSION-planted", "CLIENT-SECRET-planted", "u-ada", "sys-1"} {
		if strings.Contains(body, secret) {
			t.Fatalf("view carries %q: %s", secret, body)
		}
	}
	var got map[string]any
	_ = json.Unmarshal(b, &got)
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"configured", "connectedUser", "connectionDetails", "instance", "integrated", "name",
		"refreshTokenExpired", "refreshTokenExpiresAt", "status", "type", "userConnection", "vendor"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	if got["refreshTokenExpiresAt"] != "2027-01-30T10:00:00Z" {
		t.Fatalf("refreshTokenExpiresAt %v, want UTC", got["refreshTokenExpiresAt"])
	}
	if uc := got["userConnection"].(map[string]any); uc["refreshTokenExpiresAt"] != "2027-01-30T10:00:00Z" {
		t.Fatalf("userConnection.refreshTokenExpiresAt %v, want UTC", uc["refreshTokenExpiresAt"])
	}
	if cd := got["connectionDetails"].(map[string]any); cd["total"] != 579.0 || cd["connected"] != 100.0 {
		t.Fatalf("connectionDetails %v", cd)
	}
	plain, _ := json.Marshal(integrations.Build(sn, connection.VendorSnapshot{}, integrations.Options{Now: now}))
	if string(plain) != `{"vendor":"servicenow","name":"ServiceNow","type":"supportAndTicketing","configured":false,"integrated":false,"refreshTokenExpired":false,"status":"notConnected"}` {
		t.Fatalf("not connected: %s", plain)
	}
}

// snapshotStore answers Snapshot from a map and records what it was asked.
type snapshotStore struct {
	store.Store
	snaps   map[string]connection.VendorSnapshot
	err     error
	account string
	userID  string
	vendors []string
	calls   int
}

func (s *snapshotStore) Snapshot(_ context.Context, account, userID string, vendors []string) (map[string]connection.VendorSnapshot, error) {
	s.calls++
	s.account, s.userID, s.vendors = account, userID, vendors
	return s.snaps, s.err
}

func TestList(t *testing.T) {
	app := conn(connection.AppKey("a1", "servicenow"), now.Add(3*day), time.Time{})
	user := conn(connection.UserKey("a1", "servicenow", "u-1"), now.Add(50*day), time.Time{})
	snaps := map[string]connection.VendorSnapshot{"servicenow": {App: app, User: user, Counts: connection.Counts{Total: 4, Connected: 3}}}
	cases := []struct {
		name       string
		q          integrations.Query
		wantUser   string
		wantVendor []string
	}{
		{"all types, no user data", integrations.Query{Account: "a1", UserID: "u-1"}, "", vendors.IDs(vendors.Registry)},
		{"user data", integrations.Query{Account: "a1", UserID: "u-1", UserLevel: true}, "u-1", vendors.IDs(vendors.Registry)},
		{"knowledge", integrations.Query{Account: "a1", UserID: "u-1", Type: vendors.TypeKnowledge}, "", []string{"confluence"}},
		{"support", integrations.Query{Account: "a1", UserID: "u-1", Type: vendors.TypeSupportAndTicketing, AppManager: true, UserLevel: true}, "u-1", []string{"servicenow", "jira"}},
		{"file storage", integrations.Query{Account: "a1", UserID: "u-1", Type: vendors.TypeFileStorage}, "", []string{"sharepoint", "googledrive", "dropbox", "box"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &snapshotStore{snaps: snaps}
			l := integrations.Lister{Store: st, Now: func() time.Time { return now }, WarningWindow: warn}
			views, err := l.List(t.Context(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if st.calls != 1 || st.account != "a1" || st.userID != tc.wantUser || !slices.Equal(st.vendors, tc.wantVendor) {
				t.Fatalf("Snapshot called %d times with %q %q %v", st.calls, st.account, st.userID, st.vendors)
			}
			var ids []string
			for _, v := range views {
				ids = append(ids, v.Vendor)
				o := integrations.Options{Now: now, WarningWindow: warn, AppManager: tc.q.AppManager, UserLevel: tc.q.UserLevel}
				if want := integrations.Build(lookup(t, v.Vendor), snaps[v.Vendor], o); !reflect.DeepEqual(v, want) {
					t.Fatalf("view of %s:\n got %+v\nwant %+v", v.Vendor, v, want)
				}
			}
			if !slices.Equal(ids, tc.wantVendor) {
				t.Fatalf("vendors %v, want %v (registry order)", ids, tc.wantVendor)
			}
		})
	}
	t.Run("store failure", func(t *testing.T) {
		boom := errors.New("boom")
		l := integrations.Lister{Store: &snapshotStore{err: boom}, Now: func() time.Time { return now }}
		if _, err := l.List(t.Context(), integrations.Query{Account: "a1"}); !errors.Is(err, boom) {
			t.Fatalf("got %v, want the store's error", err)
		}
	})
	t.Run("unknown type lists nothing", func(t *testing.T) {
		l := integrations.Lister{Store: &snapshotStore{snaps: map[string]connection.VendorSnapshot{}}, Now: func() time.Time { return now }}
		views, err := l.List(t.Context(), integrations.Query{Account: "a1", Type: "crm"})
		if err != nil || len(views) != 0 {
			t.Fatalf("got %v, %v", views, err)
		}
		if views == nil {
			t.Fatal("an empty list must encode as [], not null")
		}
	})
}

// Scope drift: a connection granted less than the registry requires now
// is listed with reauthorizationRequired and the scopes it lacks, at app
// and user level, from the item alone; one granted everything, or stored
// before scopes were recorded, is not.
func TestBuildScopeDrift(t *testing.T) {
	cf := lookup(t, "confluence")
	far := now.Add(50 * day)
	app := conn(connection.AppKey("a1", "confluence"), far, now.Add(300*day))
	user := conn(connection.UserKey("a1", "confluence", "u-bob"), far, now.Add(300*day))
	lacks := "read:confluence-content.all read:me offline_access"
	want := []string{"read:confluence-space.summary", "search:confluence"}
	for name, tc := range map[string]struct {
		granted  string
		missing  []string
		rendered string
	}{
		"lacks two":          {lacks, want, `"reauthorizationRequired":true,"missingScopes":["read:confluence-space.summary","search:confluence"]`},
		"has all":            {strings.Join(cf.RequiredScopes, " ") + " extra:scope", nil, ""},
		"nothing recorded":   {"", nil, ""},
		"expired, lacks two": {lacks, want, `"reauthorizationRequired":true`},
	} {
		t.Run(name, func(t *testing.T) {
			a, u := *app, *user
			a.GrantedScope, u.GrantedScope = tc.granted, tc.granted
			if strings.HasPrefix(name, "expired") {
				a.Expired, u.Expired = true, true
			}
			v := integrations.Build(cf, connection.VendorSnapshot{App: &a, User: &u}, integrations.Options{Now: now, WarningWindow: warn, UserLevel: true})
			if v.ReauthorizationRequired != (tc.missing != nil) || !slices.Equal(v.MissingScopes, tc.missing) {
				t.Errorf("app level: reauthorizationRequired %v, missingScopes %v; want %v", v.ReauthorizationRequired, v.MissingScopes, tc.missing)
			}
			if uc := v.UserConnection; uc.ReauthorizationRequired != (tc.missing != nil) || !slices.Equal(uc.MissingScopes, tc.missing) {
				t.Errorf("user level: reauthorizationRequired %v, missingScopes %v; want %v", uc.ReauthorizationRequired, uc.MissingScopes, tc.missing)
			}
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if tc.rendered == "" && strings.Contains(string(b), "reauthorizationRequired") || !strings.Contains(string(b), tc.rendered) {
				t.Errorf("JSON %s, want it to hold %q", b, tc.rendered)
			}
		})
	}
}

// type=fileStorage lists exactly the vendors of that type, in registry
// order (a synthetic one here, before the real ones land).
func TestListFileStorage(t *testing.T) {
	box := vendortest.Entry(t, "confluence")
	box.ID, box.Name, box.Type = "box-like", "Box (synthetic)", vendors.TypeFileStorage
	vendortest.Use(t, box)
	st := &snapshotStore{snaps: map[string]connection.VendorSnapshot{}}
	l := integrations.Lister{Store: st, Now: func() time.Time { return now }, WarningWindow: warn}
	views, err := l.List(t.Context(), integrations.Query{Account: "a1", UserID: "u-1", Type: vendors.TypeFileStorage})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range views {
		ids = append(ids, v.Vendor)
		if v.Type != vendors.TypeFileStorage {
			t.Errorf("%s listed with type %s", v.Vendor, v.Type)
		}
	}
	if want := vendors.IDs(vendors.OfType(vendors.TypeFileStorage)); !slices.Equal(ids, want) || !slices.Contains(ids, "box-like") {
		t.Fatalf("type=fileStorage listed %v, want %v", ids, want)
	}
}
