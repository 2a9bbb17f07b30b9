package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
)

// countingStore counts settings reads and fails them while failing is set.
type countingStore struct {
	store.Store
	reads   atomic.Int64
	failing atomic.Bool
}

var errDown = errors.New("table unavailable")

func (c *countingStore) GetSettings(ctx context.Context, account, vendor string) (connection.Settings, error) {
	c.reads.Add(1)
	if c.failing.Load() {
		return connection.Settings{}, errDown
	}
	return c.Store.GetSettings(ctx, account, vendor)
}

func TestSettingsCache(t *testing.T) {
	mem := memstore.New()
	put := func(account, clientID string, version int64) {
		t.Helper()
		err := mem.Apply(t.Context(), store.PutSettings{Settings: connection.Settings{Account: account, Vendor: "servicenow", ClientID: clientID, Version: version}})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("a1", "client-1", 0)
	st := &countingStore{Store: mem}
	ctx := store.WithSettingsCache(t.Context())

	// Many concurrent callers for one account: one read, the same answer.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			set, err := store.SettingsOf(ctx, st, "a1", "servicenow")
			if err != nil || set == nil || set.ClientID != "client-1" {
				t.Errorf("settings: %+v, %v", set, err)
				return
			}
			set.ClientID = "scribbled" // a caller's copy is its own
		})
	}
	wg.Wait()
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("%d reads for one account's settings, want 1", n)
	}

	// None at all is remembered too.
	for range 3 {
		if set, err := store.SettingsOf(ctx, st, "a2", "servicenow"); set != nil || err != nil {
			t.Fatalf("settings of an account without any: %+v, %v", set, err)
		}
	}
	if n := st.reads.Load(); n != 2 {
		t.Fatalf("%d reads, want 2 (one per account)", n)
	}

	// Saved meanwhile: the cache's context keeps what it read; a new one,
	// or a context without a cache, reads the new settings.
	put("a1", "client-2", 1)
	if set, _ := store.SettingsOf(ctx, st, "a1", "servicenow"); set.ClientID != "client-1" {
		t.Fatalf("cached settings: %+v", set)
	}
	if set, _ := store.SettingsOf(store.WithSettingsCache(t.Context()), st, "a1", "servicenow"); set.ClientID != "client-2" {
		t.Fatalf("next job's settings: %+v", set)
	}
	if set, _ := store.SettingsOf(t.Context(), st, "a1", "servicenow"); set.ClientID != "client-2" {
		t.Fatalf("uncached settings: %+v", set)
	}

	// A failed read is not kept: the next caller reads again.
	st.failing.Store(true)
	if _, err := store.SettingsOf(ctx, st, "a3", "servicenow"); !errors.Is(err, errDown) {
		t.Fatalf("failed read: %v", err)
	}
	st.failing.Store(false)
	before := st.reads.Load()
	if set, err := store.SettingsOf(ctx, st, "a3", "servicenow"); set != nil || err != nil || st.reads.Load() != before+1 {
		t.Fatalf("after a failed read: %+v, %v, %d reads", set, err, st.reads.Load()-before)
	}
}
