// Package memvault is the in-memory twin of secretsvault: the vault of local
// mode and of tests. It mimics Secrets Manager where callers can tell:
// every version stays readable by its id, a deleted secret reads as
// vault.ErrNotFound until a Put restores it (with its old versions), and
// version ids are unique, UUID-shaped strings. Recovery windows do not run
// out here: a deleted secret stays restorable for the life of the process.
// Made with ForSealed it is also the twin of dynamovault, the store of sealed
// values (vault/sealed), which accepts their larger size.
package memvault

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/workplace/connections/shared/vault"
)

// Vault keeps secrets in memory. It is safe for concurrent use.
type Vault struct {
	mu       sync.Mutex
	secrets  map[string]*secret
	maxValue int
}

type secret struct {
	versions map[string][]byte
	current  string
	deleted  bool
}

var _ vault.Vault = (*Vault)(nil)

// Option configures a Vault.
type Option func(*Vault)

// ForSealed makes the vault accept sealed values (up to
// vault.MaxSealedValueSize), as the table's store of them does.
func ForSealed() Option { return func(v *Vault) { v.maxValue = vault.MaxSealedValueSize } }

// New returns an empty vault.
func New(opts ...Option) *Vault {
	v := &Vault{secrets: map[string]*secret{}, maxValue: vault.MaxValueSize}
	for _, o := range opts {
		o(v)
	}
	return v
}

// Put writes value as the new current version of name, creating the secret
// or restoring a deleted one.
func (v *Vault) Put(ctx context.Context, name string, value []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := vault.CheckName(name); err != nil {
		return "", fmt.Errorf("memvault: put: %w", err)
	}
	if err := vault.CheckValueSize(value, v.maxValue); err != nil {
		return "", fmt.Errorf("memvault: put %s: %w", name, err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.secrets[name]
	if s == nil {
		s = &secret{versions: map[string][]byte{}}
		v.secrets[name] = s
	}
	id := vault.NewVersionID()
	for s.versions[id] != nil { // a 122-bit collision; cheap to rule out
		id = vault.NewVersionID()
	}
	s.versions[id] = bytes.Clone(value)
	s.current = id
	s.deleted = false
	return id, nil
}

// Get reads a version of name ("" for the current one).
func (v *Vault) Get(ctx context.Context, name, version string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.secrets[name]
	if s == nil || s.deleted {
		return nil, vault.ErrNotFound
	}
	if version == "" {
		version = s.current
	}
	b, ok := s.versions[version]
	if !ok {
		return nil, vault.ErrNotFound
	}
	return bytes.Clone(b), nil
}

// Delete marks name deleted; its versions are kept for a later Put to
// restore. Deleting a missing or already deleted secret is not an error.
func (v *Vault) Delete(ctx context.Context, name string, recoveryDays int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s := v.secrets[name]; s != nil {
		s.deleted = true
	}
	return nil
}
