package memstore_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/layout"
	"github.com/workplace/connections/shared/store/memstore"
)

// dueKeys are the connections FuzzDueIndex writes: few enough that the
// writes collide, in two accounts and every shard.
var dueKeys = func() []connection.Key {
	var ks []connection.Key
	for _, acct := range []string{"a1", "a2"} {
		for u := range 8 {
			ks = append(ks, connection.UserKey(acct, "servicenow", fmt.Sprintf("u%d", u)))
		}
		ks = append(ks, connection.AppKey(acct, "confluence"))
	}
	return ks
}()

// wantDue is, from the connections a model holds, what the expiry index
// must list for a shard at now: those with a next check at or before now,
// in index order (layout.Due's sort key), computed without any index.
func wantDue(model map[connection.Key]connection.Connection, shard int, now time.Time) []string {
	type e struct{ sk, key string }
	var es []e
	for k, c := range model {
		it, _ := layout.ConnItem(k)
		if _, sk, ok := layout.Due(c, it); ok && store.Shard(k) == shard && sk <= layout.DueUpper(now) {
			es = append(es, e{sk, k.String()})
		}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].sk < es[j].sk })
	out := []string{}
	for _, x := range es {
		out = append(out, x.key)
	}
	return out
}

// FuzzDueIndex: after any sequence of creates, updates of the next check
// (to another time, or out of the index), deletes, leases and releases,
// every shard's pages, at any page size, list exactly the due connections
// of the store's own contents, in index order, each with its stored
// value.
func FuzzDueIndex(f *testing.F) {
	f.Add([]byte{0, 1, 3, 0, 2, 9, 1, 1, 200, 2, 2, 0, 0, 2, 4, 3, 1, 0, 4, 1, 0}, uint8(2))
	f.Add([]byte{0, 0, 1, 0, 1, 1, 0, 2, 1, 0, 3, 1, 1, 0, 128, 1, 1, 0, 2, 3, 0}, uint8(1))
	f.Add([]byte{0, 5, 7, 1, 5, 250, 1, 5, 7, 2, 5, 0, 0, 5, 7}, uint8(0))
	f.Fuzz(func(t *testing.T, ops []byte, limit uint8) {
		ctx := t.Context()
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		s := memstore.New()
		model := map[connection.Key]connection.Connection{}
		// at is a next check around now: 0 is none, 1..255 are minutes
		// from two hours before to two hours after.
		at := func(b byte) time.Time {
			if b == 0 {
				return time.Time{}
			}
			return now.Add(time.Duration(int(b)-128) * time.Minute)
		}
		for i := 0; i+2 < len(ops) && i < 600; i += 3 {
			k := dueKeys[int(ops[i+1])%len(dueKeys)]
			cur, exists := model[k]
			switch ops[i] % 5 {
			case 0: // create
				c := connection.Connection{Key: k, ID: fmt.Sprint("id", i), CreatedAt: now, NextCheckAt: at(ops[i+2])}
				err := s.Apply(ctx, store.CreateConnection{Conn: c})
				if exists != errors.Is(err, store.ErrConflict) || (!exists && err != nil) {
					t.Fatalf("create %s (exists %v): %v", k, exists, err)
				}
				if !exists {
					got, _ := s.GetConnection(ctx, k)
					model[k] = got
				}
			case 1: // a new next check, or none
				if !exists {
					continue
				}
				cur.NextCheckAt = at(ops[i+2])
				if err := s.Apply(ctx, store.UpdateConnection{Conn: cur}); err != nil {
					t.Fatalf("update %s: %v", k, err)
				}
				model[k], _ = s.GetConnection(ctx, k)
			case 2: // delete
				if !exists {
					continue
				}
				if err := s.Apply(ctx, store.DeleteConnection{Key: k, Version: cur.Version}); err != nil {
					t.Fatalf("delete %s: %v", k, err)
				}
				delete(model, k)
			case 3: // lease (leaves the index as it is)
				c, err := s.AcquireLease(ctx, k, "w", now, now.Add(time.Minute))
				if exists != (err == nil) {
					t.Fatalf("lease %s (exists %v): %v", k, exists, err)
				}
				if exists {
					model[k] = c
				}
			case 4: // release
				if err := s.ReleaseLease(ctx, k, "w"); err != nil {
					t.Fatalf("release %s: %v", k, err)
				}
				if exists {
					model[k], _ = s.GetConnection(ctx, k)
				}
			}
		}
		lim := int(limit%6) + 1
		for shard := range store.DueShards {
			for _, when := range []time.Time{now, now.Add(-time.Hour), now.Add(3 * time.Hour)} {
				want := wantDue(model, shard, when)
				got := []string{}
				token := ""
				for pages := 0; ; pages++ {
					if pages > len(dueKeys)+1 {
						t.Fatalf("shard %d: pages never end", shard)
					}
					cs, next, err := s.Due(ctx, shard, when, token, lim)
					if err != nil {
						t.Fatalf("shard %d: %v", shard, err)
					}
					if len(cs) > lim || (next != "" && len(cs) != lim) {
						t.Fatalf("shard %d: page of %d (limit %d), next %q", shard, len(cs), lim, next)
					}
					for _, c := range cs {
						if m := model[c.Key]; m.Version != c.Version || !m.NextCheckAt.Equal(c.NextCheckAt) || m.LeaseOwner != c.LeaseOwner {
							t.Fatalf("shard %d lists %s as %+v, stored %+v", shard, c.Key, c, m)
						}
						got = append(got, c.Key.String())
					}
					if next == "" {
						break
					}
					token = next
				}
				if !slices.Equal(got, want) {
					t.Fatalf("shard %d due at %v:\n got %v\nwant %v", shard, when, got, want)
				}
			}
		}
	})
}

// TestDueAtScale: with many connections of which few are due, every page
// of the index holds only due connections, in order, and the whole listing
// is exactly the due ones, also after some of them move out of the index,
// later, or are deleted.
func TestDueAtScale(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := memstore.New()
	model := map[connection.Key]connection.Connection{}
	for u := range 20000 {
		k := connection.UserKey(fmt.Sprintf("a%d", u%50), "servicenow", fmt.Sprintf("u%d", u))
		next := now.Add(time.Duration(u%997+1) * time.Hour) // not due
		if u%100 == 7 {
			next = now.Add(-time.Duration(u%13) * time.Minute) // 1% due
		}
		if err := s.Apply(ctx, store.CreateConnection{Conn: connection.Connection{Key: k, ID: fmt.Sprint(u), NextCheckAt: next}}); err != nil {
			t.Fatal(err)
		}
		model[k], _ = s.GetConnection(ctx, k)
	}
	i := 0
	for k, c := range model {
		if !c.NextCheckAt.After(now) {
			i++
			switch i % 3 {
			case 0:
				c.NextCheckAt = now.Add(time.Hour)
				if err := s.Apply(ctx, store.UpdateConnection{Conn: c}); err != nil {
					t.Fatal(err)
				}
				model[k], _ = s.GetConnection(ctx, k)
			case 1:
				if err := s.Apply(ctx, store.DeleteConnection{Key: k, Version: c.Version}); err != nil {
					t.Fatal(err)
				}
				delete(model, k)
			}
		}
	}
	total := 0
	for shard := range store.DueShards {
		want := wantDue(model, shard, now)
		var got []string
		token := ""
		for {
			cs, next, err := s.Due(ctx, shard, now, token, 17)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				got = append(got, c.Key.String())
			}
			if next == "" {
				break
			}
			token = next
		}
		if !slices.Equal(got, want) {
			t.Fatalf("shard %d: %d listed, want %d", shard, len(got), len(want))
		}
		total += len(got)
	}
	if total == 0 || total > 200 {
		t.Fatalf("%d due in all; want some, at most the 200 made due", total)
	}
}
