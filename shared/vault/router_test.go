package vault_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/workplace/connections/shared/keys/memkeys"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vault/sealed"
)

// TestRouterAcrossAModeSwitch: versions written before USER_TOKEN_STORE
// changed still read (the version id names its store), the current
// version of a connection not written since is the old store's, app-level
// tokens and client secrets never leave Secrets Manager, and a delete
// reaches both stores.
func TestRouterAcrossAModeSwitch(t *testing.T) {
	ctx := context.Background()
	secrets := memvault.New()
	r := &vault.Router{Secrets: secrets, Sealed: sealed.New(memvault.New(memvault.ForSealed()), memkeys.New()),
		Prefix: "connections", Mode: vault.StoreSecrets, RecoveryDays: 7}
	user := vault.ConnectionSecretName("connections", "a1", "box", "user", "auth0|1")
	other := vault.ConnectionSecretName("connections", "a1", "box", "user", "u2")
	app := vault.ConnectionSecretName("connections", "a1", "box", "app", "")
	client := vault.ClientSecretName("connections", "a1", "servicenow")
	put := func(name, value string) string {
		t.Helper()
		id, err := r.Put(ctx, name, []byte(value))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	read := func(name, version, want string) {
		t.Helper()
		got, err := r.Get(ctx, name, version)
		if err != nil || !bytes.Equal(got, []byte(want)) {
			t.Fatalf("Get(%s, %q) = %q, %v; want %q", name, version, got, err, want)
		}
	}
	old := put(user, "in secrets")
	put(other, "other in secrets")
	if vault.IsSealedVersion(old) || r.Misplaced(user, old) {
		t.Fatalf("secrets mode: version %q, misplaced %v", old, r.Misplaced(user, old))
	}

	r.Mode = vault.StoreSealed
	if !r.Misplaced(user, old) {
		t.Fatal("sealed mode: a Secrets Manager version of user tokens is not misplaced")
	}
	cur := put(user, "sealed")
	if !vault.IsSealedVersion(cur) || r.Misplaced(user, cur) {
		t.Fatalf("sealed mode: user tokens written as %q", cur)
	}
	read(user, old, "in secrets")
	read(user, cur, "sealed")
	read(user, "", "sealed")
	read(other, "", "other in secrets") // not written since the switch
	for _, name := range []string{app, client} {
		if id := put(name, "kept"); vault.IsSealedVersion(id) || r.Misplaced(name, id) {
			t.Fatalf("%s written as %q in sealed mode", name, id)
		}
		if _, err := secrets.Get(ctx, name, ""); err != nil {
			t.Fatalf("%s is not in Secrets Manager: %v", name, err)
		}
	}

	if err := r.Delete(ctx, user, 7); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{old, cur, ""} {
		if _, err := r.Get(ctx, user, v); !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("after Delete, Get(%q) = %v; want vault.ErrNotFound in both stores", v, err)
		}
	}

	noSealed := &vault.Router{Secrets: secrets, Prefix: "connections", Mode: vault.StoreSecrets}
	if _, err := noSealed.Get(ctx, user, cur); !errors.Is(err, vault.ErrNoSealedStore) {
		t.Fatalf("a sealed version without a sealed store: %v", err)
	}
}

// TestUserTokenName: only user-level token names under the prefix are
// sealable, whatever the ids.
func TestUserTokenName(t *testing.T) {
	for name, want := range map[string]bool{
		vault.ConnectionSecretName("p", "a/1", "box", "user", "x/../y"): true,
		vault.ConnectionSecretName("p", "a1", "box", "app", ""):         false,
		vault.ConnectionSecretName("q", "a1", "box", "user", "u"):       false,
		vault.ClientSecretName("p", "a1", "user"):                       false,
		vault.DeploymentSecretName("p", "user"):                         false,
		"p/tokens/a1/box/user/u/extra":                                  false,
		"p/tokens/a1/box/user/":                                         false,
	} {
		if got := vault.UserTokenName("p", name); got != want {
			t.Errorf("UserTokenName(p, %q) = %v, want %v", name, got, want)
		}
	}
}
