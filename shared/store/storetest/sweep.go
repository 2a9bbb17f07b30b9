package storetest

import (
	"slices"
	"testing"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
)

// sweepAll pages through the sweep from token with pages of limit items
// and returns what it named: "conn:<key>" or "settings:<account>/<vendor>".
func sweepAll(t *testing.T, s store.Store, token string, limit int) []string {
	t.Helper()
	var got []string
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("sweep pages never end")
		}
		items, next, err := s.Sweep(t.Context(), token, limit)
		if err != nil {
			t.Fatalf("sweep page %d: %v", page, err)
		}
		if len(items) > limit {
			t.Fatalf("sweep page %d: %d items, at most %d asked", page, len(items), limit)
		}
		got = append(got, sweptNames(t, items)...)
		if next == "" {
			return got
		}
		token = next
	}
}

func sweptNames(t *testing.T, items []store.SweepItem) []string {
	t.Helper()
	var out []string
	for _, it := range items {
		switch {
		case it.Conn != nil && it.Settings == nil:
			out = append(out, "conn:"+it.Conn.Key.String())
		case it.Settings != nil && it.Conn == nil:
			out = append(out, "settings:"+it.Settings.Account+"/"+it.Settings.Vendor)
		default:
			t.Fatalf("swept item with %v connection and %v settings", it.Conn != nil, it.Settings != nil)
		}
		if it.After == "" {
			t.Fatal("swept item without a token to resume after it")
		}
	}
	return out
}

// testSweep: the sweep names every connection and settings item of every
// account once, and nothing else (counters, notices, states, audit
// entries, its own mark); it resumes after any item it handed out, and
// refuses a token it did not hand out.
func testSweep(t *testing.T, s store.Store) {
	ctx := t.Context()
	items, next, err := s.Sweep(ctx, "", 10)
	if err != nil || len(items) != 0 || next != "" {
		t.Fatalf("empty table: %d items, next %q, %v", len(items), next, err)
	}

	var want []string
	for _, k := range []connection.Key{
		connection.AppKey(acctA, sn), connection.UserKey(acctA, sn, "u1"), connection.UserKey(acctA, sn, "u2"),
		connection.AppKey(acctB, cf), connection.UserKey(acctB, cf, "u3"),
	} {
		c := fullConn(k, t0)
		mustApply(t, s, store.CreateConnection{Conn: c}, store.AdjustCounts{Account: k.Account, Vendor: k.Vendor + "-" + k.UserID, Total: 1})
		want = append(want, "conn:"+k.String())
	}
	mustApply(t, s,
		store.PutSettings{Settings: connection.Settings{Account: acctA, Vendor: sn, ClientID: "c", ClientSecretName: "secret/a", ClientSecretVersion: "v1"}},
		store.PutSettings{Settings: connection.Settings{Account: acctB, Vendor: "jira", ClientID: "c"}}, // no connection of its vendor
		store.AppendAudit{Entry: entry(acctA, sn, "e1", t0)},
	)
	want = append(want, "settings:"+acctA+"/"+sn, "settings:"+acctB+"/jira")
	mustCreateNotice(t, s, notice(acctA, "u1", "n1", t0))
	if err := s.PutState(ctx, state("nonce-1", t0.Add(600e9))); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSweepMark(ctx, store.SweepMark{Mode: "sealed", Cursor: "x"}); err != nil {
		t.Fatal(err)
	}

	for _, limit := range []int{1, 3, 100} {
		got := sweepAll(t, s, "", limit)
		sorted := slices.Sorted(slices.Values(got))
		same(t, "swept items", sorted, slices.Sorted(slices.Values(want)))
	}

	// The settings and connections come back as stored.
	all, _, err := s.Sweep(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range all {
		if it.Conn != nil && it.Conn.Key == connection.AppKey(acctA, sn) {
			w := fullConn(it.Conn.Key, t0)
			w.Version = 1
			same(t, "swept connection", *it.Conn, w)
		}
		if it.Settings != nil && it.Settings.Vendor == sn && (it.Settings.ClientSecretVersion != "v1" || it.Settings.Version != 1) {
			t.Fatalf("swept settings %+v", *it.Settings)
		}
	}

	// Resuming after any item sweeps exactly the items after it.
	order := sweepAll(t, s, "", 2)
	for i, it := range all {
		if rest := sweepAll(t, s, it.After, 2); !slices.Equal(rest, order[i+1:]) {
			t.Fatalf("swept after item %s: %v, want %v", order[i], rest, order[i+1:])
		}
	}

	for _, bad := range []string{"junk", bend(all[0].After, len(all[0].After)-3)} {
		if _, _, err := s.Sweep(ctx, bad, 2); err == nil {
			t.Errorf("sweep from token %q: no error", bad)
		}
	}
	// A token of another listing is refused.
	_, listNext, err := s.ListUserConnections(ctx, acctA, sn, "", 1)
	if err != nil || listNext == "" {
		t.Fatalf("list: next %q, %v", listNext, err)
	}
	if _, _, err := s.Sweep(ctx, listNext, 2); err == nil {
		t.Error("sweep from a listing's token: no error")
	}
}

// testSweepMark: the mark reads back as put; none before the first.
func testSweepMark(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetSweepMark(ctx)
	wantErr(t, "mark before the first", err, store.ErrNotFound)
	for _, m := range []store.SweepMark{
		{Mode: "sealed", Cursor: "abc", Missed: 2, Pass: 1, UpdatedAt: t0},
		{Mode: "sealed", Done: true, UpdatedAt: t0.Add(1e9)},
		{Mode: "secrets", UpdatedAt: t0.Add(2e9)},
	} {
		if err := s.PutSweepMark(ctx, m); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSweepMark(ctx)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "mark", got, m)
	}
	if err := s.PutSweepMark(ctx, store.SweepMark{}); err == nil {
		t.Error("a mark without a mode: no error")
	}
}
