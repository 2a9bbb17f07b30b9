package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
)

// dueAll reads every page of a shard's due connections.
func dueAll(t *testing.T, s store.Store, shard int, now time.Time, limit int) (keys []string, sizes []int) {
	t.Helper()
	token := ""
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatal("pages never end")
		}
		cs, next, err := s.Due(t.Context(), shard, now, token, limit)
		if err != nil {
			t.Fatalf("due page %d: %v", page, err)
		}
		keys, sizes = append(keys, ids(cs)...), append(sizes, len(cs))
		if next == "" {
			return keys, sizes
		}
		token = next
	}
}

func testDue(t *testing.T, s store.Store) {
	const shard = 1
	a := userKeysInShard("a1", sn, shard, 4)
	b := userKeysInShard("a2", cf, shard, 1)
	other := userKeysInShard("a1", sn, (shard+1)%store.DueShards, 1)
	create(t, s,
		conn(a[0], t0.Add(-time.Hour)),
		conn(b[0], t0.Add(-time.Hour)), // same time as a[0]: account a1 first
		conn(a[1], t0.Add(-2*time.Hour)),
		conn(a[2], t0),                       // due at exactly now
		conn(a[3], t0.Add(time.Nanosecond)),  // not yet
		conn(other[0], t0.Add(-3*time.Hour)), // another shard
		conn(connection.UserKey("a1", sn, "never"), time.Time{}),
	)
	got, _ := dueAll(t, s, shard, t0, 10)
	same(t, "due, oldest first", got, []string{a[1].String(), a[0].String(), b[0].String(), a[2].String()})

	got, _ = dueAll(t, s, shard, t0.Add(-90*time.Minute), 10)
	same(t, "due earlier", got, []string{a[1].String()})
	got, _ = dueAll(t, s, (shard+1)%store.DueShards, t0, 10)
	same(t, "other shard", got, []string{other[0].String()})

	cs, _, err := s.Due(t.Context(), shard, t0, "", 1)
	if err != nil || len(cs) != 1 {
		t.Fatalf("due: %v, %v", ids(cs), err)
	}
	// The key is what Due promises (the expiry index holds no more).
	same(t, "due connection", cs[0].Key, a[1])
}

func testDuePages(t *testing.T, s store.Store) {
	const shard = 2
	keys := userKeysInShard(acctA, sn, shard, 5)
	var want []string
	for i := range keys {
		k := keys[len(keys)-1-i] // created out of order
		create(t, s, conn(k, t0.Add(-time.Duration(len(keys)-i)*time.Minute)))
		want = append(want, k.String())
	}
	got, sizes := dueAll(t, s, shard, t0, 2)
	same(t, "page sizes", sizes, []int{2, 2, 1})
	same(t, "pages in order", got, want)
	_, sizes = dueAll(t, s, shard, t0, 5)
	same(t, "one full page", sizes, []int{5})
	_, _, err := s.Due(t.Context(), shard, t0, "garbage!", 2)
	wantErr(t, "garbage token", err, nil)
}

func testDueFollowsUpdates(t *testing.T, s store.Store) {
	const shard = 3
	k := userKeysInShard(acctA, sn, shard, 3)
	cs := create(t, s, conn(k[0], t0.Add(-time.Hour)), conn(k[1], t0.Add(-time.Hour)), conn(k[2], t0.Add(-time.Hour)))

	never := cs[0]
	never.NextCheckAt = time.Time{}
	later := cs[1]
	later.NextCheckAt = t0.Add(time.Hour)
	mustApply(t, s,
		store.UpdateConnection{Conn: never},
		store.UpdateConnection{Conn: later},
		store.DeleteConnection{Key: k[2], Version: 1},
	)
	got, _ := dueAll(t, s, shard, t0, 10)
	same(t, "due after updates", got, []string(nil))
	got, _ = dueAll(t, s, shard, t0.Add(time.Hour), 10)
	same(t, "due an hour later", got, []string{k[1].String()})

	never.Version = 2
	never.NextCheckAt = t0.Add(-time.Minute)
	mustApply(t, s, store.UpdateConnection{Conn: never})
	got, _ = dueAll(t, s, shard, t0, 10)
	same(t, "back in the index", got, []string{k[0].String()})
}

func testLease(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := connection.AppKey(acctA, sn)
	_, err := s.AcquireLease(ctx, k, "w1", t0, t0.Add(time.Minute))
	wantErr(t, "lease of a missing connection", err, store.ErrNotFound)
	if err := s.ReleaseLease(ctx, k, "w1"); err != nil {
		t.Fatalf("release on a missing connection: %v", err)
	}
	c := conn(k, t0)
	c.Generation = 5
	stored := create(t, s, c)[0]

	got, err := s.AcquireLease(ctx, k, "w1", t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	want := stored
	want.LeaseOwner, want.LeaseUntil, want.Version = "w1", t0.Add(time.Minute), 2
	same(t, "leased connection", got, want)
	same(t, "stored leased connection", mustGet(t, s, k), want)

	_, err = s.AcquireLease(ctx, k, "w2", t0.Add(30*time.Second), t0.Add(2*time.Minute))
	wantErr(t, "acquire while held", err, store.ErrConflict)
	same(t, "after refused acquire", mustGet(t, s, k), want)

	if got, err = s.AcquireLease(ctx, k, "w1", t0.Add(30*time.Second), t0.Add(2*time.Minute)); err != nil || got.Version != 3 {
		t.Fatalf("owner renews: version %d, %v", got.Version, err)
	}
	got, err = s.AcquireLease(ctx, k, "w2", t0.Add(2*time.Minute), t0.Add(3*time.Minute))
	if err != nil || got.LeaseOwner != "w2" || got.Version != 4 {
		t.Fatalf("take over a lapsed lease: %+v, %v", got, err)
	}

	if err := s.ReleaseLease(ctx, k, "w1"); err != nil {
		t.Fatalf("release by a former owner: %v", err)
	}
	same(t, "after release by a former owner", mustGet(t, s, k), got)

	if err := s.ReleaseLease(ctx, k, "w2"); err != nil {
		t.Fatalf("release: %v", err)
	}
	want = stored
	want.Version = 5
	same(t, "released", mustGet(t, s, k), want)
	if err := s.ReleaseLease(ctx, k, "w2"); err != nil {
		t.Fatalf("release again: %v", err)
	}
	same(t, "released twice", mustGet(t, s, k), want)

	wantErr(t, "update from before the lease", s.Apply(ctx, store.UpdateConnection{Conn: stored}), store.ErrConflict)
	mustApply(t, s, store.UpdateConnection{Conn: want})
}

func testLeaseConcurrent(t *testing.T, s store.Store) {
	k := connection.UserKey(acctA, sn, "u1")
	create(t, s, conn(k, t0))
	owners := []string{"w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7"}
	errs := make([]error, len(owners))
	var wg sync.WaitGroup
	for i, o := range owners {
		wg.Go(func() { _, errs[i] = s.AcquireLease(t.Context(), k, o, t0, t0.Add(time.Minute)) })
	}
	wg.Wait()
	winners := 0
	for _, err := range errs {
		if err == nil {
			winners++
		} else {
			wantErr(t, "losing acquire", err, store.ErrConflict)
		}
	}
	if c := mustGet(t, s, k); winners != 1 || c.Version != 2 {
		t.Fatalf("%d owners took the lease, version %d; want exactly one", winners, c.Version)
	}
}
