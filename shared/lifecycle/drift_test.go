package lifecycle_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/vendors/vendortest"
)

// Scope drift: connections made while Confluence required its five scopes
// record what was granted; a later release requires one more
// (write:confluence-content). Both levels are then listed with
// reauthorizationRequired and the missing scope while they keep working; a
// reconnect of the live connection that grants it clears that, and one
// that does not is refused with nothing changed.
func TestScopeDrift(t *testing.T) {
	e := newEnv(t)
	app := e.connectApp("confluence", nil)
	user := e.connectUser(bob, "confluence", "bob")
	granted := "read:confluence-content.all read:confluence-space.summary search:confluence read:me offline_access"
	for _, c := range []connection.Connection{app, user} {
		if c.GrantedScope != granted {
			t.Fatalf("%s recorded scope %q, want %q", c.Key, c.GrantedScope, granted)
		}
	}
	if v := e.view(bob, "confluence"); v.ReauthorizationRequired || v.UserConnection.ReauthorizationRequired {
		t.Fatalf("drift before the registry changed: %+v", v)
	}

	// The next release requires one more scope.
	const added = "write:confluence-content"
	next := vendortest.Entry(t, "confluence")
	next.Scopes = append(next.Scopes, added)
	next.RequiredScopes = append(next.RequiredScopes, added)
	vendortest.Use(t, next)

	for _, who := range []struct {
		name string
		v    func() (bool, []string)
	}{
		{"app level", func() (bool, []string) {
			v := e.view(manager, "confluence")
			return v.ReauthorizationRequired, v.MissingScopes
		}},
		{"user level", func() (bool, []string) {
			uc := e.view(bob, "confluence").UserConnection
			return uc.ReauthorizationRequired, uc.MissingScopes
		}},
	} {
		if req, missing := who.v(); !req || !slices.Equal(missing, []string{added}) {
			t.Fatalf("%s after the registry changed: reauthorizationRequired %v, missingScopes %v", who.name, req, missing)
		}
	}
	if v := e.view(manager, "confluence"); v.Status != connection.StatusConnected || v.RefreshTokenExpired {
		t.Fatalf("a connection lacking a new scope still works: %+v", v)
	}

	// A reconnect that leaves the new scope out is refused; nothing changes.
	before := e.save(app.Key)
	narrow := knobs("sandbox_scope", granted)
	_, err := e.complete(manager, e.authorize(manager, "confluence", "app", "reconnect", narrow))
	if p := wantProblem(t, err, http.StatusBadGateway, "vendor_error"); p.Details["reason"] != "scope_not_granted" {
		t.Fatalf("reason = %v", p.Details["reason"])
	}
	e.unchanged(before)
	if !e.view(manager, "confluence").ReauthorizationRequired {
		t.Fatal("a refused reconnect cleared the drift")
	}

	// action=reconnect is allowed on the live connection and, granted
	// everything, clears the drift at that level only.
	res := e.connect(manager, "confluence", "app", "reconnect", nil)
	if res.Action != connection.ActionReconnect || res.UserChanged || res.Connection.ReauthorizationRequired || len(res.Connection.MissingScopes) != 0 {
		t.Fatalf("reconnect answered %+v", res)
	}
	cur := e.conn(app.Key)
	if cur.ID != app.ID || !strings.HasSuffix(cur.GrantedScope, added) {
		t.Fatalf("after the reconnect: id %s (was %s), scope %q", cur.ID, app.ID, cur.GrantedScope)
	}
	if uc := e.view(bob, "confluence").UserConnection; !uc.ReauthorizationRequired {
		t.Fatal("the user level's drift went with the app level's reconnect")
	}
	e.connect(bob, "confluence", "user", "reconnect", knobs("sandbox_user", "bob"))
	if v := e.view(bob, "confluence"); v.ReauthorizationRequired || v.UserConnection.ReauthorizationRequired {
		t.Fatalf("drift after both reconnects: %+v / %+v", v, v.UserConnection)
	}
}
