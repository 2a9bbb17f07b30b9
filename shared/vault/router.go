package vault

import (
	"context"
	"errors"
	"fmt"
)

// Token stores (USER_TOKEN_STORE): where the accounts' secrets (the
// tokens of connections of both levels and the accounts' OAuth client
// secrets, AccountSecretName) are written. The deployment's own app
// credentials are always in Secrets Manager.
const (
	// StoreSecrets: one Secrets Manager secret per connection.
	StoreSecrets = "secrets"
	// StoreSealed: sealed (encrypted under a data key of the deployment's
	// KMS key, the secret's full name as additional data) in an item of
	// the table.
	StoreSealed = "sealed"
)

// Router is the Vault of a deployment with two stores: the accounts'
// secrets (AccountSecretName: connection tokens of both levels, client
// secrets) are written to the store Mode names, every other secret (the
// deployment's own apps) to Secrets. A version id says which store holds
// it (IsSealedVersion), so a connection or settings written before a
// change of Mode still read; the scan moves them (Move). It knows no
// storage technology.
type Router struct {
	Secrets Vault // Secrets Manager (secretsvault), memvault locally
	// Sealed holds sealed values (vault/sealed over a table); it must be
	// set whatever Mode is, so that a deployment switched back from
	// sealed still reads what was sealed.
	Sealed Vault
	Prefix string // SECRET_PREFIX
	Mode   string // StoreSecrets or StoreSealed
	// RecoveryDays is the recovery window of a moved connection's old
	// copy (SECRET_RECOVERY_DAYS).
	RecoveryDays int
}

var _ Vault = (*Router)(nil)

// ErrNoSealedStore: a sealed version was asked of a Router with no sealed
// store.
var ErrNoSealedStore = errors.New("vault: a sealed version, and no sealed store configured")

// home is the store new versions of name go to.
func (r *Router) home(name string) Vault {
	if r.Mode == StoreSealed && AccountSecretName(r.Prefix, name) {
		return r.Sealed
	}
	return r.Secrets
}

// other is the store that is not home, for names that may live in either
// (nil for the others).
func (r *Router) other(name string) Vault {
	if !AccountSecretName(r.Prefix, name) || r.Sealed == nil {
		return nil
	}
	if r.Mode == StoreSealed {
		return r.Secrets
	}
	return r.Sealed
}

// holder is the store that holds version.
func (r *Router) holder(version string) (Vault, error) {
	if !IsSealedVersion(version) {
		return r.Secrets, nil
	}
	if r.Sealed == nil {
		return nil, ErrNoSealedStore
	}
	return r.Sealed, nil
}

// Put writes a new version to name's home store.
func (r *Router) Put(ctx context.Context, name string, value []byte) (string, error) {
	return r.home(name).Put(ctx, name, value)
}

// Get reads a version from the store that holds it; the current version
// of an account's secret is the home store's, or, while it has not moved
// yet, the other's.
func (r *Router) Get(ctx context.Context, name, version string) ([]byte, error) {
	if version != "" {
		v, err := r.holder(version)
		if err != nil {
			return nil, err
		}
		return v.Get(ctx, name, version)
	}
	b, err := r.home(name).Get(ctx, name, "")
	if o := r.other(name); errors.Is(err, ErrNotFound) && o != nil {
		return o.Get(ctx, name, "")
	}
	return b, err
}

// Delete schedules name for deletion in every store that may hold it.
func (r *Router) Delete(ctx context.Context, name string, recoveryDays int) error {
	err := r.home(name).Delete(ctx, name, recoveryDays)
	if o := r.other(name); o != nil {
		err = errors.Join(err, o.Delete(ctx, name, recoveryDays))
	}
	return err
}

// Misplaced reports whether the version of name is in the store that is not
// its home: the connection's tokens (or the settings' client secret)
// should move (Move).
func (r *Router) Misplaced(name, version string) bool {
	return version != "" && AccountSecretName(r.Prefix, name) && r.Sealed != nil &&
		IsSealedVersion(version) != (r.Mode == StoreSealed)
}

// Lingering reports whether an account's secret whose version is home
// may still have an old copy in Secrets Manager, which costs money as long
// as it exists: in sealed mode, tokens a refresh or a reconnect rewrote
// after the switch went home without their old secret being deleted. The scan forgets that copy on each visit (Forget; one
// DeleteSecret, answered "not found" once it is gone). A stale sealed
// item in secrets mode costs nothing worth a call.
func (r *Router) Lingering(name, version string) bool {
	return r.Mode == StoreSealed && r.Sealed != nil && AccountSecretName(r.Prefix, name) && IsSealedVersion(version)
}

// Move copies version of name to name's home store and returns the new
// version. A client secret is copied as it is; version "" moves the other
// store's current version of one (settings written before their version
// was kept), ErrNotFound when the other store has none. For tokens, when the old store's current version holds
// tokens a refresh of version rotated and never got to point at (a refresh
// that failed after storing them), those are carried too, as the new
// current version rotated from the moved one, so the next refresh presents
// them (a replaced refresh token may end the grant). Nothing is deleted:
// once the connection points at the new version, Forget removes the old
// copy; until then the connection still reads the old one.
func (r *Router) Move(ctx context.Context, name, version string) (string, error) {
	from, err := r.holder(version)
	if version == "" {
		if from = r.other(name); from == nil || TokenName(r.Prefix, name) {
			return "", fmt.Errorf("vault: no version of %s to move", name)
		}
	}
	if err != nil {
		return "", err
	}
	to := r.home(name)
	if !TokenName(r.Prefix, name) {
		b, err := from.Get(ctx, name, version)
		if err != nil {
			return "", fmt.Errorf("read secret to move: %w", err) // ErrNotFound stays one
		}
		moved, err := to.Put(ctx, name, b)
		if err != nil {
			return "", fmt.Errorf("write moved secret: %w", err)
		}
		return moved, nil
	}
	toks, err := GetTokens(ctx, from, name, version)
	if err != nil {
		return "", fmt.Errorf("read tokens to move: %w", err)
	}
	moved, err := PutTokens(ctx, to, name, toks)
	if err != nil {
		return "", fmt.Errorf("write moved tokens: %w", err)
	}
	cur, err := GetTokens(ctx, from, name, "")
	if err != nil || cur.RotatedFrom != version || cur.RefreshToken == "" {
		return moved, nil // nothing pending (or nothing readable: the moved copy stands)
	}
	cur.RotatedFrom = moved
	if _, err := PutTokens(ctx, to, name, cur); err != nil {
		return "", fmt.Errorf("write moved rotated tokens: %w", err)
	}
	return moved, nil
}

// HomeStore is Mode: where the accounts' secrets are written.
func (r *Router) HomeStore() string { return r.Mode }

// Forget schedules the copy of name in the store that is not its home for
// deletion (after RecoveryDays): the end of a Move, once nothing points
// at the old copy.
func (r *Router) Forget(ctx context.Context, name string) error {
	if o := r.other(name); o != nil {
		return o.Delete(ctx, name, r.RecoveryDays)
	}
	return nil
}

// Mover is a Vault whose secrets may sit in a store other than their home
// (a Router): what the scan uses to move them, and a settings write to
// forget the old copy of a client secret.
type Mover interface {
	Vault
	Misplaced(name, version string) bool
	Lingering(name, version string) bool
	Move(ctx context.Context, name, version string) (string, error)
	Forget(ctx context.Context, name string) error
	// HomeStore names the store new versions of the accounts' secrets go
	// to (StoreSecrets or StoreSealed).
	HomeStore() string
}

var _ Mover = (*Router)(nil)
