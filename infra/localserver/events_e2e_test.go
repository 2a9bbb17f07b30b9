package localserver_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/workplace/connections/shared/audit"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/publisher"
)

// localEvent is an event as GET /_local/events lists it.
type localEvent struct {
	DetailType string           `json:"detailType"`
	Detail     publisher.Detail `json:"detail"`
}

// events is GET /_local/events, decoded strictly: only the documented
// fields.
func (e *env) events() []localEvent {
	e.t.Helper()
	r := e.get("/_local/events", nil)
	e.want(r, http.StatusOK, "events")
	var raw []struct {
		DetailType string          `json:"detailType"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(r.body, &raw); err != nil || raw == nil {
		e.t.Fatalf("events: %s (%v)", r.body, err)
	}
	out := make([]localEvent, len(raw))
	for i, ev := range raw {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(ev.Detail, &fields); err != nil {
			e.t.Fatal(err)
		}
		for k := range fields {
			if !slices.Contains([]string{"eventId", "account", "vendor", "level", "user", "connectionId", "occurredAt", "actor", "previousUser", "reason"}, k) {
				e.t.Fatalf("event %d has an undocumented field %q: %s", i, k, ev.Detail)
			}
		}
		out[i] = localEvent{DetailType: ev.DetailType}
		if err := json.Unmarshal(ev.Detail, &out[i].Detail); err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

// TestLocalEvents is a platform service listening to the connections'
// state changes: every change a person or the scan commits — connect, a
// user's own connection, Change User, reconnect, the scan's warning and
// expiry, both disconnects — is one event on GET /_local/events, in the
// order of the changes, with the documented detail; settings, refused and
// failed requests publish nothing.
func TestLocalEvents(t *testing.T) {
	e := newEnv(t, nil)
	if evs := e.events(); len(evs) != 0 {
		t.Fatalf("a fresh server lists %d events", len(evs))
	}
	r := e.call(http.MethodPost, "/_local/events", nil, "{}")
	e.wantError(r, http.StatusMethodNotAllowed, "method_not_allowed", "POST /_local/events")
	if allow := r.header.Get("Allow"); allow != "GET, HEAD" {
		t.Fatalf("Allow %q", allow)
	}

	e.saveServiceNowSettings(ada)
	e.clock.Set(t0.Add(time.Hour))
	e.connect(ada, "servicenow", "app", "", nil)
	// Refused: nothing changes, nothing is published.
	e.wantError(e.get("/v1/account/integrations/servicenow/oauth2/url?flow=app", &ada), http.StatusConflict, "already_connected", "a second connect")
	e.wantError(e.call(http.MethodDelete, "/v1/account/integrations/servicenow?flow=app", &bob, ""), http.StatusForbidden, "forbidden", "a plain user's app disconnect")
	if n := len(e.events()); n != 1 {
		t.Fatalf("%d events after a connect and refusals", n)
	}
	e.clock.Set(t0.Add(2 * time.Hour))
	e.connect(bob, "servicenow", "user", "", url.Values{"sandbox_user": {"bob"}})
	e.wantError(e.call(http.MethodDelete, "/v1/account/integrations/servicenow?flow=app", &ada, ""), http.StatusConflict, "has_user_connections", "an app disconnect over a user's connection")
	e.clock.Set(t0.Add(3 * time.Hour))
	e.connect(cat, "servicenow", "app", "changeUser", url.Values{"sandbox_user": {"carol"}})
	// A reconnect by another vendor user is refused after the code
	// exchange: no change, no event.
	back := e.approve(e.authURL(ada, "servicenow", "app", "reconnect"), url.Values{"sandbox_user": {"dave"}})
	e.wantError(e.callback(ada, "servicenow", back), http.StatusConflict, "user_mismatch", "a reconnect by another vendor user")
	e.clock.Set(t0.Add(4 * time.Hour))
	e.connect(ada, "servicenow", "app", "reconnect", url.Values{"sandbox_user": {"carol"}})
	warnAt := t0.Add(91 * day)
	if rep := e.scan(warnAt); rep.Notices != 2 {
		t.Fatalf("warning scan: %+v", rep)
	}
	e.clock.Set(t0.Add(92 * day))
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/servicenow?flow=user", &bob, ""), http.StatusNoContent, "bob disconnects")
	expireAt := t0.Add(101 * day)
	if rep := e.scan(expireAt); rep.Expired != 1 {
		t.Fatalf("expiry scan: %+v", rep)
	}
	e.clock.Set(t0.Add(102 * day))
	e.want(e.call(http.MethodDelete, "/v1/account/integrations/servicenow?flow=app", &ada, ""), http.StatusNoContent, "ada disconnects")

	evs := e.events()
	type short struct {
		detailType string
		level      connection.Level
		user       string
		actor      string
		at         time.Time
		previous   string
		reason     string
	}
	var got []short
	for _, ev := range evs {
		d := ev.Detail
		a := d.Actor.Type
		if d.Actor.ID != "" {
			a += ":" + d.Actor.ID
		}
		got = append(got, short{ev.DetailType, d.Level, d.User, a, d.OccurredAt, d.PreviousUser, d.Reason})
	}
	want := []short{
		{"Connection Connected", connection.LevelApp, "", "user:u1", t0.Add(time.Hour), "", ""},
		{"Connection Connected", connection.LevelUser, "u2", "user:u2", t0.Add(2 * time.Hour), "", ""},
		{"Connection User Changed", connection.LevelApp, "", "user:u3", t0.Add(3 * time.Hour), "Admin User", ""},
		{"Connection Reconnected", connection.LevelApp, "", "user:u1", t0.Add(4 * time.Hour), "", ""},
	}
	// The scan warns both connections at one time, in an order of its own.
	warned := []short{
		{"Connection Expiring", connection.LevelApp, "", "scan", warnAt, "", ""},
		{"Connection Expiring", connection.LevelUser, "u2", "scan", warnAt, "", ""},
	}
	rest := []short{
		{"Connection Removed", connection.LevelUser, "u2", "user:u2", t0.Add(92 * day), "", ""},
		{"Connection Disconnected", connection.LevelApp, "", "scan", expireAt, "", "expired"},
		{"Connection Removed", connection.LevelApp, "", "user:u1", t0.Add(102 * day), "", ""},
	}
	if len(got) != len(want)+len(warned)+len(rest) {
		t.Fatalf("%d events:\n%+v", len(got), got)
	}
	gotWarned := slices.Clone(got[4:6])
	sort.Slice(gotWarned, func(i, j int) bool { return gotWarned[i].level < gotWarned[j].level })
	if !reflect.DeepEqual(got[:4], want) || !reflect.DeepEqual(gotWarned, warned) || !reflect.DeepEqual(got[6:], rest) {
		t.Fatalf("events:\n got %+v\nwant %+v %+v %+v", got, want, warned, rest)
	}

	// One event per committed change: each is the audit entry of that
	// change (its id is the eventId), and every entry of a connection
	// action has its event.
	timeline := e.timeline(ada, "", 100)
	byID := map[string]audit.Entry{}
	for _, en := range timeline {
		if publisher.DetailType(en.Action) != "" {
			byID[en.ID] = en
		}
	}
	if len(byID) != len(evs) {
		t.Fatalf("%d events, %d audit entries of connection actions", len(evs), len(byID))
	}
	for _, ev := range evs {
		d := ev.Detail
		en, ok := byID[d.EventID]
		if !ok {
			t.Fatalf("event %s names no audit entry", d.EventID)
		}
		if publisher.DetailType(en.Action) != ev.DetailType || d.Account != "a1" || d.Vendor != "servicenow" || d.Level != en.Level ||
			d.User != en.User || d.ConnectionID != en.ConnectionID || d.ConnectionID == "" || !d.OccurredAt.Equal(en.At) || d.Actor != en.Actor {
			t.Fatalf("event %+v, audit entry %+v", ev, en)
		}
	}
	// Listing again publishes nothing more.
	if again := e.events(); len(again) != len(evs) {
		t.Fatalf("listed again: %d events", len(again))
	}
	e.assertNoLeaks()
}
