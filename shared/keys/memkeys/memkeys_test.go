package memkeys_test

import (
	"bytes"
	"testing"

	"github.com/workplace/connections/shared/keys/keystest"
	"github.com/workplace/connections/shared/keys/memkeys"
)

func TestContract(t *testing.T) { keystest.Run(t, memkeys.New()) }

// TestRotationKeepsOldKeysOpen: after a rotation, data keys sealed before
// it still open, and new ones are sealed under the new version.
func TestRotationKeepsOldKeysOpen(t *testing.T) {
	k := memkeys.New()
	old, err := k.NewDataKey(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	k.Rotate()
	fresh, err := k.NewDataKey(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(old.Sealed[:4], fresh.Sealed[:4]) {
		t.Fatal("the new data key names the old master key version")
	}
	got, err := k.Open(t.Context(), old.Sealed, nil)
	if err != nil || !bytes.Equal(got, old.Plaintext) {
		t.Fatalf("a data key sealed before the rotation: %v", err)
	}
}
