package vault_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
)

// Writes beyond the pace wait their turn; one whose context ends first
// writes nothing. Reads are not paced.
func TestPaceWrites(t *testing.T) {
	mem := memvault.New()
	v := vault.PaceWrites(mem, 1.0/3600, 2) // two at once, then one an hour
	for _, name := range []string{"connections/tokens/a1/x/1", "connections/tokens/a1/x/2"} {
		if _, err := v.Put(t.Context(), name, []byte(`{"access_token":"t"}`)); err != nil {
			t.Fatalf("put within the burst: %v", err)
		}
	}
	// The next turn is an hour away; the context ends in a minute.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := v.Put(ctx, "connections/tokens/a1/x/3", []byte(`{"access_token":"t"}`)); err == nil {
		t.Fatal("a put past the pace went through at once")
	}
	if _, err := mem.Get(t.Context(), "connections/tokens/a1/x/3", ""); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("a write that never got its turn was made: %v", err)
	}
	for range 5 {
		if _, err := v.Get(t.Context(), "connections/tokens/a1/x/1", ""); err != nil {
			t.Fatalf("read: %v", err)
		}
	}
}
