package memstore_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
)

var t0 = time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)

func conn() connection.Connection {
	return connection.Connection{Key: connection.AppKey("a1", "servicenow"), ID: "c1", SecretName: "s", SecretVersion: "v1", CreatedAt: t0, UpdatedAt: t0}
}

func audit(action connection.AuditAction, n int) connection.AuditEntry {
	e := connection.NewAudit(conn(), action, connection.UserActor("u1"), t0, 0, map[string]string{"n": strconv.Itoa(n)})
	return e
}

// feed records what the commit feed got.
type feed struct {
	mu    sync.Mutex
	calls [][]connection.AuditEntry
}

func (f *feed) add(_ context.Context, es []connection.AuditEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, es)
}

func (f *feed) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		for _, e := range c {
			out = append(out, e.ID)
		}
	}
	return out
}

// TestCommitFeed: the feed gets exactly the audit entries a commit added,
// in the order of the ops; nothing for a refused Apply, for an Apply
// without entries, or for an entry written again under its id.
func TestCommitFeed(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	f := &feed{}
	s.OnCommit(f.add)
	e1, e2 := audit(connection.AuditConnected, 1), audit(connection.AuditNoticeSent, 2)
	if err := s.Apply(ctx, store.CreateConnection{Conn: conn()}, store.AppendAudit{Entry: e1}, store.AppendAudit{Entry: e2}); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 || !slices.Equal(f.ids(), []string{e1.ID, e2.ID}) || f.calls[0][0].Details["n"] != "1" {
		t.Fatalf("feed %+v", f.calls)
	}
	// Refused: the connection exists.
	if err := s.Apply(ctx, store.CreateConnection{Conn: conn()}, store.AppendAudit{Entry: audit(connection.AuditConnected, 3)}); err == nil {
		t.Fatal("a second create committed")
	}
	// No entry.
	if err := s.Apply(ctx, store.AdjustCounts{Account: "a1", Vendor: "servicenow", Total: 1}); err != nil {
		t.Fatal(err)
	}
	// The same entry again (a retried write).
	if err := s.Apply(ctx, store.AdjustCounts{Account: "a1", Vendor: "servicenow", Total: -1}, store.AppendAudit{Entry: e1}); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 {
		t.Fatalf("feed %+v", f.calls)
	}
	// Removed: no more calls.
	s.OnCommit(nil)
	if err := s.Apply(ctx, store.AppendAudit{Entry: audit(connection.AuditRemoved, 4)}); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 {
		t.Fatalf("feed %+v", f.calls)
	}
}

// TestCommitFeedInCommitOrder: racing updates of one connection (each
// with an entry naming the version it wrote) reach the feed in the order
// they committed, and only those that did; the feed may read the store,
// and its context outlives a canceled caller.
func TestCommitFeedInCommitOrder(t *testing.T) {
	s := memstore.New()
	if err := s.Apply(context.Background(), store.CreateConnection{Conn: conn()}); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		versions []int64
	)
	s.OnCommit(func(ctx context.Context, es []connection.AuditEntry) {
		if ctx.Err() != nil {
			t.Error("the feed's context is done")
		}
		c, err := s.GetConnection(ctx, conn().Key) // reading is allowed
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, e := range es {
			n, _ := strconv.ParseInt(e.Details["n"], 10, 64)
			versions = append(versions, n)
			if c.Version < n {
				t.Errorf("the feed saw version %d before it was stored (%d)", n, c.Version)
			}
		}
	})
	var wg sync.WaitGroup
	var committed sync.Map
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				ctx, cancel := context.WithCancel(context.Background())
				c, err := s.GetConnection(ctx, conn().Key)
				if err != nil {
					t.Error(err)
					cancel()
					return
				}
				e := audit(connection.AuditReconnected, int(c.Version+1))
				e.Details["worker"] = fmt.Sprint(w)
				err = s.Apply(ctx, store.UpdateConnection{Conn: c}, store.AppendAudit{Entry: e})
				cancel()
				if err == nil {
					committed.Store(c.Version+1, true)
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	n := 0
	committed.Range(func(any, any) bool { n++; return true })
	if len(versions) != n || n == 0 {
		t.Fatalf("the feed got %d entries, %d updates committed", len(versions), n)
	}
	for i, v := range versions {
		if v != int64(i+2) {
			t.Fatalf("entry %d names version %d: not in commit order (%v)", i, v, versions)
		}
	}
}
