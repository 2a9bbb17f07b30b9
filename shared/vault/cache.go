package vault

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Cache is a Vault that keeps what Get read of the OAuth client secrets
// (the accounts' <prefix>/clients/… and the deployment's apps) for a
// bounded time, so that a container reads each at most once per TTL
// instead of once per connection or request. Tokens are never kept: a
// name under <prefix>/tokens/ always goes to the vault, whatever the
// predicate says. A Put or Delete through the cache forgets the name
// (every version), so a client secret written in this container is read
// afresh at once; one written elsewhere (another container, the operator)
// is seen within the TTL.
type Cache struct {
	Vault
	ttl       time.Duration
	now       func() time.Time
	cacheable func(name string) bool
	tokens    string // the tokens' name prefix

	mu      sync.Mutex
	entries map[cacheKey]cached
}

type cacheKey struct{ name, version string }

// sweepAt is the number of entries from which a new entry first drops the
// expired ones: the cache holds at most what one TTL's reads touched.
const sweepAt = 1024

type cached struct {
	value   []byte
	expires time.Time
}

// NewCache keeps the values of names under <prefix>/clients/ and of the
// extra names (the deployment apps' secrets) for ttl (0 or less: nothing
// is kept); now is the clock (nil: time.Now).
func NewCache(v Vault, prefix string, extra []string, ttl time.Duration, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	extra = slices.Clone(extra)
	return &Cache{
		Vault: v, ttl: ttl, now: now,
		tokens: prefix + "/" + TokensDir + "/",
		cacheable: func(name string) bool {
			return Under(prefix, ClientsDir, name) || slices.Contains(extra, name)
		},
		entries: map[cacheKey]cached{},
	}
}

func (c *Cache) keeps(name string) bool {
	return c.ttl > 0 && !strings.HasPrefix(name, c.tokens) && !strings.Contains(name, "/"+TokensDir+"/") && c.cacheable(name)
}

// Get reads name at version from the cache while it is fresh, else from
// the vault. Errors are never kept.
func (c *Cache) Get(ctx context.Context, name, version string) ([]byte, error) {
	if !c.keeps(name) {
		return c.Vault.Get(ctx, name, version)
	}
	k := cacheKey{name, version}
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return slices.Clone(e.value), nil
	}
	v, err := c.Vault.Get(ctx, name, version)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.entries) >= sweepAt {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
	}
	c.entries[k] = cached{value: slices.Clone(v), expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return v, nil
}

// Put writes through and forgets name, whether or not the write succeeded
// (a failed write may have happened).
func (c *Cache) Put(ctx context.Context, name string, value []byte) (string, error) {
	id, err := c.Vault.Put(ctx, name, value)
	c.forget(name)
	return id, err
}

// Delete deletes through and forgets name.
func (c *Cache) Delete(ctx context.Context, name string, recoveryDays int) error {
	err := c.Vault.Delete(ctx, name, recoveryDays)
	c.forget(name)
	return err
}

func (c *Cache) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if k.name == name {
			delete(c.entries, k)
		}
	}
}
