package publisher_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/eventbus"
	"github.com/workplace/connections/shared/eventbus/membus"
	"github.com/workplace/connections/shared/publisher"
)

var at = time.Date(2027, 1, 4, 10, 0, 0, 0, time.FixedZone("CET", 3600))

// entry is an audit entry of a user-level ServiceNow connection.
func entry(action connection.AuditAction, details map[string]string) connection.AuditEntry {
	return connection.AuditEntry{
		Account: "a1", ID: connection.NewAuditID(), At: at, Vendor: "servicenow", Level: connection.LevelUser, UserID: "u2",
		ConnectionID: "conn-9", Action: action, Actor: connection.UserActor("u2"), Details: details,
		ExpiresAt: at.Add(400 * 24 * time.Hour),
	}
}

// TestEveryActionMaps: each of the seven connection actions is one event
// with its detail type and exactly the documented fields; settings and
// notices are no event.
func TestEveryActionMaps(t *testing.T) {
	identity := map[string]string{"user": "Carol User", "userEmail": "carol@acme.example"}
	cases := []struct {
		action     connection.AuditAction
		details    map[string]string
		actor      connection.Actor
		detailType string
		extra      map[string]any // fields beyond the common ones
	}{
		{connection.AuditConnected, identity, connection.UserActor("u2"), "Connection Connected", nil},
		{connection.AuditReconnected, identity, connection.UserActor("u2"), "Connection Reconnected", nil},
		{connection.AuditUserChanged, map[string]string{"previousUser": "Admin User", "previousUserEmail": "admin@acme.example", "user": "Carol User", "userEmail": "carol@acme.example"},
			connection.UserActor("u2"), "Connection User Changed", map[string]any{"previousUser": "Admin User"}},
		{connection.AuditExpiring, map[string]string{"expiresAt": "2027-01-14T10:00:00Z"}, connection.ScanActor(), "Connection Expiring", nil},
		{connection.AuditDisconnected, map[string]string{"reason": "refresh_refused", "detectedBy": "broker"},
			connection.Actor{Type: connection.ActorBroker, ID: "arn:aws:iam::1:role/search"}, "Connection Disconnected", map[string]any{"reason": "refresh_refused"}},
		{connection.AuditRemoved, map[string]string{"cascade": "true"}, connection.UserActor("u1"), "Connection Removed", nil},
		{connection.AuditRecovered, map[string]string{"failingSince": "2027-01-02T06:00:00Z"}, connection.ScanActor(), "Connection Recovered", nil},
	}
	seen := map[connection.AuditAction]bool{}
	for _, c := range cases {
		t.Run(string(c.action), func(t *testing.T) {
			e := entry(c.action, c.details)
			e.Actor = c.actor
			ev, ok := publisher.EventOf(e)
			if !ok || ev.Source != "workplace.connections" || ev.DetailType != c.detailType || !ev.Time.Equal(at) || ev.Time.Location() != time.UTC {
				t.Fatalf("event %+v (%v)", ev, ok)
			}
			var got map[string]any
			if err := json.Unmarshal(ev.Detail, &got); err != nil {
				t.Fatal(err)
			}
			actor := map[string]any{"type": c.actor.Type}
			if c.actor.ID != "" {
				actor["id"] = c.actor.ID
			}
			want := map[string]any{
				"eventId": e.ID, "account": "a1", "vendor": "servicenow", "level": "user", "user": "u2",
				"connectionId": "conn-9", "occurredAt": "2027-01-04T09:00:00Z", "actor": actor,
			}
			maps.Copy(want, c.extra)
			if !equalJSON(got, want) {
				t.Fatalf("detail %s\nwant %v", ev.Detail, want)
			}
			if err := eventbus.Check(ev); err != nil {
				t.Fatal(err)
			}
			seen[c.action] = true
		})
	}
	if !slices.Equal(publisher.Actions(), slices.Collect(func(yield func(connection.AuditAction) bool) {
		for _, a := range connection.AuditActions {
			if seen[a] && !yield(a) {
				return
			}
		}
	})) {
		t.Fatalf("Actions() = %v, the mapped actions are %v", publisher.Actions(), seen)
	}
	for _, a := range []connection.AuditAction{connection.AuditSettingsChanged, connection.AuditNoticeSent} {
		if ev, ok := publisher.EventOf(entry(a, map[string]string{"changed": "clientSecret"})); ok || publisher.DetailType(a) != "" {
			t.Fatalf("%s is an event: %+v", a, ev)
		}
	}
}

// TestAppLevelHasNoUser: an app-level connection's event names no user;
// a User Changed whose vendor gave no name names the previous user by
// email.
func TestAppLevelHasNoUser(t *testing.T) {
	e := entry(connection.AuditUserChanged, map[string]string{"previousUserEmail": "admin@acme.example"})
	e.Level, e.UserID = connection.LevelApp, ""
	d := publisher.DetailOf(e)
	if d.User != "" || d.PreviousUser != "admin@acme.example" || d.Level != connection.LevelApp {
		t.Fatalf("%+v", d)
	}
	ev, _ := publisher.EventOf(e)
	var got map[string]any
	if err := json.Unmarshal(ev.Detail, &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["user"]; ok {
		t.Fatalf("detail %s", ev.Detail)
	}
	if _, ok := got["reason"]; ok {
		t.Fatalf("detail %s", ev.Detail)
	}
}

// TestNothingButTheDocumentedFields: whatever the entry's details hold
// (here a value shaped like a token), the event carries only its documented
// fields.
func TestNothingButTheDocumentedFields(t *testing.T) {
	for _, a := range publisher.Actions() {
		e := entry(a, map[string]string{"reason": "expired", "previousUser": "Ada", "accessToken": "tok-SECRET", "user": "Ada", "clientSecret": "s3cret"})
		ev, _ := publisher.EventOf(e)
		if bytes.Contains(ev.Detail, []byte("SECRET")) || bytes.Contains(ev.Detail, []byte("s3cret")) {
			t.Fatalf("%s: %s", a, ev.Detail)
		}
		var got map[string]any
		_ = json.Unmarshal(ev.Detail, &got)
		for k := range got {
			if !slices.Contains([]string{"eventId", "account", "vendor", "level", "user", "connectionId", "occurredAt", "actor", "previousUser", "reason"}, k) {
				t.Fatalf("%s: field %q", a, k)
			}
		}
	}
}

// failing is a bus that refuses the events whose eventId is in refuse
// and takes the others onto a membus.
type failing struct {
	*membus.Bus
	refuse map[string]bool
	calls  int
}

func (f *failing) Put(ctx context.Context, evs []eventbus.Event) []error {
	f.calls++
	errs := make([]error, len(evs))
	var take []eventbus.Event
	var at []int
	for i, e := range evs {
		var d publisher.Detail
		_ = json.Unmarshal(e.Detail, &d)
		if f.refuse[d.EventID] {
			errs[i] = errors.New("ThrottlingException")
			continue
		}
		take, at = append(take, e), append(at, i)
	}
	for j, err := range f.Bus.Put(ctx, take) {
		errs[at[j]] = err
	}
	return errs
}

func quiet() *slog.Logger { return slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)) }

// TestPartialFailure: the records whose events the bus refused, and those
// that cannot be read, are reported (in order) to be delivered again; the
// others are published once; records that are no event are skipped.
func TestPartialFailure(t *testing.T) {
	var recs []publisher.Record
	var entries []connection.AuditEntry
	for i, a := range append(publisher.Actions(), connection.AuditNoticeSent, connection.AuditConnected) {
		e := entry(a, nil)
		entries = append(entries, e)
		recs = append(recs, publisher.Record{ID: "seq-" + string(rune('a'+i)), IsEntry: true, Entry: e})
	}
	recs = append(recs,
		publisher.Record{ID: "seq-x"},                                        // another item of the table
		publisher.Record{ID: "seq-y", IsEntry: true, Err: errors.New("bad")}, // an audit item that does not read
	)
	bus := &failing{Bus: membus.New(), refuse: map[string]bool{entries[1].ID: true, entries[5].ID: true}}
	log := &bytes.Buffer{}
	p := &publisher.Publisher{Bus: bus, Log: slog.New(slog.NewJSONHandler(log, nil))}
	res := p.Publish(context.Background(), recs)
	if !slices.Equal(res.Failed, []string{"seq-b", "seq-f", "seq-y"}) || res.Published != 6 || res.Skipped != 2 || bus.calls != 1 {
		t.Fatalf("result %+v after %d calls", res, bus.calls)
	}
	var got []string
	for _, e := range bus.Events() {
		var d publisher.Detail
		_ = json.Unmarshal(e.Detail, &d)
		got = append(got, d.EventID)
	}
	want := []string{entries[0].ID, entries[2].ID, entries[3].ID, entries[4].ID, entries[6].ID, entries[8].ID}
	if !slices.Equal(got, want) {
		t.Fatalf("published %v, want %v", got, want)
	}
	for _, s := range []string{`"record":"seq-b"`, `"eventId":"` + entries[5].ID, `"record":"seq-y"`} {
		if !strings.Contains(log.String(), s) {
			t.Fatalf("no log line with %s:\n%s", s, log)
		}
	}

	// Delivered again, the failed ones go through: every event is out,
	// none twice.
	bus.refuse = nil
	var again []publisher.Record
	for _, r := range recs {
		if slices.Contains(res.Failed, r.ID) && r.Err == nil {
			again = append(again, r)
		}
	}
	if res := p.Publish(context.Background(), again); len(res.Failed) != 0 || res.Published != 2 {
		t.Fatalf("again: %+v", res)
	}
	if n := len(bus.Events()); n != 8 {
		t.Fatalf("%d events in all, want 8", n)
	}
}

// TestNothingToPublish: a batch without events does not call the bus.
func TestNothingToPublish(t *testing.T) {
	bus := &failing{Bus: membus.New()}
	p := &publisher.Publisher{Bus: bus, Log: quiet()}
	res := p.Publish(context.Background(), []publisher.Record{{ID: "1"}, {ID: "2", IsEntry: true, Entry: entry(connection.AuditSettingsChanged, nil)}})
	if res.Published != 0 || res.Skipped != 2 || len(res.Failed) != 0 || bus.calls != 0 {
		t.Fatalf("%+v, %d calls", res, bus.calls)
	}
	if res := p.Publish(context.Background(), publisher.Entries(nil)); res.Published != 0 || bus.calls != 0 {
		t.Fatalf("%+v", res)
	}
}

// TestEntriesNamedByID: the commit feed's entries are records named by
// their ids.
func TestEntriesNamedByID(t *testing.T) {
	e1, e2 := entry(connection.AuditConnected, nil), entry(connection.AuditRemoved, nil)
	recs := publisher.Entries([]connection.AuditEntry{e1, e2})
	if len(recs) != 2 || recs[0].ID != e1.ID || recs[1].ID != e2.ID || !recs[0].IsEntry || recs[1].Entry.ID != e2.ID {
		t.Fatalf("%+v", recs)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
