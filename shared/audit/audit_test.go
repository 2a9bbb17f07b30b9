package audit_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/workplace/connections/shared/audit"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
)

var t0 = time.Date(2027, 5, 1, 8, 0, 0, 0, time.UTC)

// seeded is a store with n entries of account a1 (one a minute from t0,
// alternating ServiceNow app level and Confluence user level) and one of a2.
func seeded(t *testing.T, n int) store.Store {
	t.Helper()
	st := memstore.New()
	var ops []store.Op
	for i := range n {
		c := connection.Connection{Key: connection.AppKey("a1", "servicenow"), ID: "c-sn"}
		if i%2 == 1 {
			c = connection.Connection{Key: connection.UserKey("a1", "confluence", "u2"), ID: "c-cf"}
		}
		e := connection.NewAudit(c, connection.AuditConnected, connection.UserActor("u1"), t0.Add(time.Duration(i)*time.Minute), 0, nil)
		e.ID = fmt.Sprintf("E%03d", i)
		if i == 0 {
			e.Details = map[string]string{"user": "Ada"}
		}
		ops = append(ops, store.AppendAudit{Entry: e})
	}
	other := connection.NewAudit(connection.Connection{Key: connection.AppKey("a2", "servicenow")}, connection.AuditRemoved, connection.UserActor("u9"), t0, 0, nil)
	ops = append(ops, store.AppendAudit{Entry: other})
	for len(ops) > 0 {
		n := min(len(ops), 50)
		if err := st.Apply(t.Context(), ops[:n]...); err != nil {
			t.Fatal(err)
		}
		ops = ops[n:]
	}
	return st
}

func wantProblem(t *testing.T, err error, status int, code string) {
	t.Helper()
	var p *problem.Problem
	if !errors.As(err, &p) || p.Status != status || p.Code != code {
		t.Fatalf("got %v, want %d %s", err, status, code)
	}
}

func ids(p audit.Page) []string {
	out := []string{}
	for _, e := range p.Entries {
		out = append(out, e.ID)
	}
	return out
}

func TestListRules(t *testing.T) {
	tl := audit.Timeline{Store: seeded(t, 3)}
	ctx := t.Context()
	_, err := tl.List(ctx, audit.Query{Account: "a1"})
	wantProblem(t, err, http.StatusForbidden, "forbidden")
	_, err = tl.List(ctx, audit.Query{Account: "a1", AppManager: true, Vendor: "nosuchvendor"})
	wantProblem(t, err, http.StatusNotFound, "unknown_vendor")
	for _, l := range []string{"0", "101", "-1", "ten", "1.5", " 5"} {
		_, err = tl.List(ctx, audit.Query{Account: "a1", AppManager: true, Limit: l})
		wantProblem(t, err, http.StatusBadRequest, "invalid_parameter")
	}
	for _, c := range []string{"nope", "e30", "%%%"} {
		_, err = tl.List(ctx, audit.Query{Account: "a1", AppManager: true, Cursor: c})
		wantProblem(t, err, http.StatusBadRequest, "invalid_parameter")
	}
	// A cursor of another filter, or of another account.
	p, err := tl.List(ctx, audit.Query{Account: "a1", AppManager: true, Limit: "1"})
	if err != nil || p.NextCursor == nil {
		t.Fatalf("first page: %+v %v", p, err)
	}
	_, err = tl.List(ctx, audit.Query{Account: "a1", AppManager: true, Vendor: "servicenow", Cursor: *p.NextCursor})
	wantProblem(t, err, http.StatusBadRequest, "invalid_parameter")
	_, err = tl.List(ctx, audit.Query{Account: "a2", AppManager: true, Cursor: *p.NextCursor})
	wantProblem(t, err, http.StatusBadRequest, "invalid_parameter")
}

func TestListPages(t *testing.T) {
	tl := audit.Timeline{Store: seeded(t, 120)}
	ctx := t.Context()
	p, err := tl.List(ctx, audit.Query{Account: "a1", AppManager: true})
	if err != nil || len(p.Entries) != audit.DefaultLimit || p.NextCursor == nil || p.Entries[0].ID != "E119" {
		t.Fatalf("default page: %d entries, first %v, %v", len(p.Entries), ids(p)[:1], err)
	}
	var all []string
	q := audit.Query{Account: "a1", AppManager: true, Limit: "100"}
	for {
		p, err := tl.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ids(p)...)
		if p.NextCursor == nil {
			break
		}
		q.Cursor = *p.NextCursor
	}
	if len(all) != 120 || all[0] != "E119" || all[119] != "E000" {
		t.Fatalf("%d entries from %s to %s", len(all), all[0], all[len(all)-1])
	}
	p, err = tl.List(ctx, audit.Query{Account: "a1", AppManager: true, Vendor: "confluence", Limit: "2"})
	if err != nil || fmt.Sprint(ids(p)) != "[E119 E117]" {
		t.Fatalf("Confluence's first page %v, %v", ids(p), err)
	}
	p, err = tl.List(ctx, audit.Query{Account: "a2", AppManager: true})
	if err != nil || len(p.Entries) != 1 || p.NextCursor != nil || p.Entries[0].Action != connection.AuditRemoved {
		t.Fatalf("a2: %+v, %v", p, err)
	}
}

// The answer's shape: every field of the contract, details an object even
// when empty, user only at user level, null nextCursor on the last page.
func TestListShape(t *testing.T) {
	tl := audit.Timeline{Store: seeded(t, 2)}
	p, err := tl.List(t.Context(), audit.Query{Account: "a1", AppManager: true})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(p)
	want := `{"entries":[` +
		`{"id":"E001","at":"2027-05-01T08:01:00Z","vendor":"confluence","level":"user","user":"u2","connectionId":"c-cf","action":"connected","actor":{"type":"user","id":"u1"},"details":{}},` +
		`{"id":"E000","at":"2027-05-01T08:00:00Z","vendor":"servicenow","level":"app","connectionId":"c-sn","action":"connected","actor":{"type":"user","id":"u1"},"details":{"user":"Ada"}}` +
		`],"nextCursor":null}`
	if string(b) != want {
		t.Fatalf("answer\n got %s\nwant %s", b, want)
	}
	empty, err := audit.Timeline{Store: memstore.New()}.List(t.Context(), audit.Query{Account: "a1", AppManager: true})
	if b, _ := json.Marshal(empty); err != nil || string(b) != `{"entries":[],"nextCursor":null}` {
		t.Fatalf("empty timeline %s, %v", b, err)
	}
}
