package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
)

func testConnectionRoundTrip(t *testing.T, s store.Store) {
	app := fullConn(connection.AppKey(acctA, sn), t0)
	user := fullConn(connection.UserKey(acctA, sn, "u1"), t0.Add(time.Nanosecond))
	user.Expired, user.ExpiredAt, user.ExpiredReason = false, time.Time{}, ""
	mustApply(t, s, store.CreateConnection{Conn: app}, store.CreateConnection{Conn: user})
	for _, want := range []connection.Connection{app, user} {
		want.Version = 1
		same(t, "stored "+want.Key.String(), mustGet(t, s, want.Key), want)
	}
	_, err := s.GetConnection(t.Context(), connection.UserKey(acctA, sn, "u2"))
	wantErr(t, "get missing", err, store.ErrNotFound)
}

func testConnectionBadKey(t *testing.T, s store.Store) {
	bad := connection.Key{Account: acctA, Vendor: sn, Level: connection.LevelUser} // no user id
	wantErr(t, "create with a bad key", s.Apply(t.Context(), store.CreateConnection{Conn: conn(bad, time.Time{})}), nil)
	_, err := s.GetConnection(t.Context(), connection.Key{Account: acctA, Vendor: sn, Level: "team"})
	wantErr(t, "get with a bad level", err, nil)
}

func testCreateTwice(t *testing.T, s store.Store) {
	k := connection.AppKey(acctA, sn)
	first := conn(k, time.Time{})
	first.Instance = "https://first.service-now.com"
	create(t, s, first)
	second := conn(k, time.Time{})
	second.Instance = "https://second.service-now.com"
	wantErr(t, "second create", s.Apply(t.Context(), store.CreateConnection{Conn: second}), store.ErrConflict)
	if got := mustGet(t, s, k); got.Instance != first.Instance || got.Version != 1 {
		t.Fatalf("after refused create: instance %q version %d", got.Instance, got.Version)
	}
}

func testUpdateVersions(t *testing.T, s store.Store) {
	k := connection.UserKey(acctA, sn, "u1")
	c := create(t, s, fullConn(k, t0))[0]

	c.Generation, c.SecretVersion = 4, "ver-2"
	mustApply(t, s, store.UpdateConnection{Conn: c})
	v2 := c
	v2.Version = 2
	same(t, "after update", mustGet(t, s, k), v2)

	stale := c // still at version 1
	stale.Generation = 99
	wantErr(t, "stale update", s.Apply(t.Context(), store.UpdateConnection{Conn: stale}), store.ErrConflict)
	same(t, "after stale update", mustGet(t, s, k), v2)

	v2.UpdatedAt = t0.Add(time.Hour)
	mustApply(t, s, store.UpdateConnection{Conn: v2})
	if got := mustGet(t, s, k); got.Version != 3 || !got.UpdatedAt.Equal(v2.UpdatedAt) {
		t.Fatalf("second update: version %d updatedAt %v", got.Version, got.UpdatedAt)
	}

	missing := conn(connection.UserKey(acctA, sn, "nobody"), time.Time{})
	missing.Version = 1
	wantErr(t, "update missing", s.Apply(t.Context(), store.UpdateConnection{Conn: missing}), store.ErrConflict)
	_, err := s.GetConnection(t.Context(), missing.Key)
	wantErr(t, "update missing must not create", err, store.ErrNotFound)
}

func testDeleteConnection(t *testing.T, s store.Store) {
	k := connection.AppKey(acctA, sn)
	create(t, s, conn(k, t0))
	wantErr(t, "stale delete", s.Apply(t.Context(), store.DeleteConnection{Key: k, Version: 2}), store.ErrConflict)
	mustGet(t, s, k)
	mustApply(t, s, store.DeleteConnection{Key: k, Version: 1})
	_, err := s.GetConnection(t.Context(), k)
	wantErr(t, "get deleted", err, store.ErrNotFound)
	wantErr(t, "delete again", s.Apply(t.Context(), store.DeleteConnection{Key: k, Version: 1}), store.ErrConflict)
}

func testApplyAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	b := create(t, s, conn(connection.UserKey(acctA, sn, "b"), t0))[0]
	mustApply(t, s, store.AdjustCounts{Account: acctA, Vendor: sn, Total: 2, Connected: 1})

	a := conn(connection.UserKey(acctA, sn, "a"), t0)
	staleB := b
	staleB.Version = 5
	staleB.Generation = 9
	settings := connection.Settings{Account: acctA, Vendor: sn, ClientID: "c"}
	err := s.Apply(ctx,
		store.CreateConnection{Conn: a},
		store.AdjustCounts{Account: acctA, Vendor: sn, Total: 1, Connected: 1},
		store.UpdateConnection{Conn: staleB}, // fails
		store.PutSettings{Settings: settings},
	)
	wantErr(t, "apply with a failing op", err, store.ErrConflict)
	_, err = s.GetConnection(ctx, a.Key)
	wantErr(t, "op 1 must not apply", err, store.ErrNotFound)
	_, err = s.GetSettings(ctx, acctA, sn)
	wantErr(t, "op 4 must not apply", err, store.ErrNotFound)
	same(t, "unchanged b", mustGet(t, s, b.Key), b)
	assertCounts(t, s, acctA, sn, connection.Counts{Total: 2, Connected: 1})

	b.Generation = 2
	mustApply(t, s,
		store.CreateConnection{Conn: a},
		store.AdjustCounts{Account: acctA, Vendor: sn, Total: 1, Connected: 1},
		store.UpdateConnection{Conn: b},
		store.PutSettings{Settings: settings},
	)
	if got := mustGet(t, s, b.Key); got.Version != 2 || got.Generation != 2 {
		t.Fatalf("b after apply: version %d generation %d", got.Version, got.Generation)
	}
	mustGet(t, s, a.Key)
	assertCounts(t, s, acctA, sn, connection.Counts{Total: 3, Connected: 2})
	if st, err := s.GetSettings(ctx, acctA, sn); err != nil || st.Version != 1 {
		t.Fatalf("settings after apply: %+v, %v", st, err)
	}
}

func testApplyLimits(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.Apply(ctx); err != nil {
		t.Fatalf("apply of nothing: %v", err)
	}
	var ops []store.Op
	for i := range 101 {
		ops = append(ops, store.AdjustCounts{Account: acctA, Vendor: fmt.Sprintf("v%03d", i), Total: 1})
	}
	wantErr(t, "101 ops", s.Apply(ctx, ops...), nil)
	assertCounts(t, s, acctA, "v000", connection.Counts{})

	k := connection.UserKey(acctA, sn, "u1")
	c := conn(k, t0)
	wantErr(t, "two ops on one connection", s.Apply(ctx, store.CreateConnection{Conn: c}, store.UpdateConnection{Conn: c}), nil)
	_, err := s.GetConnection(ctx, k)
	wantErr(t, "refused apply must not create", err, store.ErrNotFound)
	wantErr(t, "two ops on one counter", s.Apply(ctx,
		store.AdjustCounts{Account: acctA, Vendor: sn, Total: 1},
		store.AdjustCounts{Account: acctA, Vendor: sn, Total: 1}), nil)
	assertCounts(t, s, acctA, sn, connection.Counts{})

	mustApply(t, s, ops[:100]...)
	assertCounts(t, s, acctA, "v099", connection.Counts{Total: 1})
}

func testConcurrentCounts(t *testing.T, s store.Store) {
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			d := store.AdjustCounts{Account: acctA, Vendor: sn, Total: 1, Connected: 1}
			if i%2 == 1 {
				d.Connected = -2
			}
			errs[i] = s.Apply(t.Context(), d)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("adjust %d: %v", i, err)
		}
	}
	assertCounts(t, s, acctA, sn, connection.Counts{Total: n, Connected: n/2 - n})
}

func testListPages(t *testing.T, s store.Store) {
	ctx := t.Context()
	var want []string
	for _, u := range []string{"u5", "u1", "u7", "u3", "u2", "u6", "u4"} {
		create(t, s, conn(connection.UserKey(acctA, sn, u), time.Time{}))
		want = append(want, connection.UserKey(acctA, sn, u).String())
	}
	slices.Sort(want)
	create(t, s,
		conn(connection.AppKey(acctA, sn), time.Time{}),
		conn(connection.UserKey(acctA, cf, "u1"), time.Time{}),
		conn(connection.UserKey(acctA, cf, "u2"), time.Time{}),
		conn(connection.UserKey(acctB, sn, "u8"), time.Time{}),
	)

	var got []string
	var sizes []int
	token := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("pages never end")
		}
		cs, next, err := s.ListUserConnections(ctx, acctA, sn, token, 3)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		got, sizes = append(got, ids(cs)...), append(sizes, len(cs))
		if next == "" {
			break
		}
		token = next
	}
	same(t, "page sizes", sizes, []int{3, 3, 1})
	same(t, "listed in order", got, want)

	// A last page that is exactly full has no next page.
	cs, next, err := s.ListUserConnections(ctx, acctA, cf, "", 2)
	if err != nil || len(cs) != 2 || next != "" {
		t.Fatalf("full last page: %d items, next %q, %v", len(cs), next, err)
	}
	cs, next, err = s.ListUserConnections(ctx, acctA, "jira", "", 2)
	if err != nil || len(cs) != 0 || next != "" {
		t.Fatalf("no items: %d items, next %q, %v", len(cs), next, err)
	}
}

func testListBadToken(t *testing.T, s store.Store) {
	create(t, s,
		conn(connection.UserKey(acctA, sn, "u1"), time.Time{}),
		conn(connection.UserKey(acctA, sn, "u2"), time.Time{}),
	)
	_, _, err := s.ListUserConnections(t.Context(), acctA, sn, "not a token!", 1)
	wantErr(t, "garbage token", err, nil)
}

// testForeignTokens: a page token works only in the listing that issued
// it. One of another account, vendor or shard, or of the other kind of
// listing, is refused rather than read as a position: tokens travel
// through callers, and a store must not let one step outside its query.
func testForeignTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	const shard = 2
	for _, acct := range []string{acctA, acctB} {
		for _, v := range []string{sn, cf} {
			for _, k := range userKeysInShard(acct, v, shard, 2) {
				create(t, s, conn(k, t0.Add(-time.Hour)))
			}
			for _, k := range userKeysInShard(acct, v, (shard+1)%store.DueShards, 2) {
				create(t, s, conn(k, t0.Add(-time.Hour)))
			}
		}
	}
	listToken := func(acct, v string) string {
		t.Helper()
		_, next, err := s.ListUserConnections(ctx, acct, v, "", 1)
		if err != nil || next == "" {
			t.Fatalf("first page of %s/%s: next %q, %v", acct, v, next, err)
		}
		return next
	}
	dueToken := func(shard int) string {
		t.Helper()
		_, next, err := s.Due(ctx, shard, t0, "", 1)
		if err != nil || next == "" {
			t.Fatalf("first due page of shard %d: next %q, %v", shard, next, err)
		}
		return next
	}
	// Each listing takes its own token.
	if cs, _, err := s.ListUserConnections(ctx, acctA, sn, listToken(acctA, sn), 0); err != nil || len(cs) != 3 {
		t.Fatalf("own list token: %v, %v", ids(cs), err)
	}
	if cs, _, err := s.Due(ctx, shard, t0, dueToken(shard), 0); err != nil || len(cs) != 7 {
		t.Fatalf("own due token: %v, %v", ids(cs), err)
	}
	foreign := []struct {
		what string
		list func() ([]connection.Connection, string, error)
	}{
		{"another account's list token", func() ([]connection.Connection, string, error) {
			return s.ListUserConnections(ctx, acctA, sn, listToken(acctB, sn), 0)
		}},
		{"another vendor's list token", func() ([]connection.Connection, string, error) {
			return s.ListUserConnections(ctx, acctA, sn, listToken(acctA, cf), 0)
		}},
		{"a due token on a list", func() ([]connection.Connection, string, error) {
			return s.ListUserConnections(ctx, acctA, sn, dueToken(shard), 0)
		}},
		{"another shard's due token", func() ([]connection.Connection, string, error) {
			return s.Due(ctx, shard, t0, dueToken((shard+1)%store.DueShards), 0)
		}},
		{"a list token on the index", func() ([]connection.Connection, string, error) {
			return s.Due(ctx, shard, t0, listToken(acctA, sn), 0)
		}},
	}
	for _, f := range foreign {
		cs, _, err := f.list()
		if err == nil {
			t.Errorf("%s: accepted, listed %v", f.what, ids(cs))
		}
		wantErr(t, f.what, err, nil)
	}
}
