package expiry_test

import (
	"errors"
	"testing"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/faulttest"
	"github.com/workplace/connections/shared/keys/memkeys"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/tokenhome"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vault/sealed"
)

// twoStores puts the service on a Router in secrets mode: e.vault holds
// the Secrets Manager side, sealedStore the table side (ciphertext).
func twoStores(e *env) (r *vault.Router, sealedStore *memvault.Vault) {
	sealedStore = memvault.New(memvault.ForSealed())
	r = &vault.Router{Secrets: e.vault, Sealed: sealed.New(sealedStore, memkeys.New()),
		Prefix: sandboxtest.SecretPrefix, Mode: vault.StoreSecrets, RecoveryDays: 7}
	e.svc.Vault, e.svc.Clients.Vault = r, r
	e.scanner.Tokens = tokenhome.Mover{Store: e.store, Vault: r}
	return r, sealedStore
}

// live asserts c reads its tokens through the service's vault and that the
// vendor still takes its refresh token: nothing was lost.
func (e *env) live(v vault.Vault, c connection.Connection) {
	e.t.Helper()
	tok, err := vault.GetTokens(e.t.Context(), v, c.SecretName, c.SecretVersion)
	if err != nil {
		e.t.Fatalf("tokens of %s: %v", c.Key, err)
	}
	if _, live := e.sandbox.Vendor.RefreshTokenUser(tok.RefreshToken); !live || c.Expired {
		e.t.Fatalf("%s: expired %v, stored refresh token works %v", c.Key, c.Expired, live)
	}
}

func gone(t *testing.T, v vault.Vault, name, where string) {
	t.Helper()
	if _, err := v.Get(t.Context(), name, ""); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("the old copy in %s: %v, want it deleted", where, err)
	}
}

// TestScanMovesTokensBothWays: after USER_TOKEN_STORE changes, the scan
// moves each connection's tokens it visits, at both levels, to the new
// store (Secrets Manager → sealed, then back) and deletes the old copy.
func TestScanMovesTokensBothWays(t *testing.T) {
	e := newEnv(t, memstore.New())
	r, sealedStore := twoStores(e)
	app := e.connectApp("confluence")
	user := e.connectUser(bob, "confluence", "bob")
	if vault.IsSealedVersion(user.SecretVersion) {
		t.Fatalf("secrets mode sealed %s", user.SecretVersion)
	}

	// The move itself saves the connection (before the keep-alive, which
	// then refreshes from the moved tokens).
	moves := faulttest.New()
	e.scanner.Tokens.Store = moves.Store(e.store)
	r.Mode = vault.StoreSealed
	if rep := e.run(at(50)); rep.Refreshed != 2 {
		t.Fatalf("report %+v", rep)
	}
	if calls := moves.Calls(); len(calls) != 2 || calls[0].Name != "store.Apply" || calls[1].Name != "store.Apply" {
		t.Fatalf("the moves saved %+v, want two connections", calls)
	}
	user, app = e.conn(user.Key), e.conn(app.Key)
	if !vault.IsSealedVersion(user.SecretVersion) || !vault.IsSealedVersion(app.SecretVersion) {
		t.Fatalf("sealed mode: user tokens at %s, app tokens at %s; want both sealed", user.SecretVersion, app.SecretVersion)
	}
	e.live(r, user)
	e.live(r, app)
	gone(t, e.vault, user.SecretName, "Secrets Manager")
	gone(t, e.vault, app.SecretName, "Secrets Manager")

	r.Mode = vault.StoreSecrets
	if rep := e.run(at(100)); rep.Refreshed != 2 {
		t.Fatalf("report %+v", rep)
	}
	user, app = e.conn(user.Key), e.conn(app.Key)
	if vault.IsSealedVersion(user.SecretVersion) || vault.IsSealedVersion(app.SecretVersion) {
		t.Fatalf("back in secrets mode: user tokens at %s, app tokens at %s", user.SecretVersion, app.SecretVersion)
	}
	e.live(r, user)
	e.live(r, app)
	gone(t, sealedStore, user.SecretName, "the table")
	gone(t, sealedStore, app.SecretName, "the table")
}

// clientSecret asserts the account's ServiceNow settings point at a
// version of the client secret that reads "sn-secret" through r, sealed
// or not as wanted, and returns the settings.
func (e *env) clientSecret(r *vault.Router, sealedWanted bool) connection.Settings {
	e.t.Helper()
	set, err := e.store.GetSettings(e.t.Context(), account, "servicenow")
	if err != nil {
		e.t.Fatal(err)
	}
	if vault.IsSealedVersion(set.ClientSecretVersion) != sealedWanted {
		e.t.Fatalf("client secret at %q, want sealed %v", set.ClientSecretVersion, sealedWanted)
	}
	if got, err := r.Get(e.t.Context(), set.ClientSecretName, set.ClientSecretVersion); err != nil || string(got) != "sn-secret" {
		e.t.Fatalf("client secret reads %v", err)
	}
	return set
}

// TestScanMovesClientSecretsBothWays: after USER_TOKEN_STORE changes, the
// scan's visit of an account's app-level ServiceNow connection moves the
// account's client secret to the new store, points the settings at it and
// deletes the old copy; the vendor still takes it (a reconnect). A
// ServiceNow grant (100 days, not extended) is visited when its warning is
// due, 10 days before its end.
func TestScanMovesClientSecretsBothWays(t *testing.T) {
	e := newEnv(t, memstore.New())
	r, sealedStore := twoStores(e)
	e.connectApp("servicenow")
	set := e.clientSecret(r, false)

	r.Mode = vault.StoreSealed
	e.run(at(91))
	e.clientSecret(r, true)
	gone(t, e.vault, set.ClientSecretName, "Secrets Manager")
	e.connect(manager, "servicenow", "app", "reconnect", "")

	r.Mode = vault.StoreSecrets
	e.run(at(182))
	e.clientSecret(r, false)
	gone(t, sealedStore, set.ClientSecretName, "the table")
	e.connect(manager, "servicenow", "app", "reconnect", "")
}

// TestSettingsWriteDeletesTheOtherCopy: in sealed mode a settings write
// seals the new client secret and deletes the copy Secrets Manager held
// from before the switch; back in secrets mode, the other way round.
func TestSettingsWriteDeletesTheOtherCopy(t *testing.T) {
	e := newEnv(t, memstore.New())
	r, sealedStore := twoStores(e)
	e.saveServiceNow()
	set := e.clientSecret(r, false)
	r.Mode = vault.StoreSealed
	e.saveServiceNow()
	e.clientSecret(r, true)
	gone(t, e.vault, set.ClientSecretName, "Secrets Manager")
	e.connectApp("servicenow")
	r.Mode = vault.StoreSecrets
	e.saveServiceNow()
	e.clientSecret(r, false)
	gone(t, sealedStore, set.ClientSecretName, "the table")
	e.connect(manager, "servicenow", "app", "reconnect", "")
}

// TestClientSecretMoveFailsHalfWay: a client-secret move that fails at
// any step loses nothing: the settings read their secret all along, the
// scan reports no failure, and the next visit finishes the move (or
// deletes the copy left behind).
func TestClientSecretMoveFailsHalfWay(t *testing.T) {
	for _, c := range []struct{ name, call string }{
		{"new store write fails", "vault.Put"},
		{"settings save fails", "store.Apply"},
		{"old copy deletion fails", "vault.Delete"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, memstore.New())
			r, _ := twoStores(e)
			e.connectApp("servicenow")
			set := e.clientSecret(r, false)
			inj := faulttest.New()
			switch c.call {
			case "vault.Put":
				r.Sealed = inj.Vault(r.Sealed)
			case "store.Apply":
				e.scanner.Tokens.Store = inj.Store(e.store)
			case "vault.Delete":
				r.Secrets = inj.Vault(r.Secrets)
			}
			// The first call of its kind is the client secret's: the
			// settings are read and moved before the tokens.
			inj.ArmFirst(c.call, faulttest.Fail)
			r.Mode = vault.StoreSealed
			e.run(at(91))
			if _, ok := inj.Injected(); !ok {
				t.Fatal("nothing failed")
			}
			now, err := e.store.GetSettings(t.Context(), account, "servicenow")
			if err != nil {
				t.Fatal(err)
			}
			if got, err := r.Get(t.Context(), now.ClientSecretName, now.ClientSecretVersion); err != nil || string(got) != "sn-secret" {
				t.Fatalf("after the failure the settings' client secret reads %v", err)
			}
			e.connect(manager, "servicenow", "app", "reconnect", "")
			e.run(at(182))
			e.clientSecret(r, true)
			gone(t, e.vault, set.ClientSecretName, "Secrets Manager")
		})
	}
}

// TestTokenMoveFailsHalfWay: a move that fails at any step loses no
// token: the connection reads and its grant works, the scan reports no
// failure, and the tokens end up in the new store (the keep-alive of the
// same visit writes there) with the old copy deleted (a failed deletion is
// tried again when the visit ends).
func TestTokenMoveFailsHalfWay(t *testing.T) {
	for _, c := range []struct{ name, call string }{
		{"new store write fails", "vault.Put"},
		{"connection save fails", "store.Apply"},
		{"old copy deletion fails", "vault.Delete"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, memstore.New())
			r, _ := twoStores(e)
			e.connectApp("confluence")
			user := e.connectUser(bob, "confluence", "bob")
			inj := faulttest.New()
			switch c.call {
			case "vault.Put":
				r.Sealed = inj.Vault(r.Sealed)
			case "store.Apply":
				e.scanner.Tokens.Store = inj.Store(e.store)
			case "vault.Delete":
				r.Secrets = inj.Vault(r.Secrets)
			}
			inj.ArmFirst(c.call, faulttest.Fail)
			r.Mode = vault.StoreSealed
			if rep := e.run(at(50)); rep.Refreshed != 2 {
				t.Fatalf("report %+v", rep)
			}
			if _, ok := inj.Injected(); !ok {
				t.Fatal("nothing failed")
			}
			user = e.conn(user.Key)
			if !vault.IsSealedVersion(user.SecretVersion) {
				t.Fatalf("tokens at %s, want sealed", user.SecretVersion)
			}
			e.live(r, user)
			gone(t, e.vault, user.SecretName, "Secrets Manager")
		})
	}
}

// TestScanDeletesCopiesOthersLeft: in sealed mode, tokens a reconnect (or
// the broker, or the live check) rewrote after the switch went to the
// table, their old Secrets Manager secret left behind; the scan's next
// visit deletes it.
func TestScanDeletesCopiesOthersLeft(t *testing.T) {
	e := newEnv(t, memstore.New())
	r, _ := twoStores(e)
	e.connectApp("confluence")
	user := e.connectUser(bob, "confluence", "bob")
	r.Mode = vault.StoreSealed
	e.clock.Set(at(10))
	e.connect(bob, "confluence", "user", "reconnect", "bob")
	user = e.conn(user.Key)
	if !vault.IsSealedVersion(user.SecretVersion) {
		t.Fatalf("the reconnect wrote %s", user.SecretVersion)
	}
	if _, err := e.vault.Get(t.Context(), user.SecretName, ""); err != nil {
		t.Fatalf("the old secret before the visit: %v", err)
	}
	if rep := e.run(at(60)); rep.Refreshed != 2 {
		t.Fatalf("report %+v", rep)
	}
	user = e.conn(user.Key)
	e.live(r, user)
	gone(t, e.vault, user.SecretName, "Secrets Manager")
}

// TestLegacySettingsMoveTheirCurrentClientSecret: settings saved before
// the client secret's version was kept read its current version; the
// scan moves it like any other and the settings then keep the version.
// Where the secret is home already, nothing changes.
func TestLegacySettingsMoveTheirCurrentClientSecret(t *testing.T) {
	e := newEnv(t, memstore.New())
	r, _ := twoStores(e)
	e.connectApp("servicenow")
	set := e.clientSecret(r, false)
	legacy := set
	legacy.ClientSecretVersion = ""
	if err := e.store.Apply(t.Context(), store.PutSettings{Settings: legacy}); err != nil {
		t.Fatal(err)
	}
	e.run(at(91)) // visits the app: home already
	if now, _ := e.store.GetSettings(t.Context(), account, "servicenow"); now.ClientSecretVersion != "" || now.Version != legacy.Version+1 {
		t.Fatalf("home already, the settings changed: %+v", now)
	}
	e.connect(manager, "servicenow", "app", "reconnect", "") // reads the current version
	r.Mode = vault.StoreSealed
	e.run(at(182))
	e.clientSecret(r, true)
	gone(t, e.vault, set.ClientSecretName, "Secrets Manager")
	e.connect(manager, "servicenow", "app", "reconnect", "")
}
