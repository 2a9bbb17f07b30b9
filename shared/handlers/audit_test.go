package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/workplace/connections/shared/audit"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/store"
)

// The audit route: app managers only, its parameters checked, the caller's
// account only, pages linked by nextCursor.
func TestAuditRoute(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for i, acct := range []string{"a1", "a1", "a1", "a2"} {
		c := connection.Connection{Key: connection.UserKey(acct, "confluence", "u2"), ID: "c1"}
		e := connection.NewAudit(c, connection.AuditConnected, connection.UserActor("u2"), sampleTime.Add(-time.Duration(i)*time.Minute), 0, nil)
		if err := h.d.Store.Apply(ctx, store.AppendAudit{Entry: e}); err != nil {
			t.Fatal(err)
		}
	}
	handler := handlers.AuditTimeline(h.d)
	get := func(who jwtCaller, query string) (int, string) {
		t.Helper()
		_, req := routeEvent(t, who, "GET", "/v1/account/integrations/audit", query, "")
		resp, err := handler(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Body
	}
	manager, member, other := jwtCaller{"a1", "u1", "appManager"}, jwtCaller{"a1", "u2", "member"}, jwtCaller{"a2", "u9", "appManager"}
	for _, c := range []struct {
		who   jwtCaller
		query string
		want  int
		code  string
	}{
		{member, "", http.StatusForbidden, "forbidden"},
		{manager, "vendor=nosuchvendor", http.StatusNotFound, "unknown_vendor"},
		{manager, "limit=0", http.StatusBadRequest, "invalid_parameter"},
		{manager, "limit=101", http.StatusBadRequest, "invalid_parameter"},
		{manager, "limit=x", http.StatusBadRequest, "invalid_parameter"},
		{manager, "cursor=bogus", http.StatusBadRequest, "invalid_parameter"},
	} {
		status, body := get(c.who, c.query)
		var e struct{ Error struct{ Code string } }
		if status != c.want || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != c.code {
			t.Errorf("%s as %s: %d %s, want %d %s", c.query, c.who.user, status, body, c.want, c.code)
		}
	}
	var pages [][]audit.Entry
	q := "limit=2&vendor=confluence"
	for {
		status, body := get(manager, q)
		var p audit.Page
		if status != http.StatusOK || json.Unmarshal([]byte(body), &p) != nil {
			t.Fatalf("%s: %d %s", q, status, body)
		}
		pages = append(pages, p.Entries)
		if p.NextCursor == nil {
			break
		}
		q = "limit=2&vendor=confluence&cursor=" + url.QueryEscape(*p.NextCursor)
		if status, _ := get(other, "cursor="+url.QueryEscape(*p.NextCursor)); status != http.StatusBadRequest {
			t.Errorf("another account's use of a cursor: %d", status)
		}
	}
	if len(pages) != 2 || len(pages[0]) != 2 || len(pages[1]) != 1 {
		t.Fatalf("pages %+v", pages)
	}
	status, body := get(other, "")
	var p audit.Page
	if status != http.StatusOK || json.Unmarshal([]byte(body), &p) != nil || len(p.Entries) != 1 {
		t.Fatalf("the other account: %d %s", status, body)
	}
}
