package memstore_test

import (
	"maps"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
)

// TestDump: equal contents dump equally; every kind of item shows, and a
// change of one field of one item changes the dump.
func TestDump(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	fill := func() *memstore.Store {
		s := memstore.New()
		k := connection.UserKey("a1", "servicenow", "u1")
		ctx := t.Context()
		err := s.Apply(ctx,
			store.CreateConnection{Conn: connection.Connection{Key: connection.AppKey("a1", "servicenow"), ID: "c1", CreatedAt: at}},
			store.PutSettings{Settings: connection.Settings{Account: "a1", Vendor: "servicenow", ClientID: "x"}},
			store.AdjustCounts{Account: "a1", Vendor: "servicenow", Total: 1})
		if err == nil {
			err = s.Apply(ctx, store.CreateConnection{Conn: connection.Connection{Key: k, ID: "c2", CreatedAt: at}})
		}
		if err == nil {
			_, _, err = s.CreateNotice(ctx, connection.Notice{Account: "a1", UserID: "u1", ID: "n1", CreatedAt: at})
		}
		if err == nil {
			err = s.PutState(ctx, connection.AuthState{Nonce: "n", Account: "a1", ExpiresAt: at})
		}
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if d := memstore.New().Dump(); len(d) != 0 {
		t.Fatalf("empty store dumps %v", d)
	}
	a, b := fill(), fill()
	if !maps.Equal(a.Dump(), b.Dump()) {
		t.Fatalf("equal stores dump differently:\n%v\n%v", a.Dump(), b.Dump())
	}
	if n := len(a.Dump()); n != 6 {
		t.Fatalf("dump has %d items, want 6 (two connections, settings, counts, notice, state): %v", n, a.Dump())
	}
	before := a.Dump()
	if err := a.DismissNotice(t.Context(), "a1", "u1", "n1"); err != nil {
		t.Fatal(err)
	}
	after := a.Dump()
	changed := 0
	for k, v := range before {
		if after[k] != v {
			changed++
		}
	}
	if changed != 1 || len(after) != len(before) {
		t.Fatalf("dismissing a notice changed %d items:\n%v\n%v", changed, before, after)
	}
}
