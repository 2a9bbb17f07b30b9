// Package keystest is the contract every keys.Keys must meet (memkeys,
// kmskeys on moto).
package keystest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/workplace/connections/shared/keys"
)

// Run runs the contract as subtests on k.
func Run(t *testing.T, k keys.Keys) {
	t.Helper()
	ctx := context.Background()
	ec := map[string]string{"purpose": "keystest", "item": "a"}
	t.Run("RoundTrip", func(t *testing.T) {
		dk, err := k.NewDataKey(ctx, ec)
		if err != nil {
			t.Fatal(err)
		}
		if len(dk.Plaintext) != 32 || len(dk.Sealed) == 0 || bytes.Contains(dk.Sealed, dk.Plaintext) {
			t.Fatalf("data key of %d bytes, sealed %d bytes (or sealed holds the plaintext)", len(dk.Plaintext), len(dk.Sealed))
		}
		got, err := k.Open(ctx, dk.Sealed, map[string]string{"item": "a", "purpose": "keystest"})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, dk.Plaintext) {
			t.Fatal("Open returned another key")
		}
	})
	t.Run("FreshKeys", func(t *testing.T) {
		a, err1 := k.NewDataKey(ctx, ec)
		b, err2 := k.NewDataKey(ctx, ec)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if bytes.Equal(a.Plaintext, b.Plaintext) || bytes.Equal(a.Sealed, b.Sealed) {
			t.Fatal("two data keys are the same")
		}
	})
	t.Run("OtherContextDoesNotOpen", func(t *testing.T) {
		dk, err := k.NewDataKey(ctx, ec)
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range []map[string]string{
			{"purpose": "keystest", "item": "b"},
			{"purpose": "keystest"},
			nil,
		} {
			if got, err := k.Open(ctx, dk.Sealed, other); !errors.Is(err, keys.ErrCannotOpen) {
				t.Errorf("Open under %v = %d bytes, %v; want keys.ErrCannotOpen", other, len(got), err)
			}
		}
	})
	t.Run("AlteredDoesNotOpen", func(t *testing.T) {
		dk, err := k.NewDataKey(ctx, ec)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(dk.Sealed)
		bad[len(bad)-1] ^= 1
		if got, err := k.Open(ctx, bad, ec); !errors.Is(err, keys.ErrCannotOpen) {
			t.Errorf("Open of an altered key = %d bytes, %v; want keys.ErrCannotOpen", len(got), err)
		}
	})
}
