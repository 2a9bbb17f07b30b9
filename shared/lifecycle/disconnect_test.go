package lifecycle_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/integrations"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/vault"
)

func (e *env) disconnect(who lifecycle.Caller, vendorID, flow string, cascade bool) error {
	return e.svc.Disconnect(e.t.Context(), who, lifecycle.DisconnectRequest{Vendor: vendorID, Flow: flow, Cascade: cascade})
}

// gone asserts a removed connection left nothing usable behind: no item,
// its secret scheduled for deletion, and (where the vendor revokes) its
// grant revoked.
func (e *env) gone(s saved) {
	e.t.Helper()
	e.noConn(s.conn.Key)
	if _, err := e.vault.Get(e.t.Context(), s.conn.SecretName, ""); !errors.Is(err, vault.ErrNotFound) {
		e.t.Fatalf("secret of %s: %v, want it scheduled for deletion", s.conn.Key, err)
	}
	if vendorRevokes(s.conn.Vendor) {
		if err := e.refresh(s.conn, s.tokens.RefreshToken); !errors.Is(err, provider.ErrRefused) {
			e.t.Fatalf("grant of %s still refreshes: %v", s.conn.Key, err)
		}
	}
}

func vendorRevokes(vendorID string) bool {
	for _, vc := range vendorCases {
		if vc.vendor == vendorID {
			return vc.revocable
		}
	}
	return false
}

func TestDisconnectAppCascade(t *testing.T) {
	for _, vc := range vendorCases {
		t.Run(vc.vendor, func(t *testing.T) {
			e := newEnv(t)
			e.connectApp(vc.vendor, nil)
			e.connectUser(bob, vc.vendor, "bob")
			e.connectUser(carol, vc.vendor, "carol")
			e.expire(connection.UserKey(account, vc.vendor, carol.UserID))
			e.notice(manager.UserID, connection.AppKey(account, vc.vendor), connection.NoticeExpiring, 0)
			app := e.save(connection.AppKey(account, vc.vendor))
			users := []saved{
				e.save(connection.UserKey(account, vc.vendor, bob.UserID)),
				e.save(connection.UserKey(account, vc.vendor, carol.UserID)),
			}
			if d := e.counts(vc.vendor); d != (integrations.Details{Total: 2, Connected: 1}) {
				t.Fatalf("counts before = %+v", d)
			}

			err := e.disconnect(manager, vc.vendor, "app", false)
			wantProblem(t, err, http.StatusConflict, "has_user_connections")
			e.unchanged(app)
			for _, u := range users {
				e.unchanged(u)
			}

			if err := e.disconnect(manager, vc.vendor, "app", true); err != nil {
				t.Fatal(err)
			}
			e.gone(app)
			for _, u := range users {
				e.gone(u)
			}
			v := e.view(bob, vc.vendor)
			if v.Integrated || v.Status != connection.StatusNotConnected || *v.ConnectionDetails != (integrations.Details{}) ||
				v.UserConnection.Connected {
				t.Fatalf("view after cascade = %+v %+v %+v", v, v.ConnectionDetails, v.UserConnection)
			}
			for _, u := range []lifecycle.Caller{manager, bob, carol} {
				if ids := e.noticeIDs(u.UserID); len(ids) != 0 {
					t.Fatalf("%s still has notices %v", u.UserID, ids)
				}
			}

			err = e.disconnect(manager, vc.vendor, "app", true)
			wantProblem(t, err, http.StatusNotFound, "not_connected")

			// Connecting again is a new connection.
			again := e.connectApp(vc.vendor, nil)
			if again.ID == app.conn.ID || again.Generation != 0 {
				t.Fatalf("connected again as %+v", again)
			}
			e.refreshable(again)
		})
	}
}

func TestDisconnectAppWithoutUsers(t *testing.T) {
	e := newEnv(t)
	e.connectApp("servicenow", nil)
	app := e.save(connection.AppKey(account, "servicenow"))
	if err := e.disconnect(manager, "servicenow", "app", false); err != nil {
		t.Fatal(err)
	}
	e.gone(app)
	if _, ok := e.settings(account, "servicenow"); !ok {
		t.Fatal("disconnect removed the settings")
	}
}

func TestDisconnectOwnUserConnection(t *testing.T) {
	for _, vc := range vendorCases {
		for _, expired := range []bool{false, true} {
			name := vc.vendor
			if expired {
				name += " expired"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t)
				e.connectApp(vc.vendor, nil)
				e.connectUser(bob, vc.vendor, "bob")
				e.connectUser(carol, vc.vendor, "carol")
				want := integrations.Details{Total: 1, Connected: 1}
				if expired {
					e.expire(connection.UserKey(account, vc.vendor, bob.UserID))
				}
				app := e.save(connection.AppKey(account, vc.vendor))
				bobConn := e.save(connection.UserKey(account, vc.vendor, bob.UserID))
				carolConn := e.save(connection.UserKey(account, vc.vendor, carol.UserID))

				if err := e.disconnect(bob, vc.vendor, "user", false); err != nil {
					t.Fatal(err)
				}
				e.gone(bobConn)
				e.unchanged(app)
				e.unchanged(carolConn)
				if d := e.counts(vc.vendor); d != want {
					t.Fatalf("counts = %+v, want %+v", d, want)
				}
				if ids := e.noticeIDs(bob.UserID); len(ids) != 0 {
					t.Fatalf("bob still has notices %v", ids)
				}
				e.refreshable(carolConn.conn)
				e.refreshable(app.conn)

				err := e.disconnect(bob, vc.vendor, "user", false)
				wantProblem(t, err, http.StatusNotFound, "not_connected")
			})
		}
	}
}

func TestDisconnectRefusals(t *testing.T) {
	tests := []struct {
		name   string
		who    lifecycle.Caller
		req    lifecycle.DisconnectRequest
		status int
		code   string
	}{
		{"unknown vendor", manager, lifecycle.DisconnectRequest{Vendor: "nosuchvendor", Flow: "app"}, http.StatusNotFound, "unknown_vendor"},
		{"bad flow", manager, lifecycle.DisconnectRequest{Vendor: "servicenow", Flow: "all"}, http.StatusBadRequest, "invalid_flow"},
		{"app by a plain user", bob, lifecycle.DisconnectRequest{Vendor: "servicenow", Flow: "app", Cascade: true}, http.StatusForbidden, "forbidden"},
		{"user level never connected", carol, lifecycle.DisconnectRequest{Vendor: "servicenow", Flow: "user"}, http.StatusNotFound, "not_connected"},
		{"other vendor never connected", manager, lifecycle.DisconnectRequest{Vendor: "confluence", Flow: "app"}, http.StatusNotFound, "not_connected"},
		{"another account", caller(otherAccount, manager.UserID, manager.Name, true),
			lifecycle.DisconnectRequest{Vendor: "servicenow", Flow: "app", Cascade: true}, http.StatusNotFound, "not_connected"},
		{"another account's user", caller(otherAccount, bob.UserID, bob.Name, false),
			lifecycle.DisconnectRequest{Vendor: "servicenow", Flow: "user"}, http.StatusNotFound, "not_connected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.connectApp("servicenow", nil)
			e.connectUser(bob, "servicenow", "bob")
			app := e.save(connection.AppKey(account, "servicenow"))
			bobConn := e.save(connection.UserKey(account, "servicenow", bob.UserID))

			err := e.svc.Disconnect(t.Context(), tt.who, tt.req)
			wantProblem(t, err, tt.status, tt.code)
			e.unchanged(app)
			e.unchanged(bobConn)
			e.refreshable(app.conn)
			e.refreshable(bobConn.conn)
		})
	}

	t.Run("nothing connected", func(t *testing.T) {
		e := newEnv(t)
		for _, flow := range []string{"app", "user"} {
			err := e.disconnect(manager, "servicenow", flow, true)
			wantProblem(t, err, http.StatusNotFound, "not_connected")
		}
	})
}

// Dropbox revokes with a live access token (vendors.RevokeBearer), and the
// stored one dies four hours after the last refresh: a disconnect later
// than that refreshes once to revoke, and the grant still ends at the
// vendor.
func TestDisconnectRevokesWithAnExpiredAccessToken(t *testing.T) {
	e := newEnv(t)
	e.connectApp("dropbox", nil)
	app := e.save(connection.AppKey(account, "dropbox"))
	e.clock.Advance(5 * time.Hour)
	before := e.sandbox.Vendor.Stats("dropbox").RefreshToken
	if err := e.disconnect(manager, "dropbox", "app", false); err != nil {
		t.Fatal(err)
	}
	if n := e.sandbox.Vendor.Stats("dropbox").RefreshToken - before; n != 1 {
		t.Fatalf("%d refreshes to revoke, want 1", n)
	}
	e.gone(app)
	if strings.Contains(e.logs.String(), "could not revoke") {
		t.Fatalf("revocation failed: %s", e.logs.String())
	}
}
