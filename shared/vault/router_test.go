package vault_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/workplace/connections/shared/keys/memkeys"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vault/sealed"
)

// TestRouterAcrossAModeSwitch: versions written before USER_TOKEN_STORE
// changed still read (the version id names its store), the current
// version of a connection not written since is the old store's, tokens of
// both levels and client secrets are sealed, the deployment's app
// credentials never leave Secrets Manager, and a delete reaches both
// stores.
func TestRouterAcrossAModeSwitch(t *testing.T) {
	ctx := context.Background()
	secrets := memvault.New()
	r := &vault.Router{Secrets: secrets, Sealed: sealed.New(memvault.New(memvault.ForSealed()), memkeys.New()),
		Prefix: "connections", Mode: vault.StoreSecrets, RecoveryDays: 7}
	user := vault.ConnectionSecretName("connections", "a1", "box", "user", "auth0|1")
	other := vault.ConnectionSecretName("connections", "a1", "box", "user", "u2")
	app := vault.ConnectionSecretName("connections", "a1", "box", "app", "")
	client := vault.ClientSecretName("connections", "a1", "servicenow")
	deployment := vault.DeploymentSecretName("connections", "box")
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
		if id := put(name, "sealed too"); !vault.IsSealedVersion(id) || r.Misplaced(name, id) {
			t.Fatalf("%s written as %q in sealed mode", name, id)
		}
		if _, err := secrets.Get(ctx, name, ""); !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("%s is in Secrets Manager in sealed mode: %v", name, err)
		}
		read(name, "", "sealed too")
	}
	if id := put(deployment, "kept"); vault.IsSealedVersion(id) || r.Misplaced(deployment, id) || r.Lingering(deployment, id) {
		t.Fatalf("%s written as %q in sealed mode", deployment, id)
	}
	if _, err := secrets.Get(ctx, deployment, ""); err != nil {
		t.Fatalf("%s is not in Secrets Manager: %v", deployment, err)
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

// TestClientSecretMovesBothWays: a client secret written in secrets mode
// is misplaced after the switch to sealed, still reads by its version and
// as the current value, and Move copies it byte for byte home (no token
// handling); Forget then removes the Secrets Manager copy, and the way
// back works the same.
func TestClientSecretMovesBothWays(t *testing.T) {
	ctx := context.Background()
	secrets := memvault.New()
	r := &vault.Router{Secrets: secrets, Sealed: sealed.New(memvault.New(memvault.ForSealed()), memkeys.New()),
		Prefix: "connections", Mode: vault.StoreSecrets, RecoveryDays: 7}
	name := vault.ClientSecretName("connections", "a1", "servicenow")
	old, err := r.Put(ctx, name, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{vault.StoreSealed, vault.StoreSecrets} {
		r.Mode = mode
		if !r.Misplaced(name, old) {
			t.Fatalf("%s mode: version %q not misplaced", mode, old)
		}
		if got, err := r.Get(ctx, name, ""); err != nil || string(got) != "s3cret" {
			t.Fatalf("%s mode, before the move: current = %q, %v", mode, got, err)
		}
		moved, err := r.Move(ctx, name, old)
		if err != nil {
			t.Fatal(err)
		}
		if r.Misplaced(name, moved) || vault.IsSealedVersion(moved) != (mode == vault.StoreSealed) {
			t.Fatalf("%s mode: moved to %q", mode, moved)
		}
		for _, v := range []string{old, moved, ""} {
			if got, err := r.Get(ctx, name, v); err != nil || string(got) != "s3cret" {
				t.Fatalf("%s mode: Get(%q) = %q, %v", mode, v, got, err)
			}
		}
		if err := r.Forget(ctx, name); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Get(ctx, name, old); !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("%s mode: the old copy after Forget: %v", mode, err)
		}
		old = moved
	}
}

// TestUserTokenName: only user-level token names under the prefix are
// user-level, whatever the ids; AccountSecretName (what sealed mode seals)
// takes tokens of both levels and client secrets, never the deployment's.
func TestUserTokenName(t *testing.T) {
	for name, want := range map[string][2]bool{
		vault.ConnectionSecretName("p", "a/1", "box", "user", "x/../y"): {true, true},
		vault.ConnectionSecretName("p", "a1", "box", "app", ""):         {false, true},
		vault.ConnectionSecretName("q", "a1", "box", "user", "u"):       {false, false},
		vault.ClientSecretName("p", "a1", "user"):                       {false, true},
		vault.ClientSecretName("p", "a/1", "servicenow"):                {false, true},
		vault.DeploymentSecretName("p", "user"):                         {false, false},
		vault.DeploymentSecretName("p", "box"):                          {false, false},
		"p/tokens/a1/box/user/u/extra":                                  {false, false},
		"p/tokens/a1/box/user/":                                         {false, false},
		"p/tokens/a1/box/other":                                         {false, false},
		"p/clients/a1":                                                  {false, false},
		"p/clients/a1/box/x":                                            {false, false},
	} {
		if got := vault.UserTokenName("p", name); got != want[0] {
			t.Errorf("UserTokenName(p, %q) = %v, want %v", name, got, want[0])
		}
		if got := vault.AccountSecretName("p", name); got != want[1] {
			t.Errorf("AccountSecretName(p, %q) = %v, want %v", name, got, want[1])
		}
	}
}

// TestCachesUnderTheRouter: with a client-secret cache in front of each
// store (as the Lambdas wire it), a client secret written through the
// Router is read afresh at once in either mode — also the current version,
// when the write changed its store — and tokens are never kept.
func TestCachesUnderTheRouter(t *testing.T) {
	ctx := context.Background()
	const ttl = time.Hour
	now := func() time.Time { return time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) }
	secrets := memvault.New()
	sealedStore := memvault.New(memvault.ForSealed())
	r := &vault.Router{
		Secrets: vault.NewCache(secrets, "p", nil, ttl, now),
		Sealed:  vault.NewCache(sealed.New(sealedStore, memkeys.New()), "p", nil, ttl, now),
		Prefix:  "p", Mode: vault.StoreSecrets, RecoveryDays: 7,
	}
	client := vault.ClientSecretName("p", "a1", "servicenow")
	read := func(want string) {
		t.Helper()
		if got, err := r.Get(ctx, client, ""); err != nil || string(got) != want {
			t.Fatalf("current client secret = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := r.Put(ctx, client, []byte("one")); err != nil {
		t.Fatal(err)
	}
	read("one")
	// Changed behind the cache's back (another container): still cached.
	if _, err := secrets.Put(ctx, client, []byte("elsewhere")); err != nil {
		t.Fatal(err)
	}
	read("one")
	for i, mode := range []string{vault.StoreSealed, vault.StoreSecrets, vault.StoreSealed} {
		r.Mode = mode
		want := []string{"two", "three", "four"}[i]
		if _, err := r.Put(ctx, client, []byte(want)); err != nil {
			t.Fatal(err)
		}
		if err := r.Forget(ctx, client); err != nil {
			t.Fatal(err)
		}
		read(want)
	}
	user := vault.ConnectionSecretName("p", "a1", "box", "user", "u1")
	if _, err := r.Put(ctx, user, []byte("t1")); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Get(ctx, user, ""); err != nil || string(got) != "t1" {
		t.Fatalf("tokens = %q, %v", got, err)
	}
	if _, err := sealedStore.Put(ctx, user, []byte("not a sealed value")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, user, ""); err == nil {
		t.Fatal("tokens read from a cache")
	}
}
