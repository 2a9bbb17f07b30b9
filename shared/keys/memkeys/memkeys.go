// Package memkeys is the in-memory twin of kmskeys: a key service whose
// master key lives in the process (local mode and tests). Like a KMS key
// with automatic rotation, Rotate adds a new master key version for new data
// keys while data keys sealed under earlier versions still open. It counts
// its calls, as CloudTrail would, so tests can bound them.
package memkeys

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/workplace/connections/shared/keys"
)

// Keys is an in-memory key service. It is safe for concurrent use.
type Keys struct {
	mu       sync.Mutex
	versions []cipher.AEAD // master key versions; the last one seals

	newKeys, opens atomic.Int64
}

var _ keys.Keys = (*Keys)(nil)

// New returns a key service with one fresh master key version.
func New() *Keys {
	k := &Keys{}
	k.Rotate()
	return k
}

// Rotate starts a new master key version: new data keys are sealed under
// it, data keys sealed earlier still open.
func (k *Keys) Rotate() {
	master := make([]byte, 32)
	_, _ = rand.Read(master) // crypto/rand.Read never fails
	b, _ := aes.NewCipher(master)
	g, _ := cipher.NewGCM(b)
	k.mu.Lock()
	k.versions = append(k.versions, g)
	k.mu.Unlock()
}

// Calls is how many data keys were issued and how many opened.
func (k *Keys) Calls() (newDataKey, open int64) { return k.newKeys.Load(), k.opens.Load() }

// sealed data key: 4-byte master version | 12-byte nonce | GCM(data key).
const header = 4 + 12

// NewDataKey issues a random data key sealed under the current master key
// version, the encryption context as additional data.
func (k *Keys) NewDataKey(ctx context.Context, ec map[string]string) (keys.DataKey, error) {
	if err := ctx.Err(); err != nil {
		return keys.DataKey{}, err
	}
	k.newKeys.Add(1)
	plain := make([]byte, 32)
	_, _ = rand.Read(plain)
	k.mu.Lock()
	v := len(k.versions) - 1
	g := k.versions[v]
	k.mu.Unlock()
	out := make([]byte, header, header+len(plain)+g.Overhead())
	binary.BigEndian.PutUint32(out, uint32(v))
	_, _ = rand.Read(out[4:header])
	out = g.Seal(out, out[4:header], plain, aad(ec))
	return keys.DataKey{Plaintext: plain, Sealed: out}, nil
}

// Open opens a data key NewDataKey sealed, under the same context.
func (k *Keys) Open(ctx context.Context, sealed []byte, ec map[string]string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.opens.Add(1)
	if len(sealed) < header {
		return nil, keys.ErrCannotOpen
	}
	v := binary.BigEndian.Uint32(sealed)
	k.mu.Lock()
	var g cipher.AEAD
	if int64(v) < int64(len(k.versions)) {
		g = k.versions[v]
	}
	k.mu.Unlock()
	if g == nil {
		return nil, keys.ErrCannotOpen
	}
	plain, err := g.Open(nil, sealed[4:header], sealed[header:], aad(ec))
	if err != nil {
		return nil, fmt.Errorf("memkeys: %w", keys.ErrCannotOpen)
	}
	return plain, nil
}

// aad is the encryption context in a canonical form (JSON sorts map keys),
// so equal contexts give equal bytes, as in KMS.
func aad(ec map[string]string) []byte {
	if len(ec) == 0 {
		return nil
	}
	b, _ := json.Marshal(ec)
	return bytes.Clone(b)
}
