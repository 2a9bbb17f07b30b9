package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
)

// Retention ends at real time (DynamoDB's TTL): entries of the suite
// expire long before or long after any run of it.
var (
	longAgo   = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// entry is an audit entry of an account and vendor at `at`.
func entry(account, vendor, id string, at time.Time) connection.AuditEntry {
	return connection.AuditEntry{
		Account: account, ID: id, At: at, Vendor: vendor, Level: connection.LevelApp,
		ConnectionID: "conn-" + vendor, Action: connection.AuditConnected, Actor: connection.UserActor("u1"),
		Details: map[string]string{"user": "Ada Admin"}, ExpiresAt: farFuture,
	}
}

func appendAudit(t *testing.T, s store.Store, es ...connection.AuditEntry) {
	t.Helper()
	ops := make([]store.Op, len(es))
	for i, e := range es {
		ops[i] = store.AppendAudit{Entry: e}
	}
	mustApply(t, s, ops...)
}

// listAudit lists one page and fails on an error.
func listAudit(t *testing.T, s store.Store, account, vendor, cursor string, limit int) ([]connection.AuditEntry, string) {
	t.Helper()
	es, next, err := s.ListAudit(t.Context(), account, vendor, cursor, limit)
	if err != nil {
		t.Fatalf("list audit of %s/%q after %q: %v", account, vendor, cursor, err)
	}
	if es == nil {
		t.Fatalf("list audit of %s/%q: nil, want a (possibly empty) slice", account, vendor)
	}
	return es, next
}

// allAudit pages through a whole listing with pages of limit, checking
// that only the last page has no cursor and none is empty but a first.
func allAudit(t *testing.T, s store.Store, account, vendor string, limit int) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for page := 0; ; page++ {
		es, next := listAudit(t, s, account, vendor, cursor, limit)
		if len(es) > limit || (page > 0 && len(es) == 0) {
			t.Fatalf("page %d of %s/%q with limit %d: %d entries", page, account, vendor, limit, len(es))
		}
		if next != "" && len(es) != limit {
			t.Fatalf("page %d of %s/%q: %d entries of %d with a next cursor", page, account, vendor, len(es), limit)
		}
		for _, e := range es {
			ids = append(ids, e.ID)
		}
		if next == "" {
			return ids
		}
		if page > 100 {
			t.Fatal("the listing does not end")
		}
		cursor = next
	}
}

// testAuditRoundTrip: an entry comes back whole, times in UTC; an empty
// account lists nothing.
func testAuditRoundTrip(t *testing.T, s store.Store) {
	es, next := listAudit(t, s, acctA, "", "", 10)
	if len(es) != 0 || next != "" {
		t.Fatalf("empty timeline: %+v, %q", es, next)
	}
	full := connection.AuditEntry{
		Account: acctA, ID: "ID-1_x", At: t0, Vendor: sn, Level: connection.LevelUser, UserID: "u7",
		ConnectionID: "conn-1", Action: connection.AuditUserChanged, Actor: connection.Actor{Type: connection.ActorBroker, ID: "arn:aws:iam::1:role/x"},
		Details:   map[string]string{"previousUser": "Ada", "previousUserEmail": "ada@acme.com", "user": "Bob", "userEmail": "bob@acme.com"},
		ExpiresAt: farFuture.Add(123456789),
	}
	bare := connection.AuditEntry{Account: acctA, ID: "id-2", At: t0.Add(-time.Hour), Vendor: cf, Level: connection.LevelApp,
		Action: connection.AuditExpiring, Actor: connection.ScanActor()}
	appendAudit(t, s, full, bare)
	es, next = listAudit(t, s, acctA, "", "", 10)
	if len(es) != 2 || next != "" {
		t.Fatalf("listed %d entries, next %q", len(es), next)
	}
	same(t, "full entry", es[0], full)
	same(t, "bare entry", es[1], bare)
	if es[0].At.Location() != time.UTC {
		t.Errorf("At in %v, want UTC", es[0].At.Location())
	}
	// The listing is a copy: changing it changes nothing stored.
	es[0].Details["user"] = "Mallory"
	es, _ = listAudit(t, s, acctA, "", "", 10)
	same(t, "entry after changing a listed copy", es[0], full)
}

// testAuditInApply: entries are written with the change they record, or
// not at all; writing one again with its id (a retry) is the same entry.
func testAuditInApply(t *testing.T, s store.Store) {
	k := connection.AppKey(acctA, sn)
	e1 := entry(acctA, sn, "e1", t0)
	mustApply(t, s, store.CreateConnection{Conn: conn(k, time.Time{})}, store.AppendAudit{Entry: e1})
	// A change that fails its condition records nothing.
	e2 := entry(acctA, sn, "e2", t0.Add(time.Second))
	err := s.Apply(t.Context(), store.CreateConnection{Conn: conn(k, time.Time{})}, store.AppendAudit{Entry: e2})
	wantErr(t, "create twice with an audit entry", err, store.ErrConflict)
	// Written again (a retried write), an entry is still one entry.
	mustApply(t, s, store.AppendAudit{Entry: e1})
	same(t, "entries after a refused change and a retry", allAudit(t, s, acctA, "", 10), []string{"e1"})

	for name, bad := range map[string]connection.AuditEntry{
		"no id":       entry(acctA, sn, "", t0),
		"id with #":   entry(acctA, sn, "a#b", t0),
		"id with /":   entry(acctA, sn, "a/b", t0),
		"id too long": entry(acctA, sn, strings.Repeat("x", 65), t0),
		"no time":     entry(acctA, sn, "e3", time.Time{}),
		"no account":  entry("", sn, "e3", t0),
		"no vendor":   entry(acctA, "", "e3", t0),
		"no action":   func() connection.AuditEntry { e := entry(acctA, sn, "e3", t0); e.Action = ""; return e }(),
	} {
		err := s.Apply(t.Context(), store.AdjustCounts{Account: acctA, Vendor: sn, Total: 1}, store.AppendAudit{Entry: bad})
		wantErr(t, "an entry with "+name, err, nil)
	}
	wantErr(t, "one entry twice in an Apply", s.Apply(t.Context(), store.AppendAudit{Entry: e2}, store.AppendAudit{Entry: e2}), nil)
	assertCounts(t, s, acctA, sn, connection.Counts{})
	same(t, "entries after refused Applies", allAudit(t, s, acctA, "", 10), []string{"e1"})
}

// testAuditOrderAndPages: newest first, entries of one time by id
// (greatest first); every page size lists each entry once.
func testAuditOrderAndPages(t *testing.T, s store.Store) {
	appendAudit(t, s,
		entry(acctA, sn, "old", t0.Add(-time.Hour)),
		entry(acctA, cf, "b", t0),
		entry(acctA, sn, "newest", t0.Add(time.Nanosecond)),
		entry(acctA, sn, "a", t0),
		entry(acctA, cf, "c", t0),
		entry(acctA, sn, "oldest", t0.Add(-48*time.Hour)),
	)
	want := []string{"newest", "c", "b", "a", "old", "oldest"}
	for limit := 1; limit <= 7; limit++ {
		same(t, fmt.Sprintf("order with pages of %d", limit), allAudit(t, s, acctA, "", limit), want)
	}
	// A default page size when none is given.
	es, next := listAudit(t, s, acctA, "", "", 0)
	if len(es) != len(want) || next != "" {
		t.Fatalf("default page: %d entries, next %q", len(es), next)
	}
	// Entries written after a page was read show up on later pages only
	// if they sort after it.
	first, next := listAudit(t, s, acctA, "", "", 2)
	appendAudit(t, s, entry(acctA, sn, "later", t0.Add(time.Hour)), entry(acctA, sn, "earlier", t0.Add(-72*time.Hour)))
	var rest []string
	for cursor := next; cursor != ""; {
		var es []connection.AuditEntry
		es, cursor = listAudit(t, s, acctA, "", cursor, 2)
		for _, e := range es {
			rest = append(rest, e.ID)
		}
	}
	same(t, "first page", []string{first[0].ID, first[1].ID}, []string{"newest", "c"})
	same(t, "the pages after it", rest, []string{"b", "a", "old", "oldest", "earlier"})
}

// testAuditVendorFilter: a vendor's entries only, and full pages even when
// many entries of another vendor lie between them.
func testAuditVendorFilter(t *testing.T, s store.Store) {
	var ops []store.Op
	var wantSN []string
	for i := range 130 {
		v := cf
		if i%60 == 0 || i == 129 {
			v = sn
			wantSN = append([]string{fmt.Sprintf("e%03d", i)}, wantSN...)
		}
		ops = append(ops, store.AppendAudit{Entry: entry(acctA, v, fmt.Sprintf("e%03d", i), t0.Add(time.Duration(i)*time.Minute))})
		if len(ops) == 50 {
			mustApply(t, s, ops...)
			ops = nil
		}
	}
	mustApply(t, s, ops...)
	if len(wantSN) != 4 {
		t.Fatalf("test setup: %v", wantSN)
	}
	for _, limit := range []int{1, 2, 3, 4, 5} {
		same(t, fmt.Sprintf("ServiceNow's entries in pages of %d", limit), allAudit(t, s, acctA, sn, limit), wantSN)
	}
	es, next := listAudit(t, s, acctA, sn, "", 2)
	if len(es) != 2 || next == "" || es[0].Vendor != sn || es[1].Vendor != sn {
		t.Fatalf("first filtered page: %d entries, next %q", len(es), next)
	}
	if got := allAudit(t, s, acctA, cf, 50); len(got) != 126 {
		t.Fatalf("Confluence's entries: %d, want 126", len(got))
	}
	if got := allAudit(t, s, acctA, "", 100); len(got) != 130 {
		t.Fatalf("all entries: %d, want 130", len(got))
	}
	es, next = listAudit(t, s, acctA, "jira", "", 10)
	if len(es) != 0 || next != "" {
		t.Fatalf("a vendor without entries: %d, %q", len(es), next)
	}
}

// testAuditAccountIsolation: an account sees its own timeline only.
func testAuditAccountIsolation(t *testing.T, s store.Store) {
	appendAudit(t, s, entry(acctA, sn, "a1", t0), entry(acctA, sn, "a2", t0.Add(time.Second)),
		entry(acctB, sn, "b1", t0), entry(acctA+"x", sn, "ax", t0))
	same(t, "account A", allAudit(t, s, acctA, "", 10), []string{"a2", "a1"})
	same(t, "account B", allAudit(t, s, acctB, "", 10), []string{"b1"})
	_, next := listAudit(t, s, acctA, "", "", 1)
	_, _, err := s.ListAudit(t.Context(), acctB, "", next, 1)
	wantErr(t, "account A's cursor in account B", err, store.ErrBadCursor)
}

// testAuditBadCursor: only a cursor this listing handed out is taken.
func testAuditBadCursor(t *testing.T, s store.Store) {
	appendAudit(t, s, entry(acctA, sn, "a1", t0), entry(acctA, sn, "a2", t0.Add(time.Second)), entry(acctA, sn, "a3", t0.Add(2*time.Second)))
	_, next := listAudit(t, s, acctA, "", "", 1)
	_, vnext := listAudit(t, s, acctA, sn, "", 1)
	if next == "" || vnext == "" {
		t.Fatal("no cursor")
	}
	bad := map[string]struct{ vendor, cursor string }{
		"garbage":                      {"", "not a cursor!"},
		"base64 of nothing useful":     {"", "e30"},
		"truncated":                    {"", next[:len(next)-3]},
		"padded":                       {"", next + "AA"},
		"of the filtered listing":      {"", vnext},
		"of the unfiltered listing":    {sn, next},
		"of another vendor's listing":  {cf, vnext},
		"another page token's form":    {"", "eyJQSyI6IkFDQ09VTlQjYWNjdC1hIiwiU0siOiJBVURJVCMifQ"},
		"with the last character bent": {"", bend(next, len(next)-1)},
	}
	for i := 0; i < len(next); i += 7 {
		bad[fmt.Sprintf("with character %d changed", i)] = struct{ vendor, cursor string }{"", bend(next, i)}
	}
	for name, c := range bad {
		if c.cursor == next && c.vendor == "" {
			continue // the change happened to give the same string back
		}
		_, _, err := s.ListAudit(t.Context(), acctA, c.vendor, c.cursor, 1)
		wantErr(t, "a cursor "+name, err, store.ErrBadCursor)
	}
	// The good ones still work.
	es, _ := listAudit(t, s, acctA, "", next, 5)
	same(t, "after the cursor", []string{es[0].ID, es[1].ID}, []string{"a2", "a1"})
}

// bend changes the character at i of a base64url string to another one of
// the alphabet.
func bend(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// testAuditRetention: an entry past its ExpiresAt is not listed, whether
// or not the store has deleted it yet; an entry without one stays.
func testAuditRetention(t *testing.T, s store.Store) {
	gone := entry(acctA, sn, "gone", t0)
	gone.ExpiresAt = longAgo
	forever := entry(acctA, sn, "forever", t0.Add(-time.Hour))
	forever.ExpiresAt = time.Time{}
	appendAudit(t, s, gone, entry(acctA, sn, "kept", t0.Add(-time.Minute)), forever)
	same(t, "listed", allAudit(t, s, acctA, "", 10), []string{"kept", "forever"})
	same(t, "listed in pages of one", allAudit(t, s, acctA, "", 1), []string{"kept", "forever"})
	same(t, "listed by vendor", allAudit(t, s, acctA, sn, 1), []string{"kept", "forever"})
}

// testAuditWithNoticeOps: a notice created, or marked sent, in one
// transaction with its audit entry — both or neither.
func testAuditWithNoticeOps(t *testing.T, s store.Store) {
	ctx := t.Context()
	n := notice(acctA, "u1", "n1", t0)
	mustApply(t, s, store.AddNotice{Notice: n}, store.AppendAudit{Entry: entry(acctA, sn, "expiring", t0)})
	got, err := s.GetNotice(ctx, acctA, "u1", "n1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "added notice", got, n)
	dup := n
	dup.Message = "another"
	err = s.Apply(ctx, store.AddNotice{Notice: dup}, store.AppendAudit{Entry: entry(acctA, sn, "expiring-again", t0)})
	wantErr(t, "add an existing notice", err, store.ErrConflict)
	if got, _ := s.GetNotice(ctx, acctA, "u1", "n1"); got.Message != n.Message {
		t.Fatalf("the existing notice changed: %+v", got)
	}

	sent := func(owner, id string) []store.Op {
		return []store.Op{store.NoticeSent{Account: acctA, UserID: "u1", ID: "n1", Owner: owner, At: t0.Add(time.Minute)},
			store.AppendAudit{Entry: entry(acctA, sn, id, t0.Add(time.Minute))}}
	}
	wantErr(t, "mark an unclaimed notice sent", s.Apply(ctx, sent("w1", "sent-unclaimed")...), store.ErrConflict)
	if err := s.ClaimNotice(ctx, acctA, "u1", "n1", "w1", t0, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "mark sent by another owner", s.Apply(ctx, sent("w2", "sent-by-other")...), store.ErrConflict)
	wantErr(t, "mark a missing notice sent", s.Apply(ctx, store.NoticeSent{Account: acctA, UserID: "u2", ID: "n1", Owner: "w1", At: t0},
		store.AppendAudit{Entry: entry(acctA, sn, "sent-missing", t0)}), store.ErrConflict)
	wantErr(t, "mark sent without a time", s.Apply(ctx, store.NoticeSent{Account: acctA, UserID: "u1", ID: "n1", Owner: "w1"}), nil)
	mustApply(t, s, sent("w1", "sent")...)
	if got, _ := s.GetNotice(ctx, acctA, "u1", "n1"); !got.SentAt.Equal(t0.Add(time.Minute)) || got.ClaimOwner != "w1" {
		t.Fatalf("notice marked sent: %+v", got)
	}
	same(t, "entries", allAudit(t, s, acctA, "", 10), []string{"sent", "expiring"})
}
