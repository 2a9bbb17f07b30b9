// Package sealed is a Vault that seals values before another Vault stores
// them: AES-256-GCM under a data key from a key service (keys.Keys: the
// deployment's KMS key in production), the sealed data key stored with the
// value (envelope encryption). It is how account secrets (tokens, client secrets) are kept in the
// table at a million connections (USER_TOKEN_STORE=sealed) instead of one
// Secrets Manager secret each ($0.40 a month apiece).
//
// Why KMS. The other way to keep tokens under keys AWS holds would be a
// key per account in Secrets Manager: 10,000 accounts × $0.40 is $4,000 a
// month, four times the whole budget for a million connections, and each
// function would hold an account's key in memory with no record of its
// uses. One KMS key costs $1 a month plus $0.03 per 10,000 requests, every
// use is in CloudTrail, and the key material never leaves KMS.
//
// Binding to the item. The secret's name (which holds account, vendor,
// level and user) is the GCM additional data of every value, so a value
// copied under another name, or into another item, does not open. It is
// not in the KMS encryption context: that is bound to the data key, and a
// data key is shared by every value a container seals in its lifetime (a
// context per item would cost one KMS call per token written and per token
// read, and throttle at KMS's request quota long before a million
// connections). The KMS encryption context names the purpose
// ({"service": "connections", "purpose": "connection-tokens"}), so a data key issued for anything else does not open
// here and CloudTrail shows what each KMS call was for.
//
// Data keys. A data key seals for at most KeyLifetime (5 minutes) and
// MaxUses values, then a new one is asked for: a container makes about one
// GenerateDataKey per 5 minutes of writing. Opened data keys are cached for
// KeyLifetime too, at most OpenCacheSize of them: reading what this
// container sealed costs no KMS call, reading another container's costs
// one Decrypt per data key per 5 minutes. Keys and plaintexts never leave
// this package except as Get's answer; errors name secrets, never values.
//
// Rotation. With automatic rotation on the KMS key (template.yaml:
// EnableKeyRotation), KMS issues new data keys from the new key material;
// old sealed data keys name the material they were sealed under and still
// open, so nothing is re-encrypted. The cache bounds how long a data key
// made before a rotation keeps sealing: KeyLifetime. Values move to data
// keys of the new material as they are rewritten (every refresh).
//
// Version ids are the inner store's, with SealedVersionPrefix, so that a
// Router knows which store holds a version.
package sealed

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/workplace/connections/shared/keys"
	"github.com/workplace/connections/shared/vault"
)

// Defaults of the data-key cache.
const (
	KeyLifetime   = 5 * time.Minute
	MaxUses       = 1 << 20 // far below the 2^32 random 96-bit nonces NIST SP 800-38D allows per key
	OpenCacheSize = 256
)

// encryptionContext is the KMS encryption context of every data key.
func encryptionContext() map[string]string {
	return map[string]string{"service": "connections", "purpose": "connection-tokens"}
}

// ErrCannotOpen: a stored value does not open under its name: it was
// altered, or copied from another secret.
var ErrCannotOpen = errors.New("sealed: the stored value does not open under its name")

// Vault seals values into an inner Vault. It is safe for concurrent use.
type Vault struct {
	inner vault.Vault
	keys  keys.Keys
	now   func() time.Time

	sealMu sync.Mutex // held while a new data key is asked for: concurrent Puts ask once
	seal   *dataKey   // the data key new values are sealed under

	mu     sync.Mutex          // guards opened and order (never held across a key service call)
	opened map[string]*dataKey // by sealed data key
	order  []string            // keys of opened, oldest first
}

type dataKey struct {
	aead   cipher.AEAD
	sealed []byte
	until  time.Time
	uses   int
}

var _ vault.Vault = (*Vault)(nil)

// Option configures a Vault.
type Option func(*Vault)

// WithClock sets the clock of the data-key cache (default time.Now).
func WithClock(now func() time.Time) Option { return func(v *Vault) { v.now = now } }

// New returns a Vault sealing with data keys of k into inner, which must
// accept values up to vault.MaxSealedValueSize.
func New(inner vault.Vault, k keys.Keys, opts ...Option) *Vault {
	v := &Vault{inner: inner, keys: k, now: time.Now, opened: map[string]*dataKey{}}
	for _, o := range opts {
		o(v)
	}
	return v
}

// envelope: format byte | uint16 length of the sealed data key | sealed
// data key | 12-byte nonce | GCM ciphertext and tag.
const format = 1

// aad binds a value to its secret's name.
func aad(name string) []byte { return []byte("connections/sealed/v1\x00" + name) }

// Put seals value under name and stores it as a new version.
func (v *Vault) Put(ctx context.Context, name string, value []byte) (string, error) {
	if err := vault.CheckName(name); err != nil {
		return "", fmt.Errorf("sealed: put: %w", err)
	}
	if err := vault.CheckValue(value); err != nil {
		return "", fmt.Errorf("sealed: put %s: %w", name, err)
	}
	dk, err := v.sealingKey(ctx)
	if err != nil {
		return "", fmt.Errorf("sealed: put %s: %w", name, err)
	}
	out := make([]byte, 3, 3+len(dk.sealed)+12+len(value)+dk.aead.Overhead())
	out[0] = format
	binary.BigEndian.PutUint16(out[1:], uint16(len(dk.sealed)))
	out = append(out, dk.sealed...)
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	out = append(out, nonce...)
	out = dk.aead.Seal(out, nonce, value, aad(name))
	id, err := v.inner.Put(ctx, name, out)
	if err != nil {
		return "", err
	}
	return vault.SealedVersionPrefix + id, nil
}

// Get reads and opens a version of name ("" for the current one).
func (v *Vault) Get(ctx context.Context, name, version string) ([]byte, error) {
	inner := ""
	if version != "" {
		var ok bool
		if inner, ok = strings.CutPrefix(version, vault.SealedVersionPrefix); !ok || inner == "" {
			return nil, vault.ErrNotFound
		}
	}
	env, err := v.inner.Get(ctx, name, inner)
	if err != nil {
		return nil, err
	}
	if len(env) < 3 || env[0] != format {
		return nil, fmt.Errorf("sealed: get %s: %w", name, ErrCannotOpen)
	}
	n := int(binary.BigEndian.Uint16(env[1:]))
	if len(env) < 3+n+12 {
		return nil, fmt.Errorf("sealed: get %s: %w", name, ErrCannotOpen)
	}
	sealedKey, nonce, ct := env[3:3+n], env[3+n:3+n+12], env[3+n+12:]
	aead, err := v.openingKey(ctx, sealedKey)
	if err != nil {
		return nil, fmt.Errorf("sealed: get %s: %w", name, err)
	}
	plain, err := aead.Open(nil, nonce, ct, aad(name))
	if err != nil {
		return nil, fmt.Errorf("sealed: get %s: %w", name, ErrCannotOpen)
	}
	return plain, nil
}

// Store is the store of the sealed values (for dumps of local state: it
// holds ciphertext only).
func (v *Vault) Store() vault.Vault { return v.inner }

// Delete schedules name for deletion in the inner store.
func (v *Vault) Delete(ctx context.Context, name string, recoveryDays int) error {
	return v.inner.Delete(ctx, name, recoveryDays)
}

// sealingKey is the data key to seal under: the cached one while it is
// young and little used, else a new one (sealMu is held meanwhile, so
// concurrent Puts ask KMS once; Gets go on).
func (v *Vault) sealingKey(ctx context.Context) (*dataKey, error) {
	v.sealMu.Lock()
	defer v.sealMu.Unlock()
	now := v.now()
	if k := v.seal; k != nil && now.Before(k.until) && k.uses < MaxUses {
		k.uses++
		return k, nil
	}
	dk, err := v.keys.NewDataKey(ctx, encryptionContext())
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(dk.Plaintext)
	if err != nil {
		return nil, err
	}
	k := &dataKey{aead: aead, sealed: dk.Sealed, until: now.Add(KeyLifetime), uses: 1}
	v.seal = k
	v.mu.Lock()
	v.remember(string(dk.Sealed), k)
	v.mu.Unlock()
	return k, nil
}

// openingKey is the cipher of a sealed data key: cached, or opened by the
// key service (outside the lock: one slow Decrypt holds up no Put).
func (v *Vault) openingKey(ctx context.Context, sealedKey []byte) (cipher.AEAD, error) {
	id := string(sealedKey)
	v.mu.Lock()
	k := v.opened[id]
	now := v.now()
	v.mu.Unlock()
	if k != nil && now.Before(k.until) {
		return k.aead, nil
	}
	plain, err := v.keys.Open(ctx, sealedKey, encryptionContext())
	if errors.Is(err, keys.ErrCannotOpen) {
		return nil, ErrCannotOpen
	}
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(plain)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.remember(id, &dataKey{aead: aead, until: now.Add(KeyLifetime)})
	return aead, nil
}

// remember caches an opened data key, dropping expired ones and then the
// oldest beyond OpenCacheSize. Called with v.mu held.
func (v *Vault) remember(id string, k *dataKey) {
	if _, ok := v.opened[id]; !ok {
		v.order = append(v.order, id)
	}
	v.opened[id] = k
	now := v.now()
	for len(v.order) > 0 {
		old := v.order[0]
		if len(v.order) <= OpenCacheSize && now.Before(v.opened[old].until) {
			break
		}
		delete(v.opened, old)
		v.order = v.order[1:]
	}
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("a data key of %d bytes, want 32", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
