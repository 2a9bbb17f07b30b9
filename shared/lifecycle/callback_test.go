package lifecycle_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/integrations"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/store"
)

const day = 24 * time.Hour

// vendorCase is what a test needs to know about a vendor in the sandbox.
type vendorCase struct {
	vendor    string
	instance  string                    // of the sandbox's default site
	userID    func(login string) string // the vendor's id of a sandbox login
	email     func(login string) string
	siteID    string
	revocable bool
	access    time.Duration // the sandbox's expires_in
	refresh   time.Duration // refresh-token expiry after an authorization
	absolute  time.Duration
}

// refreshExpiry reports whether got is the refresh-token expiry of a grant
// made at from: refresh later, or none (nil or zero) for a refresh token
// that never expires.
func (vc vendorCase) refreshExpiry(got *time.Time, from time.Time) bool {
	if vc.refresh == 0 {
		return got == nil || got.IsZero()
	}
	return got != nil && got.Equal(from.Add(vc.refresh))
}

var vendorCases = []vendorCase{
	{
		vendor: "servicenow", instance: snInstance,
		userID:    func(l string) string { return sandbox.ServiceNowSysID("acme", l) },
		email:     func(l string) string { return l + "@acme.example.com" },
		revocable: true, access: 1799 * time.Second, refresh: 100 * day,
	},
	{
		vendor: "confluence", instance: "https://acme.atlassian.net",
		userID: sandbox.AtlassianAccountID,
		email:  func(l string) string { return l + "@example.com" },
		siteID: sandbox.AtlassianCloudID("acme"), access: time.Hour, refresh: 90 * day, absolute: 365 * day,
	},
	{
		// A personal account (no team: no site); refresh tokens never
		// expire (refresh 0).
		vendor: "dropbox", userID: sandbox.DropboxAccountID,
		email:     func(l string) string { return l + "@example.com" },
		revocable: true, access: 4 * time.Hour,
	},
}

func TestConnectApp(t *testing.T) {
	for _, vc := range vendorCases {
		t.Run(vc.vendor, func(t *testing.T) {
			e := newEnv(t)
			if vc.vendor == "servicenow" {
				e.saveServiceNow(manager)
			}
			res := e.connect(manager, vc.vendor, "app", "", nil)

			if res.Vendor != vc.vendor || res.Flow != connection.LevelApp || res.Action != connection.ActionConnect ||
				res.Status != connection.StatusConnected || res.UserChanged {
				t.Fatalf("result = %+v", res)
			}
			v := res.Connection
			if !v.Integrated || v.RefreshTokenExpired || v.Status != connection.StatusConnected || v.Instance != vc.instance {
				t.Fatalf("view = %+v", v)
			}
			if v.ConnectedUser == nil || *v.ConnectedUser != (integrations.ConnectedUser{Name: "Admin User", Email: vc.email("admin")}) {
				t.Fatalf("connectedUser = %+v", v.ConnectedUser)
			}
			if !vc.refreshExpiry(v.RefreshTokenExpiresAt, start) {
				t.Fatalf("refreshTokenExpiresAt = %v, want %s", v.RefreshTokenExpiresAt, start.Add(vc.refresh))
			}

			c := e.conn(connection.AppKey(account, vc.vendor))
			switch {
			case c.ID == "" || c.SecretName == "" || c.SecretVersion == "":
				t.Fatalf("stored connection lacks id or secret: %+v", c)
			case c.Instance != vc.instance || c.SiteID != vc.siteID:
				t.Fatalf("stored site %s (%s), want %s (%s)", c.Instance, c.SiteID, vc.instance, vc.siteID)
			case c.ConnectedUser.ID != vc.userID("admin") || c.ConnectedBy != manager.Person:
				t.Fatalf("stored people: %+v / %+v", c.ConnectedUser, c.ConnectedBy)
			case !c.CreatedAt.Equal(start) || !c.GrantedAt.Equal(start) || c.Generation != 0 || c.Expired:
				t.Fatalf("stored times/generation: %+v", c)
			case !c.AccessTokenExpiresAt.Equal(start.Add(vc.access)):
				t.Fatalf("access expiry %s, want %s (on the service's clock)", c.AccessTokenExpiresAt, start.Add(vc.access))
			case !vc.refreshExpiry(&c.RefreshTokenExpiresAt, start):
				t.Fatalf("refresh expiry %s, want %s", c.RefreshTokenExpiresAt, start.Add(vc.refresh))
			case vc.absolute != 0 && !c.AbsoluteExpiresAt.Equal(start.Add(vc.absolute)):
				t.Fatalf("absolute expiry %s, want %s", c.AbsoluteExpiresAt, start.Add(vc.absolute))
			case c.NextCheckAt.IsZero():
				t.Fatal("a new connection is not in the expiry index")
			}
			e.refreshable(c)
		})
	}
}

func TestCallbackInvalidState(t *testing.T) {
	strangers := map[string]lifecycle.Caller{
		"another user of the account":   carol,
		"same user id, another account": caller(otherAccount, bob.UserID, bob.Name, false),
		"an app manager of the account": manager,
	}
	for name, who := range strangers {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.connectApp("servicenow", nil)
			app := e.save(connection.AppKey(account, "servicenow"))
			req := e.authorize(bob, "servicenow", "user", "", knobs("sandbox_user", "bob"))

			_, err := e.complete(who, req)
			wantProblem(t, err, http.StatusBadRequest, "invalid_state")
			for _, u := range []lifecycle.Caller{bob, who} {
				e.noConn(connection.UserKey(u.Account, "servicenow", u.UserID))
			}
			e.unchanged(app)
			if d := e.counts("servicenow"); d != (integrations.Details{}) {
				t.Fatalf("counts moved: %+v", d)
			}
		})
	}

	t.Run("another vendor", func(t *testing.T) {
		e := newEnv(t)
		e.saveServiceNow(manager)
		req := e.authorize(manager, "servicenow", "app", "", nil)
		req.Vendor = "confluence"
		_, err := e.complete(manager, req)
		wantProblem(t, err, http.StatusBadRequest, "invalid_state")
		e.noConn(connection.AppKey(account, "servicenow"))
		e.noConn(connection.AppKey(account, "confluence"))
	})

	t.Run("replayed", func(t *testing.T) {
		e := newEnv(t)
		e.saveServiceNow(manager)
		req := e.authorize(manager, "servicenow", "app", "", nil)
		if _, err := e.complete(manager, req); err != nil {
			t.Fatal(err)
		}
		app := e.save(connection.AppKey(account, "servicenow"))
		_, err := e.complete(manager, req)
		wantProblem(t, err, http.StatusBadRequest, "invalid_state")
		e.unchanged(app)
	})

	t.Run("replayed reconnect", func(t *testing.T) {
		e := newEnv(t)
		e.connectApp("servicenow", nil)
		req := e.authorize(manager, "servicenow", "app", "reconnect", nil)
		if _, err := e.complete(manager, req); err != nil {
			t.Fatal(err)
		}
		app := e.save(connection.AppKey(account, "servicenow"))
		_, err := e.complete(manager, req)
		wantProblem(t, err, http.StatusBadRequest, "invalid_state")
		e.unchanged(app)
	})

	t.Run("expired", func(t *testing.T) {
		e := newEnv(t)
		e.saveServiceNow(manager)
		req := e.authorize(manager, "servicenow", "app", "", nil)
		e.clock.Advance(11 * time.Minute)
		_, err := e.complete(manager, req)
		wantProblem(t, err, http.StatusBadRequest, "invalid_state")
		e.noConn(connection.AppKey(account, "servicenow"))
	})

	t.Run("still valid just before expiry", func(t *testing.T) {
		e := newEnv(t)
		e.saveServiceNow(manager)
		req := e.authorize(manager, "servicenow", "app", "", nil)
		e.clock.Advance(9 * time.Minute)
		if _, err := e.complete(manager, req); err != nil {
			t.Fatal(err)
		}
	})

	for name, state := range map[string]string{
		"unknown":  strings.Repeat("ab", 32),
		"empty":    "",
		"too long": strings.Repeat("a", 600),
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.saveServiceNow(manager)
			_, err := e.complete(manager, lifecycle.CallbackRequest{Vendor: "servicenow", State: state, Code: "x"})
			wantProblem(t, err, http.StatusBadRequest, "invalid_state")
		})
	}

	t.Run("neither code nor error", func(t *testing.T) {
		e := newEnv(t)
		e.saveServiceNow(manager)
		req := e.authorize(manager, "servicenow", "app", "", nil)
		req.Code = ""
		_, err := e.complete(manager, req)
		wantProblem(t, err, http.StatusBadRequest, "invalid_body")
	})

	t.Run("unknown vendor", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.complete(manager, lifecycle.CallbackRequest{Vendor: "nosuchvendor", State: "s", Code: "c"})
		wantProblem(t, err, http.StatusNotFound, "unknown_vendor")
	})
}

func TestCallbackDenied(t *testing.T) {
	for _, vc := range vendorCases {
		t.Run(vc.vendor+" connect", func(t *testing.T) {
			e := newEnv(t)
			if vc.vendor == "servicenow" {
				e.saveServiceNow(manager)
			}
			req := e.authorize(manager, vc.vendor, "app", "", knobs("sandbox_deny", "1"))
			if req.Error != "access_denied" || req.Code != "" {
				t.Fatalf("sandbox answered %+v", req)
			}
			_, err := e.complete(manager, req)
			p := wantProblem(t, err, http.StatusBadRequest, "authorization_denied")
			if p.Details["vendorError"] != "access_denied" {
				t.Fatalf("details = %v", p.Details)
			}
			e.noConn(connection.AppKey(account, vc.vendor))
		})
		t.Run(vc.vendor+" reconnect", func(t *testing.T) {
			e := newEnv(t)
			e.connectApp(vc.vendor, nil)
			app := e.save(connection.AppKey(account, vc.vendor))
			_, err := e.complete(manager, e.authorize(manager, vc.vendor, "app", "reconnect", knobs("sandbox_deny", "1")))
			wantProblem(t, err, http.StatusBadRequest, "authorization_denied")
			e.unchanged(app)
			e.refreshable(app.conn)
		})
	}
}

func TestReconnectKeepsTheConnection(t *testing.T) {
	for _, vc := range vendorCases {
		t.Run(vc.vendor, func(t *testing.T) {
			e := newEnv(t)
			before := e.connectApp(vc.vendor, nil)
			oldTokens := e.tokens(before)

			e.clock.Advance(30 * day)
			res := e.connect(manager, vc.vendor, "app", "reconnect", nil)
			if res.Action != connection.ActionReconnect || res.UserChanged || res.Status != connection.StatusConnected {
				t.Fatalf("result = %+v", res)
			}
			now := start.Add(30 * day)
			if got := res.Connection.RefreshTokenExpiresAt; !vc.refreshExpiry(got, now) {
				t.Fatalf("view refresh expiry %v, want %s", got, now.Add(vc.refresh))
			}
			after := e.conn(before.Key)
			switch {
			case after.ID != before.ID || !after.CreatedAt.Equal(before.CreatedAt):
				t.Fatalf("id/createdAt changed: %s %s -> %s %s", before.ID, before.CreatedAt, after.ID, after.CreatedAt)
			case after.Generation != before.Generation+1:
				t.Fatalf("generation %d -> %d", before.Generation, after.Generation)
			case after.SecretName != before.SecretName || after.SecretVersion == before.SecretVersion:
				t.Fatal("reconnect did not write a new version of the same secret")
			case !after.GrantedAt.Equal(now) || !vc.refreshExpiry(&after.RefreshTokenExpiresAt, now):
				t.Fatalf("grant times not renewed: %+v", after)
			case after.ConnectedUser != before.ConnectedUser:
				t.Fatalf("connected user changed: %+v", after.ConnectedUser)
			}
			if e.tokens(after) == oldTokens {
				t.Fatal("reconnect kept the old tokens")
			}
			if got := e.tokens(before); got != oldTokens {
				t.Fatal("the previous secret version is no longer readable as it was")
			}
			e.refreshable(after)
		})
	}
}

func TestReconnectByAnotherVendorUser(t *testing.T) {
	for _, vc := range vendorCases {
		t.Run(vc.vendor, func(t *testing.T) {
			e := newEnv(t)
			e.connectApp(vc.vendor, nil)
			app := e.save(connection.AppKey(account, vc.vendor))
			_, err := e.complete(manager, e.authorize(manager, vc.vendor, "app", "reconnect", knobs("sandbox_user", "mallory")))
			wantProblem(t, err, http.StatusConflict, "user_mismatch")
			e.unchanged(app)
			if vc.revocable {
				// The grant obtained for nothing was revoked.
				if err := e.refresh(app.conn, e.http.lastIssued(t).RefreshToken); !errors.Is(err, provider.ErrRefused) {
					t.Fatalf("refused grant still refreshes: %v", err)
				}
			}
			e.refreshable(app.conn)
		})
	}
}

func TestChangeUser(t *testing.T) {
	for _, vc := range vendorCases {
		t.Run(vc.vendor, func(t *testing.T) {
			e := newEnv(t)
			before := e.connectApp(vc.vendor, nil)
			oldTokens := e.tokens(before)
			e.connectUser(bob, vc.vendor, "bob")
			bobConn := e.save(connection.UserKey(account, vc.vendor, bob.UserID))

			e.clock.Advance(day)
			res := e.connect(manager, vc.vendor, "app", "changeUser", knobs("sandbox_user", "grace"))
			if res.Action != connection.ActionChangeUser || !res.UserChanged {
				t.Fatalf("result = %+v", res)
			}
			want := integrations.ConnectedUser{Name: "Grace User", Email: vc.email("grace")}
			if res.Connection.ConnectedUser == nil || *res.Connection.ConnectedUser != want {
				t.Fatalf("connectedUser = %+v, want %+v", res.Connection.ConnectedUser, want)
			}
			if d := res.Connection.ConnectionDetails; d == nil || *d != (integrations.Details{Total: 1, Connected: 1}) {
				t.Fatalf("counts = %+v", d)
			}
			after := e.conn(before.Key)
			switch {
			case after.ID != before.ID || !after.CreatedAt.Equal(before.CreatedAt) || after.Instance != before.Instance:
				t.Fatalf("changeUser replaced the connection: %+v", after)
			case after.Generation != before.Generation+1:
				t.Fatalf("generation %d -> %d", before.Generation, after.Generation)
			case after.ConnectedUser.ID != vc.userID("grace") || after.ConnectedBy != manager.Person:
				t.Fatalf("people: %+v / %+v", after.ConnectedUser, after.ConnectedBy)
			}
			if got := e.view(manager, vc.vendor).ConnectedUser; got == nil || *got != want {
				t.Fatalf("list shows %+v", got)
			}
			e.unchanged(bobConn) // user level is not touched
			if got := e.tokens(before); got != oldTokens {
				t.Fatal("the previous secret version changed")
			}
			if vc.revocable {
				if err := e.refresh(before, oldTokens.RefreshToken); !errors.Is(err, provider.ErrRefused) {
					t.Fatalf("the replaced grant still refreshes: %v", err)
				}
			}
			e.refreshable(after)
			e.refreshable(bobConn.conn)
		})
	}

	t.Run("same person", func(t *testing.T) {
		e := newEnv(t)
		before := e.connectApp("servicenow", nil)
		res := e.connect(manager, "servicenow", "app", "changeUser", nil)
		if res.UserChanged {
			t.Fatal("userChanged although the same vendor user authorized")
		}
		e.refreshable(before) // not revoked: nobody was replaced
		e.refreshable(e.conn(before.Key))
	})
}

func TestChangeUserOnAnotherSite(t *testing.T) {
	tests := []struct {
		vendor string
		site   string
		codes  map[string]int // acceptable answers
	}{
		{"confluence", "beta", map[string]int{"site_mismatch": http.StatusConflict}},
		{"confluence", "beta,gamma", map[string]int{"site_mismatch": http.StatusConflict}},
		{"servicenow", "other", map[string]int{"site_mismatch": http.StatusConflict, "vendor_error": http.StatusBadGateway}},
	}
	for _, tt := range tests {
		for _, action := range []string{"changeUser", "reconnect"} {
			t.Run(tt.vendor+" "+tt.site+" "+action, func(t *testing.T) {
				e := newEnv(t)
				e.connectApp(tt.vendor, nil)
				app := e.save(connection.AppKey(account, tt.vendor))
				login := "admin"
				if action == "changeUser" {
					login = "grace"
				}
				_, err := e.complete(manager, e.authorize(manager, tt.vendor, "app", action,
					knobs("sandbox_user", login, "sandbox_site", tt.site)))
				var p *problem.Problem
				if !errors.As(err, &p) || tt.codes[p.Code] == 0 || tt.codes[p.Code] != p.Status {
					t.Fatalf("got %v, want one of %v", err, tt.codes)
				}
				e.unchanged(app)
				e.refreshable(app.conn)
			})
		}
	}

	t.Run("grant covering the connected site among others", func(t *testing.T) {
		e := newEnv(t)
		before := e.connectApp("confluence", nil)
		e.connect(manager, "confluence", "app", "changeUser", knobs("sandbox_user", "grace", "sandbox_site", "beta,acme,gamma"))
		after := e.conn(before.Key)
		if after.Instance != before.Instance || after.SiteID != before.SiteID {
			t.Fatalf("site moved to %s", after.Instance)
		}
	})
}

func TestSiteChoice(t *testing.T) {
	t.Run("several sites and no siteUrl", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.complete(manager, e.authorize(manager, "confluence", "app", "", knobs("sandbox_site", "acme,beta")))
		p := wantProblem(t, err, http.StatusConflict, "site_choice_required")
		sites, _ := p.Details["sites"].([]map[string]string)
		var urls []string
		for _, s := range sites {
			urls = append(urls, s["url"])
		}
		if len(urls) != 2 || !containsAll(urls, "https://acme.atlassian.net", "https://beta.atlassian.net") {
			t.Fatalf("sites listed: %v", p.Details["sites"])
		}
		e.noConn(connection.AppKey(account, "confluence"))
	})

	for _, site := range []string{"acme", "beta", "gamma"} {
		t.Run("siteUrl "+site, func(t *testing.T) {
			e := newEnv(t)
			if _, err := e.svc.SaveSettings(t.Context(), manager, "confluence", lifecycle.SettingsRequest{
				SiteURL: ptr("https://" + site + ".atlassian.net"),
			}); err != nil {
				t.Fatal(err)
			}
			res := e.connect(manager, "confluence", "app", "", knobs("sandbox_site", "acme,beta,gamma"))
			c := e.conn(connection.AppKey(account, "confluence"))
			if want := "https://" + site + ".atlassian.net"; c.Instance != want || res.Connection.Instance != want ||
				c.SiteID != sandbox.AtlassianCloudID(site) {
				t.Fatalf("connected to %s (%s), want %s", c.Instance, c.SiteID, want)
			}
		})
	}

	t.Run("siteUrl not in the grant", func(t *testing.T) {
		e := newEnv(t)
		if _, err := e.svc.SaveSettings(t.Context(), manager, "confluence", lifecycle.SettingsRequest{
			SiteURL: ptr("https://delta.atlassian.net"),
		}); err != nil {
			t.Fatal(err)
		}
		_, err := e.complete(manager, e.authorize(manager, "confluence", "app", "", knobs("sandbox_site", "acme,beta")))
		wantProblem(t, err, http.StatusConflict, "site_mismatch")
		e.noConn(connection.AppKey(account, "confluence"))
	})

	t.Run("reconnect of a connection keeps its site", func(t *testing.T) {
		e := newEnv(t)
		before := e.connectApp("confluence", knobs("sandbox_site", "beta"))
		for i := 0; i < 3; i++ { // the sandbox rotates the list every time
			e.connect(manager, "confluence", "app", "reconnect", knobs("sandbox_site", "acme,beta,gamma"))
			if c := e.conn(before.Key); c.Instance != "https://beta.atlassian.net" || c.SiteID != before.SiteID {
				t.Fatalf("reconnect %d moved the site to %s", i, c.Instance)
			}
		}
	})
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

func TestUserLevelConnect(t *testing.T) {
	for _, vc := range vendorCases {
		t.Run(vc.vendor, func(t *testing.T) {
			e := newEnv(t)
			app := e.connectApp(vc.vendor, nil)

			v := e.view(bob, vc.vendor)
			if *v.ConnectionDetails != (integrations.Details{}) || v.UserConnection.Connected ||
				v.UserConnection.Status != connection.StatusNotConnected {
				t.Fatalf("before: %+v %+v", v.ConnectionDetails, v.UserConnection)
			}
			if v.ConnectedUser != nil {
				t.Fatal("a plain user sees the app's connected user")
			}

			res := e.connect(bob, vc.vendor, "user", "", knobs("sandbox_user", "bob"))
			if res.Flow != connection.LevelUser || res.Action != connection.ActionConnect {
				t.Fatalf("result = %+v", res)
			}
			uc := res.Connection.UserConnection
			wantUser := integrations.ConnectedUser{Name: "Bob User", Email: vc.email("bob")}
			if uc == nil || !uc.Connected || uc.RefreshTokenExpired || uc.ConnectedUser == nil || *uc.ConnectedUser != wantUser {
				t.Fatalf("userConnection = %+v", uc)
			}
			if d := *res.Connection.ConnectionDetails; d != (integrations.Details{Total: 1, Connected: 1}) {
				t.Fatalf("counts after bob = %+v", d)
			}
			if res.Connection.ConnectedUser != nil {
				t.Fatal("the callback shows a plain user the app's connected user")
			}
			c := e.conn(connection.UserKey(account, vc.vendor, bob.UserID))
			if c.Instance != app.Instance || c.SiteID != app.SiteID || c.ConnectedBy != bob.Person ||
				c.ConnectedUser.ID != vc.userID("bob") || c.SecretName == app.SecretName {
				t.Fatalf("bob's connection = %+v", c)
			}

			e.connectUser(carol, vc.vendor, "carol")
			if d := e.counts(vc.vendor); d != (integrations.Details{Total: 2, Connected: 2}) {
				t.Fatalf("counts after carol = %+v", d)
			}
			sameConn(t, "app connection", e.conn(app.Key), app)
			e.refreshable(c)
		})
	}

	t.Run("app manager connects personally too", func(t *testing.T) {
		e := newEnv(t)
		app := e.connectApp("servicenow", nil)
		e.connectUser(manager, "servicenow", "admin")
		sameConn(t, "app connection", e.conn(app.Key), app)
		if d := e.counts("servicenow"); d != (integrations.Details{Total: 1, Connected: 1}) {
			t.Fatalf("counts = %+v", d)
		}
	})
}

func TestUserLevelMustBeOnTheAppSite(t *testing.T) {
	tests := []struct {
		vendor string
		site   string
		codes  map[string]int
	}{
		{"confluence", "beta", map[string]int{"site_mismatch": http.StatusConflict}},
		{"servicenow", "other", map[string]int{"site_mismatch": http.StatusConflict, "vendor_error": http.StatusBadGateway}},
	}
	for _, tt := range tests {
		t.Run(tt.vendor, func(t *testing.T) {
			e := newEnv(t)
			e.connectApp(tt.vendor, nil)
			_, err := e.complete(bob, e.authorize(bob, tt.vendor, "user", "", knobs("sandbox_user", "bob", "sandbox_site", tt.site)))
			var p *problem.Problem
			if !errors.As(err, &p) || tt.codes[p.Code] != p.Status {
				t.Fatalf("got %v, want one of %v", err, tt.codes)
			}
			e.noConn(connection.UserKey(account, tt.vendor, bob.UserID))
			if d := e.counts(tt.vendor); d != (integrations.Details{}) {
				t.Fatalf("counts = %+v", d)
			}
		})
	}

	t.Run("grant of several sites picks the app's", func(t *testing.T) {
		e := newEnv(t)
		app := e.connectApp("confluence", knobs("sandbox_site", "beta"))
		e.connect(bob, "confluence", "user", "", knobs("sandbox_user", "bob", "sandbox_site", "acme,beta,gamma"))
		if c := e.conn(connection.UserKey(account, "confluence", bob.UserID)); c.Instance != app.Instance || c.SiteID != app.SiteID {
			t.Fatalf("bob connected to %s, app is on %s", c.Instance, app.Instance)
		}
	})

	t.Run("app disconnected meanwhile", func(t *testing.T) {
		e := newEnv(t)
		e.connectApp("servicenow", nil)
		req := e.authorize(bob, "servicenow", "user", "", knobs("sandbox_user", "bob"))
		if err := e.svc.Disconnect(t.Context(), manager, lifecycle.DisconnectRequest{Vendor: "servicenow", Flow: "app"}); err != nil {
			t.Fatal(err)
		}
		_, err := e.complete(bob, req)
		wantProblem(t, err, http.StatusConflict, "app_not_connected")
		e.noConn(connection.UserKey(account, "servicenow", bob.UserID))
		if d := e.counts("servicenow"); d != (integrations.Details{}) {
			t.Fatalf("counts = %+v", d)
		}
	})
}

// expire marks a connection expired as the expiry scan would, and gives its
// recipient both notices of its generation.
func (e *env) expire(k connection.Key) connection.Connection {
	e.t.Helper()
	c := e.conn(k)
	c.Expired, c.ExpiredAt, c.ExpiredReason, c.NextCheckAt = true, e.clock.Now(), "invalid_grant", time.Time{}
	ops := []store.Op{store.UpdateConnection{Conn: c}}
	if k.Level == connection.LevelUser {
		ops = append(ops, store.AdjustCounts{Account: k.Account, Vendor: k.Vendor, Connected: -1})
	}
	if err := e.mem.Apply(e.t.Context(), ops...); err != nil {
		e.t.Fatal(err)
	}
	for _, kind := range connection.NoticeKinds {
		e.notice(c.ConnectedBy.UserID, k, kind, c.Generation)
	}
	return e.conn(k)
}

func (e *env) notice(userID string, k connection.Key, kind connection.NoticeKind, generation int) string {
	e.t.Helper()
	id := connection.NoticeID(k, kind, generation)
	_, _, err := e.mem.CreateNotice(e.t.Context(), connection.Notice{
		Account: k.Account, UserID: userID, ID: id, Vendor: k.Vendor, Level: k.Level, Kind: kind,
		Message: "reconnect please", Connection: k, Generation: generation, CreatedAt: e.clock.Now(),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) noticeIDs(userID string) []string {
	e.t.Helper()
	ns, err := e.mem.ListNotices(e.t.Context(), account, userID)
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, n := range ns {
		ids = append(ids, n.ID)
	}
	return ids
}

func TestReconnectExpired(t *testing.T) {
	for _, vc := range vendorCases {
		t.Run(vc.vendor+" user level", func(t *testing.T) {
			e := newEnv(t)
			e.connectApp(vc.vendor, nil)
			key := connection.UserKey(account, vc.vendor, bob.UserID)
			e.connectUser(bob, vc.vendor, "bob")
			e.connectUser(carol, vc.vendor, "carol")
			e.expire(key)
			// Notices that are not this connection's generation stay.
			keep := []string{
				e.notice(bob.UserID, connection.UserKey(account, "other", bob.UserID), connection.NoticeExpiring, 0),
			}

			v := e.view(bob, vc.vendor)
			if *v.ConnectionDetails != (integrations.Details{Total: 2, Connected: 1}) ||
				!v.UserConnection.RefreshTokenExpired || v.UserConnection.Connected || v.UserConnection.Status != connection.StatusExpired {
				t.Fatalf("expired view: %+v %+v", v.ConnectionDetails, v.UserConnection)
			}

			e.clock.Advance(day)
			res := e.connect(bob, vc.vendor, "user", "reconnect", knobs("sandbox_user", "bob"))
			if uc := res.Connection.UserConnection; !uc.Connected || uc.RefreshTokenExpired || uc.Status != connection.StatusConnected {
				t.Fatalf("userConnection after reconnect = %+v", uc)
			}
			if d := *res.Connection.ConnectionDetails; d != (integrations.Details{Total: 2, Connected: 2}) {
				t.Fatalf("counts after reconnect = %+v", d)
			}
			c := e.conn(key)
			if c.Expired || !c.ExpiredAt.IsZero() || c.ExpiredReason != "" || c.NextCheckAt.IsZero() || c.Generation != 1 {
				t.Fatalf("reconnected connection = %+v", c)
			}
			if got := e.noticeIDs(bob.UserID); len(got) != 1 || got[0] != keep[0] {
				t.Fatalf("notices after reconnect: %v, want %v", got, keep)
			}
			e.refreshable(c)
		})

		t.Run(vc.vendor+" app level, change of user", func(t *testing.T) {
			e := newEnv(t)
			e.connectApp(vc.vendor, nil)
			key := connection.AppKey(account, vc.vendor)
			e.expire(key)
			if v := e.view(manager, vc.vendor); !v.RefreshTokenExpired || v.Status != connection.StatusExpired {
				t.Fatalf("expired view = %+v", v)
			}
			res := e.connect(manager, vc.vendor, "app", "changeUser", knobs("sandbox_user", "grace"))
			if res.Connection.RefreshTokenExpired || res.Connection.Status != connection.StatusConnected || !res.UserChanged {
				t.Fatalf("result = %+v", res)
			}
			if c := e.conn(key); c.Expired || c.ConnectedUser.ID != vc.userID("grace") {
				t.Fatalf("connection = %+v", c)
			}
			if got := e.noticeIDs(manager.UserID); len(got) != 0 {
				t.Fatalf("notices left: %v", got)
			}
			if d := e.counts(vc.vendor); d != (integrations.Details{}) {
				t.Fatalf("app-level repair moved user counts: %+v", d)
			}
		})
	}
}

func TestConnectedMeanwhile(t *testing.T) {
	e := newEnv(t)
	e.saveServiceNow(manager)
	first := e.authorize(manager, "servicenow", "app", "", nil)
	second := e.authorize(manager, "servicenow", "app", "", knobs("sandbox_user", "grace"))
	if _, err := e.complete(manager, first); err != nil {
		t.Fatal(err)
	}
	app := e.save(connection.AppKey(account, "servicenow"))
	_, err := e.complete(manager, second)
	wantProblem(t, err, http.StatusConflict, "already_connected")
	e.unchanged(app)
	// The late grant was obtained for nothing and revoked.
	if err := e.refresh(app.conn, e.http.lastIssued(t).RefreshToken); !errors.Is(err, provider.ErrRefused) {
		t.Fatalf("late grant still refreshes: %v", err)
	}
	e.refreshable(app.conn)
}

// TestInstanceMovedDuringAuthorization: the settings moved to another
// instance while an authorization was at the vendor. Completing it would
// send the code, with the account's current client secret, to the old
// instance, and could make a connection there that the settings no longer
// match (user-level connections would then never match the app's site). It
// is refused before the code goes anywhere.
func TestInstanceMovedDuringAuthorization(t *testing.T) {
	for _, clientID := range []string{snClientID, "other-client"} {
		t.Run(clientID, func(t *testing.T) {
			e := newEnv(t)
			e.saveServiceNow(manager)
			req := e.authorize(manager, "servicenow", "app", "", nil)
			if _, err := e.svc.SaveSettings(t.Context(), manager, "servicenow", lifecycle.SettingsRequest{
				InstanceURL: ptr("https://other.service-now.com"), ClientID: ptr(clientID), ClientSecret: ptr(e.snSecret),
			}); err != nil {
				t.Fatal(err)
			}
			issued := len(e.http.allIssued())
			_, err := e.complete(manager, req)
			wantProblem(t, err, http.StatusConflict, "site_mismatch")
			e.noConn(connection.AppKey(account, "servicenow"))
			if len(e.http.allIssued()) != issued {
				t.Fatal("the code was exchanged")
			}

			// Connecting on the instance of the settings works.
			e.connect(manager, "servicenow", "app", "", nil)
			if c := e.conn(connection.AppKey(account, "servicenow")); c.Instance != "https://other.service-now.com" {
				t.Fatalf("connected to %s", c.Instance)
			}
		})
	}
}
