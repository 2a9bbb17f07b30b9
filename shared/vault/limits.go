package vault

import (
	"errors"
	"fmt"
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
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '/', c == '_', c == '+', c == '=', c == '.', c == '@', c == '-':
		default:
			return fmt.Errorf("%w: name %q has a character Secrets Manager refuses at %d", ErrInvalid, name, i)
		}
	}
	return nil
}

// CheckValue reports whether value fits in a secret. The error never
// contains the value.
func CheckValue(value []byte) error {
	if len(value) == 0 || len(value) > MaxValueSize {
		return fmt.Errorf("%w: value must be 1 to %d bytes, got %d", ErrInvalid, MaxValueSize, len(value))
	}
	return nil
}
