// Package keys is the port to a key service that holds a master key the
// service never sees (AWS KMS in production, kmskeys; memory locally,
// memkeys): it hands out data keys, returned both in plaintext (to use and
// forget) and sealed under the master key (to store), and opens a sealed
// data key again. Both pass keystest.
package keys

import (
	"context"
	"errors"
)

// ErrCannotOpen: the sealed data key was not sealed by this key service,
// was altered, or is opened with another encryption context.
var ErrCannotOpen = errors.New("keys: cannot open the data key")

// DataKey is a 256-bit data key: Plaintext to use (never store, log or
// return it), Sealed to store beside what it encrypts.
type DataKey struct {
	Plaintext []byte
	Sealed    []byte
}

// Keys issues and opens data keys. The encryption context is bound to the
// sealed key: Open must be given the same one.
type Keys interface {
	// NewDataKey issues a fresh AES-256 data key.
	NewDataKey(ctx context.Context, encryptionContext map[string]string) (DataKey, error)
	// Open returns the plaintext of a sealed data key.
	Open(ctx context.Context, sealed []byte, encryptionContext map[string]string) ([]byte, error)
}
