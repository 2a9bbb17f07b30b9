package vault_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
)

// countingVault counts the reads that reach the vault, by name.
type countingVault struct {
	vault.Vault
	mu   sync.Mutex
	gets map[string]int
	fail error
}

func (c *countingVault) Get(ctx context.Context, name, version string) ([]byte, error) {
	c.mu.Lock()
	c.gets[name]++
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	return c.Vault.Get(ctx, name, version)
}

func TestCacheKeepsClientSecretsForItsTTL(t *testing.T) {
	ctx := t.Context()
	inner := &countingVault{Vault: memvault.New(), gets: map[string]int{}}
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	const prefix = "p"
	deployment := "p/deployment/confluence/client"
	client := vault.ClientSecretName(prefix, "a1", "servicenow")
	tokens := vault.ConnectionSecretName(prefix, "a1", "servicenow", "app", "")
	// A tokens name in the extra list is still never kept.
	c := vault.NewCache(inner, prefix, []string{deployment, tokens}, 5*time.Minute, func() time.Time { return now })
	version := map[string]string{}
	for _, n := range []string{deployment, client, tokens, "p/other"} {
		v, err := c.Put(ctx, n, []byte(`"one"`))
		if err != nil {
			t.Fatal(err)
		}
		version[n] = v
	}
	read := func(name, version, want string) {
		t.Helper()
		got, err := c.Get(ctx, name, version)
		if err != nil || string(got) != want {
			t.Fatalf("Get %s: %q %v, want %q", name, got, err, want)
		}
		got[0] = 'X' // the caller's copy
	}
	for range 3 {
		read(deployment, "", `"one"`)
		read(client, version[client], `"one"`)
		read(tokens, "", `"one"`)
		read("p/other", "", `"one"`)
	}
	want := map[string]int{deployment: 1, client: 1, tokens: 3, "p/other": 3}
	for n, w := range want {
		if inner.gets[n] != w {
			t.Errorf("%s: %d reads reached the vault, want %d", n, inner.gets[n], w)
		}
	}

	// A write through the cache is read at once.
	if _, err := c.Put(ctx, deployment, []byte(`"two"`)); err != nil {
		t.Fatal(err)
	}
	read(deployment, "", `"two"`)
	if inner.gets[deployment] != 2 {
		t.Errorf("after a write: %d reads, want 2", inner.gets[deployment])
	}
	// One written elsewhere is seen once the TTL is over.
	if _, err := inner.Put(ctx, deployment, []byte(`"three"`)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(5*time.Minute - time.Second)
	read(deployment, "", `"two"`)
	now = now.Add(time.Second)
	read(deployment, "", `"three"`)

	// Errors are not kept; a deleted secret is forgotten.
	inner.fail = errors.New("injected")
	if _, err := c.Get(ctx, client, ""); err == nil {
		t.Fatal("a failed read was answered")
	}
	inner.fail = nil
	read(client, "", `"one"`)
	if err := c.Delete(ctx, client, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, client, ""); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
}

func TestCacheWithoutTTLKeepsNothing(t *testing.T) {
	ctx := t.Context()
	inner := &countingVault{Vault: memvault.New(), gets: map[string]int{}}
	name := vault.ClientSecretName("p", "a1", "servicenow")
	c := vault.NewCache(inner, "p", nil, 0, nil)
	if _, err := c.Put(ctx, name, []byte(`"x"`)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.Get(ctx, name, ""); err != nil {
			t.Fatal(err)
		}
	}
	if inner.gets[name] != 2 {
		t.Errorf("%d reads reached the vault, want 2", inner.gets[name])
	}
}
