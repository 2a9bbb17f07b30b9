package localserver_test

import (
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/workplace/connections/shared/audit"
	"github.com/workplace/connections/shared/connection"
)

// timeline pages through GET /v1/account/integrations/audit with a query
// and a page size, following nextCursor.
func (e *env) timeline(w who, query string, limit int) []audit.Entry {
	e.t.Helper()
	var all []audit.Entry
	q := url.Values{}
	if query != "" {
		var err error
		if q, err = url.ParseQuery(query); err != nil {
			e.t.Fatal(err)
		}
	}
	q.Set("limit", strconv.Itoa(limit))
	for pages := 0; ; pages++ {
		r := e.get("/v1/account/integrations/audit?"+q.Encode(), &w)
		e.want(r, http.StatusOK, "audit "+q.Encode())
		p := decode[audit.Page](e, r)
		if len(p.Entries) > limit || (pages > 0 && len(p.Entries) == 0) {
			e.t.Fatalf("audit page %d: %d entries with limit %d", pages, len(p.Entries), limit)
		}
		all = append(all, p.Entries...)
		if p.NextCursor == nil {
			return all
		}
		q.Set("cursor", *p.NextCursor)
	}
}

// step is an audit entry as the test expects it.
type step struct {
	action connection.AuditAction
	level  connection.Level
	user   string
	actor  string // type:id
	at     time.Time
}

func steps(es []audit.Entry) []step {
	out := make([]step, len(es))
	for i, en := range es {
		a := en.Actor.Type
		if en.Actor.ID != "" {
			a += ":" + en.Actor.ID
		}
		out[i] = step{en.Action, en.Level, en.User, a, en.At}
	}
	return out
}

// TestLocalAuditTimeline is the admin's question "who connected,
// reconnected or changed the user, and when?" over HTTP: settings,
// connect, a user's own connection, Change User by a second manager, the
// scan's warnings and their emails, and both disconnects — newest first,
// each with its actor, in pages, for app managers of the account only.
func TestLocalAuditTimeline(t *testing.T) {
	e := newEnv(t, nil)
	e.saveServiceNowSettings(ada)
	e.clock.Set(t0.Add(time.Hour))
	e.connect(ada, "servicenow", "app", "", nil)
	e.clock.Set(t0.Add(2 * time.Hour))
	e.connect(bob, "servicenow", "user", "", url.Values{"sandbox_user": {"bob"}})
	e.clock.Set(t0.Add(3 * time.Hour))
	e.connect(cat, "servicenow", "app", "changeUser", url.Values{"sandbox_user": {"carol"}})
	scanAt := t0.Add(91 * day)
	e.clock.Set(scanAt)
	if rep := e.scan(scanAt); rep.Notices != 2 {
		t.Fatalf("scan: %+v", rep)
	}
	e.clock.Set(t0.Add(92 * day))
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/servicenow?flow=user", &bob, ""), http.StatusNoContent, "bob disconnects")
	e.clock.Set(t0.Add(93 * day))
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/servicenow?flow=app&cascade=true", &ada, ""), http.StatusNoContent, "ada disconnects")

	all := e.timeline(ada, "", 100)
	got := steps(all)
	if len(got) != 10 {
		t.Fatalf("timeline of %d entries: %+v", len(got), got)
	}
	// The scan's four entries share its time; their order among
	// themselves is the order it wrote them in.
	scanned := append([]step(nil), got[2:6]...)
	sort.Slice(scanned, func(i, j int) bool {
		return string(scanned[i].action)+string(scanned[i].level) < string(scanned[j].action)+string(scanned[j].level)
	})
	want := []step{
		{connection.AuditRemoved, connection.LevelApp, "", "user:u1", t0.Add(93 * day)},
		{connection.AuditRemoved, connection.LevelUser, "u2", "user:u2", t0.Add(92 * day)},
		{connection.AuditUserChanged, connection.LevelApp, "", "user:u3", t0.Add(3 * time.Hour)},
		{connection.AuditConnected, connection.LevelUser, "u2", "user:u2", t0.Add(2 * time.Hour)},
		{connection.AuditConnected, connection.LevelApp, "", "user:u1", t0.Add(time.Hour)},
		{connection.AuditSettingsChanged, connection.LevelApp, "", "user:u1", t0},
	}
	if gotOthers := append(append([]step(nil), got[:2]...), got[6:]...); !reflect.DeepEqual(gotOthers, want) {
		t.Fatalf("timeline:\n got %+v\nwant %+v", got, want)
	}
	if want := []step{
		{connection.AuditExpiring, connection.LevelApp, "", "scan", scanAt},
		{connection.AuditExpiring, connection.LevelUser, "u2", "scan", scanAt},
		{connection.AuditNoticeSent, connection.LevelApp, "", "scan", scanAt},
		{connection.AuditNoticeSent, connection.LevelUser, "u2", "scan", scanAt},
	}; !reflect.DeepEqual(scanned, want) {
		t.Fatalf("the scan's entries:\n got %+v\nwant %+v", scanned, want)
	}
	changed := all[6]
	if changed.Details["previousUser"] != "Admin User" || changed.Details["user"] != "Carol User" ||
		changed.Details["previousUserEmail"] != "admin@acme.example.com" || changed.Details["userEmail"] != "carol@acme.example.com" {
		t.Fatalf("userChanged details %v", changed.Details)
	}
	if all[0].ConnectionID == "" || all[0].ConnectionID != changed.ConnectionID || all[0].Vendor != "servicenow" {
		t.Fatalf("the app connection's entries name %q and %q", all[0].ConnectionID, changed.ConnectionID)
	}

	// In pages of three: the same entries, in the same order.
	if paged := e.timeline(ada, "", 3); !reflect.DeepEqual(paged, all) {
		t.Fatalf("in pages of 3:\n got %+v\nwant %+v", steps(paged), got)
	}
	if byVendor := e.timeline(cat, "vendor=servicenow", 4); !reflect.DeepEqual(byVendor, all) {
		t.Fatalf("ServiceNow's, as the other manager: %+v", steps(byVendor))
	}
	if cf := e.timeline(ada, "vendor=confluence", 10); len(cf) != 0 {
		t.Fatalf("Confluence's: %+v", steps(cf))
	}
	if other := e.timeline(eve, "", 10); len(other) != 0 {
		t.Fatalf("another account's timeline: %+v", steps(other))
	}

	// Refusals.
	e.wantError(e.get("/v1/account/integrations/audit", &bob), http.StatusForbidden, "forbidden", "a plain user")
	e.wantError(e.get("/v1/account/integrations/audit?vendor=nosuchvendor", &ada), http.StatusNotFound, "unknown_vendor", "an unknown vendor")
	e.wantError(e.get("/v1/account/integrations/audit?limit=101", &ada), http.StatusBadRequest, "invalid_parameter", "limit 101")
	e.wantError(e.get("/v1/account/integrations/audit?limit=0", &ada), http.StatusBadRequest, "invalid_parameter", "limit 0")
	r := e.get("/v1/account/integrations/audit?limit=2", &ada)
	cursor := *decode[audit.Page](e, r).NextCursor
	e.wantError(e.get("/v1/account/integrations/audit?cursor="+url.QueryEscape(cursor+"x"), &ada), http.StatusBadRequest, "invalid_parameter", "a tampered cursor")
	e.wantError(e.get("/v1/account/integrations/audit?vendor=servicenow&cursor="+url.QueryEscape(cursor), &ada), http.StatusBadRequest, "invalid_parameter", "another filter's cursor")
	e.wantError(e.get("/v1/account/integrations/audit?cursor="+url.QueryEscape(cursor), &eve), http.StatusBadRequest, "invalid_parameter", "another account's cursor")
	e.wantError(e.get("/v1/account/integrations/audit", nil), http.StatusUnauthorized, "unauthorized", "no identity")
	e.assertNoLeaks()
}
