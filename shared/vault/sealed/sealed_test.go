package sealed_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/keys/memkeys"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vault/sealed"
	"github.com/workplace/connections/shared/vault/vaulttest"
)

// TestContract: a sealed vault over the embedded store meets the vault
// contract.
func TestContract(t *testing.T) {
	k := memkeys.New()
	vaulttest.Run(t, func(t *testing.T) vault.Vault {
		return sealed.New(memvault.New(memvault.ForSealed()), k)
	})
}

// TestRouterContract: the Router meets the contract in both modes, user
// tokens going to the sealed store in sealed mode.
func TestRouterContract(t *testing.T) {
	for _, mode := range []string{vault.StoreSecrets, vault.StoreSealed} {
		t.Run(mode, func(t *testing.T) {
			k := memkeys.New()
			vaulttest.RunUnder(t, func(t *testing.T, prefix string) vault.Vault {
				return &vault.Router{Secrets: memvault.New(), Sealed: sealed.New(memvault.New(memvault.ForSealed()), k),
					Prefix: prefix, Mode: mode, RecoveryDays: 7}
			})
		})
	}
}

const (
	nameA = "connections/tokens/a1/box/user/u1"
	nameB = "connections/tokens/a1/box/user/u2"
)

// TestMovedCiphertextDoesNotOpen: a value copied, byte for byte, from one
// secret's item into another's — a user's tokens to another user of the
// same account and vendor, an app-level connection's tokens to another
// account's, a client secret to another account's or to another vendor's
// — or altered in place, fails to open; the error holds no secret.
func TestMovedCiphertextDoesNotOpen(t *testing.T) {
	for _, c := range []struct{ what, a, b string }{
		{"user-level tokens", nameA, nameB},
		{"app-level tokens", vault.ConnectionSecretName("connections", "a1", "box", "app", ""), vault.ConnectionSecretName("connections", "a2", "box", "app", "")},
		{"client secret to another account", vault.ClientSecretName("connections", "a1", "servicenow"), vault.ClientSecretName("connections", "a2", "servicenow")},
		{"client secret to another vendor", vault.ClientSecretName("connections", "a1", "servicenow"), vault.ClientSecretName("connections", "a1", "jira")},
	} {
		t.Run(c.what, func(t *testing.T) { movedDoesNotOpen(t, c.a, c.b) })
	}
}

func movedDoesNotOpen(t *testing.T, nameA, nameB string) {
	ctx := context.Background()
	inner := memvault.New(memvault.ForSealed())
	v := sealed.New(inner, memkeys.New())
	secret := []byte(`{"access_token":"at-of-u1","refresh_token":"rt-of-u1"}`)
	id, err := v.Put(ctx, nameA, secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put(ctx, nameB, []byte(`{"access_token":"at-of-u2"}`)); err != nil {
		t.Fatal(err)
	}
	stored, err := inner.Get(ctx, nameA, strings.TrimPrefix(id, vault.SealedVersionPrefix))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, []byte("at-of-u1")) {
		t.Fatal("the stored item holds the token in the clear")
	}
	// The copy becomes user 2's current version.
	copied, err := inner.Put(ctx, nameB, stored)
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range []string{"", vault.SealedVersionPrefix + copied} {
		got, err := v.Get(ctx, nameB, version)
		if !errors.Is(err, sealed.ErrCannotOpen) {
			t.Fatalf("Get(%s, %q) of a value copied from %s = %q, %v; want sealed.ErrCannotOpen", nameB, version, nameA, got, err)
		}
		if strings.Contains(err.Error(), "u1\"") || strings.Contains(err.Error(), "at-of") {
			t.Fatalf("the error shows a token: %v", err)
		}
	}
	altered := bytes.Clone(stored)
	altered[len(altered)-1] ^= 1
	alteredID, err := inner.Put(ctx, nameA, altered)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Get(ctx, nameA, vault.SealedVersionPrefix+alteredID); !errors.Is(err, sealed.ErrCannotOpen) {
		t.Fatalf("an altered value: %v, want sealed.ErrCannotOpen", err)
	}
	// The original still opens where it belongs.
	if got, err := v.Get(ctx, nameA, id); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Get(%s, %s) = %v", nameA, id, err)
	}
}

// TestDataKeysAreCached: a thousand Puts ask the key service for one data
// key; a second container reading them opens it once; after the key's
// lifetime a new one is asked for, and values sealed under the old one
// still open after the master key is rotated.
func TestDataKeysAreCached(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	k := memkeys.New()
	inner := memvault.New(memvault.ForSealed())
	writer := sealed.New(inner, k, sealed.WithClock(clock))
	const n = 1000
	ids := make([]string, n)
	for i := range n {
		var err error
		if ids[i], err = writer.Put(ctx, fmt.Sprintf("connections/tokens/a1/box/user/u-%d", i), []byte(`{"access_token":"x"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if gen, open := k.Calls(); gen != 1 || open != 0 {
		t.Fatalf("%d Puts: %d data keys issued, %d opened; want 1, 0", n, gen, open)
	}
	reader := sealed.New(inner, k, sealed.WithClock(clock))
	for i := range n {
		if _, err := reader.Get(ctx, fmt.Sprintf("connections/tokens/a1/box/user/u-%d", i), ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	if gen, open := k.Calls(); gen != 1 || open != 1 {
		t.Fatalf("%d Gets in another container: %d data keys issued, %d opened; want 1, 1", n, gen, open)
	}
	k.Rotate()
	now = now.Add(sealed.KeyLifetime)
	late, err := writer.Put(ctx, nameA, []byte(`{"access_token":"y"}`))
	if err != nil {
		t.Fatal(err)
	}
	if gen, _ := k.Calls(); gen != 2 {
		t.Fatalf("a Put after the data key's lifetime: %d data keys issued in all, want 2", gen)
	}
	if _, err := reader.Get(ctx, "connections/tokens/a1/box/user/u-0", ids[0]); err != nil {
		t.Fatalf("a value sealed before the rotation: %v", err)
	}
	if _, err := reader.Get(ctx, nameA, late); err != nil {
		t.Fatalf("a value sealed after the rotation: %v", err)
	}
	if _, open := k.Calls(); open != 3 {
		t.Fatalf("reads after the cache lifetime: %d opens in all, want 3 (each data key once more)", open)
	}
}
