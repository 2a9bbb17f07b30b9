package lifecycle_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
)

// Google's revocation ends every grant of the Google account to the app
// (the sandbox's Google does so too): the service revokes no grant whose
// Google user still holds another connection of the account.

const drive = "googledrive"

// revokes counts the requests to the vendors' revocation endpoints.
func (e *env) revokes() func() int {
	var mu sync.Mutex
	n := 0
	e.http.setFail(func(r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/revoke") {
			mu.Lock()
			n++
			mu.Unlock()
		}
		return false
	})
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// refusedRefresh asserts a refresh token no longer works at the vendor.
func (e *env) refusedRefresh(c connection.Connection, refreshToken string) {
	e.t.Helper()
	if err := e.refresh(c, refreshToken); !errors.Is(err, provider.ErrRefused) {
		e.t.Fatalf("grant of %s still refreshes: %v, want it revoked", c.Key, err)
	}
}

func (e *env) noTokensLogged(toks ...vault.Tokens) {
	e.t.Helper()
	for _, tok := range toks {
		for _, s := range []string{tok.AccessToken, tok.RefreshToken} {
			if s != "" && strings.Contains(e.logs.String(), s) {
				e.t.Fatal("a token is in the logs")
			}
		}
	}
}

func TestGoogleDisconnectKeepsTheSameAccountsOtherConnection(t *testing.T) {
	e := newEnv(t)
	count := e.revokes()
	app := e.connectApp(drive, knobs("sandbox_user", "ada"))
	// Ada connects her own user level with the same Google account; Bob
	// with his.
	adaUser := e.save(e.connectUser(manager, drive, "ada").Key)
	bobUser := e.save(e.connectUser(bob, drive, "bob").Key)

	if err := e.disconnect(manager, drive, "user", false); err != nil {
		t.Fatal(err)
	}
	e.noConn(adaUser.conn.Key)
	if n := count(); n != 0 {
		t.Fatalf("%d revocations, want none: the app level holds the same Google account", n)
	}
	if !strings.Contains(e.logs.String(), "grant not revoked: another connection is held by the same vendor user") {
		t.Fatalf("the kept grant is not logged:\n%s", e.logs.String())
	}
	e.refreshable(app)
	e.refreshable(bobUser.conn)

	// Another Google user's disconnect still revokes.
	if err := e.disconnect(bob, drive, "user", false); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d revocations, want 1", n)
	}
	e.refusedRefresh(bobUser.conn, bobUser.tokens.RefreshToken)
	e.refreshable(app)

	// The last connection of the Google account goes: revoked.
	appSaved := e.save(app.Key)
	if err := e.disconnect(manager, drive, "app", false); err != nil {
		t.Fatal(err)
	}
	e.refusedRefresh(app, appSaved.tokens.RefreshToken)
	e.refusedRefresh(app, adaUser.tokens.RefreshToken)
	e.noTokensLogged(adaUser.tokens, bobUser.tokens, appSaved.tokens)
}

func TestGoogleRefusedReconnectKeepsTheLiveConnection(t *testing.T) {
	e := newEnv(t)
	count := e.revokes()
	app := e.connectApp(drive, knobs("sandbox_user", "ada"))
	before := e.save(app.Key)

	// Drive unticked: refused before the service learns who granted it.
	_, err := e.complete(manager, e.authorize(manager, drive, "app", "reconnect",
		knobs("sandbox_user", "ada", "sandbox_scope", "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile")))
	if p := wantProblem(t, err, http.StatusBadGateway, "vendor_error"); p.Details["reason"] != "scope_not_granted" {
		t.Fatalf("details = %v", p.Details)
	}
	// Another domain: a different Google account, whose grant is revoked.
	_, err = e.complete(manager, e.authorize(manager, drive, "app", "reconnect",
		knobs("sandbox_user", "ada", "sandbox_site", "beta")))
	wantProblem(t, err, http.StatusConflict, "site_mismatch")
	if n := count(); n != 1 {
		t.Fatalf("%d revocations, want 1 (the other domain's)", n)
	}
	e.refusedRefresh(app, e.http.lastIssued(t).RefreshToken)
	e.unchanged(before)
	e.refreshable(app)
}

func TestGoogleRefusedConnectBySameAccountKeepsTheLiveConnection(t *testing.T) {
	e := newEnv(t)
	count := e.revokes()
	app := e.connectApp(drive, knobs("sandbox_user", "ada"))
	// Someone else's connection lands first: the store refuses the write.
	e.store.setApply(func(context.Context, []store.Op) error { return store.ErrConflict })

	_, err := e.complete(manager, e.authorize(manager, drive, "user", "", knobs("sandbox_user", "ada")))
	wantProblem(t, err, http.StatusConflict, "already_connected")
	if n := count(); n != 0 {
		t.Fatalf("%d revocations, want none: the fresh grant is the app level's Google account's", n)
	}
	e.refreshable(app)

	// Bob's refused grant is his alone: revoked.
	_, err = e.complete(bob, e.authorize(bob, drive, "user", "", knobs("sandbox_user", "bob")))
	wantProblem(t, err, http.StatusConflict, "already_connected")
	if n := count(); n != 1 {
		t.Fatalf("%d revocations, want 1", n)
	}
	e.refusedRefresh(app, e.http.lastIssued(t).RefreshToken)
	e.store.setApply(nil)
	e.refreshable(app)
}

func TestGoogleChangeUserKeepsTheSameAccountsOtherConnection(t *testing.T) {
	e := newEnv(t)
	count := e.revokes()
	app := e.connectApp(drive, knobs("sandbox_user", "ada"))
	e.connectUser(manager, drive, "ada")

	res := e.connect(manager, drive, "user", "changeUser", knobs("sandbox_user", "dan"))
	if !res.UserChanged {
		t.Fatalf("change user: %+v", res)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d revocations, want none: the app level holds the replaced Google account", n)
	}
	e.refreshable(app)
	e.refreshable(e.conn(connection.UserKey(account, drive, manager.UserID)))
}
