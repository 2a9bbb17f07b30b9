package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
)

// assertCounts checks a vendor's counters through Snapshot.
func assertCounts(t *testing.T, s store.Store, account, vendor string, want connection.Counts) {
	t.Helper()
	snaps, err := s.Snapshot(t.Context(), account, "", []string{vendor})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if got := snaps[vendor].Counts; got != want {
		t.Fatalf("counts of %s/%s: got %+v, want %+v", account, vendor, got, want)
	}
}

func testSnapshot(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := fullConn(connection.AppKey(acctA, sn), t0)
	mine := fullConn(connection.UserKey(acctA, sn, "u1"), t0)
	settings := connection.Settings{Account: acctA, Vendor: sn, InstanceURL: "https://acme.service-now.com",
		ClientID: "client", ClientSecretName: "secret/name", RefreshTokenLifespanDays: 100, UpdatedAt: t0, UpdatedBy: "u0"}
	mustApply(t, s,
		store.CreateConnection{Conn: app},
		store.CreateConnection{Conn: mine},
		store.CreateConnection{Conn: conn(connection.UserKey(acctA, sn, "u2"), t0)},
		store.CreateConnection{Conn: conn(connection.UserKey(acctA, cf, "u2"), t0)},
		store.PutSettings{Settings: settings},
		store.AdjustCounts{Account: acctA, Vendor: sn, Total: 2, Connected: 1},
		store.AdjustCounts{Account: acctA, Vendor: cf, Total: 1, Connected: 1},
	)
	// Another account with the same vendors and user ids.
	mustApply(t, s,
		store.CreateConnection{Conn: conn(connection.AppKey(acctB, cf), t0)},
		store.CreateConnection{Conn: conn(connection.UserKey(acctB, cf, "u1"), t0)},
		store.PutSettings{Settings: connection.Settings{Account: acctB, Vendor: cf, SiteURL: "https://b.atlassian.net"}},
		store.AdjustCounts{Account: acctB, Vendor: cf, Total: 5, Connected: 5},
	)

	got, err := s.Snapshot(ctx, acctA, "u1", []string{sn, cf, "jira", sn})
	if err != nil {
		t.Fatal(err)
	}
	app.Version, mine.Version, settings.Version = 1, 1, 1
	same(t, "snapshot", got, map[string]connection.VendorSnapshot{
		sn:     {App: &app, User: &mine, Settings: &settings, Counts: connection.Counts{Total: 2, Connected: 1}},
		cf:     {Counts: connection.Counts{Total: 1, Connected: 1}},
		"jira": {},
	})

	got, err = s.Snapshot(ctx, acctA, "", []string{sn})
	if err != nil {
		t.Fatal(err)
	}
	if g := got[sn]; g.User != nil || g.App == nil || g.Settings == nil {
		t.Fatalf("snapshot without a user: %+v", g)
	}
	got, err = s.Snapshot(ctx, acctA, "u1", nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("snapshot of no vendors: %v, %v", got, err)
	}
}

func testSnapshotManyVendors(t *testing.T, s store.Store) {
	// 40 vendors: 160 keys, more than one batch.
	var vendors []string
	var ops []store.Op
	for i := range 40 {
		v := fmt.Sprintf("v%02d", i)
		vendors = append(vendors, v)
		ops = append(ops,
			store.CreateConnection{Conn: conn(connection.UserKey(acctA, v, "u1"), time.Time{})},
			store.AdjustCounts{Account: acctA, Vendor: v, Total: i, Connected: 1})
	}
	mustApply(t, s, ops...)
	got, err := s.Snapshot(t.Context(), acctA, "u1", vendors)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(vendors) {
		t.Fatalf("%d vendors in snapshot, want %d", len(got), len(vendors))
	}
	for i, v := range vendors {
		g := got[v]
		if g.User == nil || g.User.Vendor != v || g.App != nil || g.Counts != (connection.Counts{Total: i, Connected: 1}) {
			t.Fatalf("vendor %s: %+v", v, g)
		}
	}
}

func testAccountIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := connection.AppKey(acctA, sn)
	user := connection.UserKey(acctA, sn, "u1")
	create(t, s, conn(app, t0), conn(user, t0))
	mustApply(t, s,
		store.PutSettings{Settings: connection.Settings{Account: acctA, Vendor: sn, ClientID: "a"}},
		store.AdjustCounts{Account: acctA, Vendor: sn, Total: 1, Connected: 1})
	if _, _, err := s.CreateNotice(ctx, notice(acctA, "u1", "n1", t0)); err != nil {
		t.Fatal(err)
	}

	otherApp := connection.AppKey(acctB, sn)
	otherUser := connection.UserKey(acctB, sn, "u1")
	for _, k := range []connection.Key{otherApp, otherUser} {
		_, err := s.GetConnection(ctx, k)
		wantErr(t, "get "+k.String(), err, store.ErrNotFound)
		_, err = s.AcquireLease(ctx, k, "w", t0, t0.Add(time.Minute))
		wantErr(t, "lease "+k.String(), err, store.ErrNotFound)
		c := conn(k, t0)
		c.Version = 1
		wantErr(t, "update "+k.String(), s.Apply(ctx, store.UpdateConnection{Conn: c}), store.ErrConflict)
		wantErr(t, "delete "+k.String(), s.Apply(ctx, store.DeleteConnection{Key: k, Version: 1}), store.ErrConflict)
	}
	_, err := s.GetSettings(ctx, acctB, sn)
	wantErr(t, "settings", err, store.ErrNotFound)
	wantErr(t, "put settings at version 1", s.Apply(ctx, store.PutSettings{
		Settings: connection.Settings{Account: acctB, Vendor: sn, Version: 1}}), store.ErrConflict)
	snaps, err := s.Snapshot(ctx, acctB, "u1", []string{sn})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "snapshot of the other account", snaps, map[string]connection.VendorSnapshot{sn: {}})
	cs, _, err := s.ListUserConnections(ctx, acctB, sn, "", 10)
	if err != nil || len(cs) != 0 {
		t.Fatalf("list of the other account: %v, %v", ids(cs), err)
	}
	ns, err := s.ListNotices(ctx, acctB, "u1")
	if err != nil || len(ns) != 0 {
		t.Fatalf("notices of the other account: %+v, %v", ns, err)
	}
	_, err = s.GetNotice(ctx, acctB, "u1", "n1")
	wantErr(t, "get notice", err, store.ErrNotFound)
	wantErr(t, "dismiss notice", s.DismissNotice(ctx, acctB, "u1", "n1"), store.ErrNotFound)
	wantErr(t, "claim notice", s.ClaimNotice(ctx, acctB, "u1", "n1", "w", t0, t0.Add(time.Minute)), store.ErrNotFound)

	// Account A is untouched.
	mustGet(t, s, app)
	assertCounts(t, s, acctA, sn, connection.Counts{Total: 1, Connected: 1})
	if n, err := s.GetNotice(ctx, acctA, "u1", "n1"); err != nil || n.Dismissed || n.ClaimOwner != "" {
		t.Fatalf("notice of account A: %+v, %v", n, err)
	}
}
