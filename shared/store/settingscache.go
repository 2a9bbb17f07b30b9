package store

import (
	"context"
	"sync"

	"github.com/workplace/connections/shared/connection"
)

// settingsCacheKey is the context key of a settings cache.
type settingsCacheKey struct{}

// settingsCache is what SettingsOf read under one WithSettingsCache
// context: each account's settings of a vendor, read once.
type settingsCache struct {
	mu    sync.Mutex
	reads map[[2]string]*settingsRead
}

// settingsRead is one read, shared by every caller that wants it: done is
// closed once set and err are final.
type settingsRead struct {
	done chan struct{}
	set  *connection.Settings
	err  error
}

// WithSettingsCache returns a context under which SettingsOf reads each
// account's settings of a vendor at most once, however many callers (and
// concurrent ones) ask: what it read, or that there are none, is kept for
// as long as the context is used; a failed read is not kept, and the next
// caller reads again. It is for one bounded job that reads the same
// settings over and over, such as a scan run (one read per account and
// vendor instead of one per due connection): settings saved meanwhile are
// seen by the next job, never by a request.
func WithSettingsCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, settingsCacheKey{}, &settingsCache{reads: map[[2]string]*settingsRead{}})
}

// settingsOf is SettingsOf through c.
func (c *settingsCache) settingsOf(ctx context.Context, st Store, account, vendor string) (*connection.Settings, error) {
	key := [2]string{account, vendor}
	c.mu.Lock()
	r, ok := c.reads[key]
	if !ok {
		r = &settingsRead{done: make(chan struct{})}
		c.reads[key] = r
		c.mu.Unlock()
		r.set, r.err = readSettings(ctx, st, account, vendor)
		if r.err != nil {
			c.mu.Lock()
			delete(c.reads, key)
			c.mu.Unlock()
		}
		close(r.done)
	} else {
		c.mu.Unlock()
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.set == nil {
		return nil, nil
	}
	cp := *r.set // the caller's own copy
	return &cp, nil
}
