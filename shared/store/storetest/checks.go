package storetest

import (
	"testing"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
)

// testApplyChecks: CheckConnection and CheckNoUsers gate an Apply without
// writing anything — a user connection only under an existing app
// connection, an app connection removed only while it has no users.
func testApplyChecks(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := connection.AppKey(acctA, sn)
	user := conn(connection.UserKey(acctA, sn, "u1"), t0)
	addUser := []store.Op{
		store.CreateConnection{Conn: user},
		store.AdjustCounts{Account: acctA, Vendor: sn, Total: 1, Connected: 1},
		store.CheckConnection{Key: app},
	}
	wantErr(t, "user connection without an app connection", s.Apply(ctx, addUser...), store.ErrConflict)
	_, err := s.GetConnection(ctx, user.Key)
	wantErr(t, "the refused user connection", err, store.ErrNotFound)
	assertCounts(t, s, acctA, sn, connection.Counts{})
	// A check alone, failing and passing.
	wantErr(t, "a check alone", s.Apply(ctx, store.CheckConnection{Key: app}), store.ErrConflict)
	created := create(t, s, conn(app, t0))[0]
	mustApply(t, s, store.CheckConnection{Key: app})
	same(t, "a check writes nothing", mustGet(t, s, app), created)

	mustApply(t, s, addUser...)
	removeApp := []store.Op{
		store.DeleteConnection{Key: app, Version: created.Version},
		store.CheckNoUsers{Account: acctA, Vendor: sn},
	}
	wantErr(t, "app removal while a user is connected", s.Apply(ctx, removeApp...), store.ErrConflict)
	same(t, "the app connection stays", mustGet(t, s, app), created)
	// Another vendor's or account's users do not count.
	mustApply(t, s, store.CheckNoUsers{Account: acctB, Vendor: sn}, store.CheckNoUsers{Account: acctA, Vendor: cf})

	u := mustGet(t, s, user.Key)
	mustApply(t, s, store.DeleteConnection{Key: u.Key, Version: u.Version},
		store.AdjustCounts{Account: acctA, Vendor: sn, Total: -1, Connected: -1})
	mustApply(t, s, removeApp...)
	_, err = s.GetConnection(ctx, app)
	wantErr(t, "the removed app connection", err, store.ErrNotFound)
}
