package vault

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
)

// Secrets Manager's limits, enforced by every Vault so that a name or value
// AWS would refuse fails locally too (moto does not check them).
const (
	MaxNameLen   = 512
	MaxValueSize = 65536
)

// ErrInvalid: Put refused the name or value for breaking a limit above.
var ErrInvalid = errors.New("vault: invalid secret")

// CheckName reports whether name is a valid secret name: 1 to 512 of
// A-Z a-z 0-9 / _ + = . @ - (so a user id such as "auth0|123" must be
// encoded before it goes into a name).
func CheckName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("%w: name must be 1 to %d characters", ErrInvalid, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return fmt.Errorf("%w: name %q has a character Secrets Manager refuses at %d", ErrInvalid, name, i)
		}
	}
	return nil
}

// nameByte reports whether Secrets Manager accepts c in a secret name.
func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("/_+=.@-", c) >= 0
}

// NewVersionID returns a random version 4 UUID, the shape of Secrets
// Manager's version ids (and of the 32 to 64 characters it wants in a
// ClientRequestToken, which becomes the new version's id).
func NewVersionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// CheckValue reports whether value fits in a secret. The error never
// contains the value.
func CheckValue(value []byte) error { return CheckValueSize(value, MaxValueSize) }

// CheckValueSize reports whether value is 1 to limit bytes (a store of
// sealed values accepts MaxSealedValueSize). The error never contains the
// value.
func CheckValueSize(value []byte, limit int) error {
	if len(value) == 0 || len(value) > limit {
		return fmt.Errorf("%w: value must be 1 to %d bytes, got %d", ErrInvalid, limit, len(value))
	}
	return nil
}
