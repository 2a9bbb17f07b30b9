// Package publisher publishes the service's state-change events (DESIGN
// §9). Every committed change of a connection writes an audit entry in the
// change's own transaction; the store's change stream (DynamoDB Streams in
// AWS, memstore's commit feed locally) carries each entry once it is
// committed, and the publisher turns the entries of connection actions
// into events on the bus. An entry's id is the event's eventId, fixed
// before the change's first write, so a delivery repeated after a failure
// is recognisable as the same event.
package publisher

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/eventbus"
	"github.com/workplace/connections/shared/metrics"
)

// Source is the source of every event.
const Source = "workplace.connections"

// Detail types (DESIGN §9), by the audit action they tell of.
var detailTypes = map[connection.AuditAction]string{
	connection.AuditConnected:    "Connection Connected",
	connection.AuditReconnected:  "Connection Reconnected",
	connection.AuditUserChanged:  "Connection User Changed",
	connection.AuditExpiring:     "Connection Expiring",
	connection.AuditDisconnected: "Connection Disconnected",
	connection.AuditRemoved:      "Connection Removed",
	connection.AuditRecovered:    "Connection Recovered",
}

// Actions are the audit actions that are events, in the order of a
// connection's life (settingsChanged and noticeSent are not: they change
// no connection). The table stream's filter lets exactly these through.
func Actions() []connection.AuditAction {
	var out []connection.AuditAction
	for _, a := range connection.AuditActions {
		if _, ok := detailTypes[a]; ok {
			out = append(out, a)
		}
	}
	return out
}

// DetailType is the detail type of an action's events ("" for an action
// that is no event).
func DetailType(a connection.AuditAction) string { return detailTypes[a] }

// Detail is what an event says. It never holds a token or a secret: it is
// made of the audit entry's keys, time and actor only.
type Detail struct {
	EventID      string           `json:"eventId"` // the audit entry's id: the same on every delivery
	Account      string           `json:"account"`
	Vendor       string           `json:"vendor"`
	Level        connection.Level `json:"level"`
	User         string           `json:"user,omitempty"` // the user-level connection's user
	ConnectionID string           `json:"connectionId"`
	OccurredAt   time.Time        `json:"occurredAt"` // the time of the change (the audit entry's at)
	Actor        connection.Actor `json:"actor"`
	// PreviousUser (User Changed) is the vendor user who held the
	// connection before: their name as the vendor gave it (their email
	// when the vendor gave no name), as on the audit entry.
	PreviousUser string `json:"previousUser,omitempty"`
	// Reason (Disconnected) is why the grant is dead: refresh_refused,
	// expired, vendor_outage or identity_changed.
	Reason string `json:"reason,omitempty"`
}

// DetailOf is the detail of an audit entry's event.
func DetailOf(e connection.AuditEntry) Detail {
	d := Detail{
		EventID: e.ID, Account: e.Account, Vendor: e.Vendor, Level: e.Level, User: e.UserID,
		ConnectionID: e.ConnectionID, OccurredAt: e.At.UTC(), Actor: e.Actor,
	}
	switch e.Action {
	case connection.AuditUserChanged:
		d.PreviousUser = e.Details["previousUser"]
		if d.PreviousUser == "" {
			d.PreviousUser = e.Details["previousUserEmail"]
		}
	case connection.AuditDisconnected:
		d.Reason = e.Details["reason"]
	}
	if d.Level != connection.LevelUser {
		d.User = ""
	}
	return d
}

// EventOf is the event of an audit entry; ok is false for an action that
// is no event.
func EventOf(e connection.AuditEntry) (ev eventbus.Event, ok bool) {
	dt, ok := detailTypes[e.Action]
	if !ok {
		return eventbus.Event{}, false
	}
	b, _ := json.Marshal(DetailOf(e)) // strings and a time: cannot fail
	return eventbus.Event{Source: Source, DetailType: dt, Detail: b, Time: e.At.UTC()}, true
}

// Record is one record of the store's change stream as the publisher takes
// it.
type Record struct {
	// ID names the record to its source: what a failure reports (the
	// stream's sequence number in AWS).
	ID string
	// IsEntry: the record is an audit entry written (false: another
	// change of the table, which is no event).
	IsEntry bool
	Entry   connection.AuditEntry
	// Err: the record is an audit entry that could not be read.
	Err error
}

// Entries are records of committed audit entries (memstore's feed, which
// hands over entries), each named by its entry's id.
func Entries(es []connection.AuditEntry) []Record {
	out := make([]Record, len(es))
	for i, e := range es {
		out[i] = Record{ID: e.ID, IsEntry: true, Entry: e}
	}
	return out
}

// Result is what Publish did with a batch of records.
type Result struct {
	Published int // events the bus took
	Skipped   int // records that are no event
	// Failed are the IDs of the records to deliver again, in the order
	// given: those whose event the bus did not take, and those that could
	// not be read.
	Failed []string
}

// Publisher publishes the events of committed audit entries.
type Publisher struct {
	Bus eventbus.Bus
	Log *slog.Logger
}

// Publish puts the events of the records' entries on the bus, in order,
// and says which records must be delivered again. A record that is no
// audit entry, or an entry of an action that is no event, is skipped. A
// record that is an audit entry but cannot be read is failed, never
// skipped: it is delivered again and, when it never reads, ends on the
// source's failure destination rather than being dropped.
func (p *Publisher) Publish(ctx context.Context, recs []Record) Result {
	var (
		res    Result
		evs    []eventbus.Event
		of     []int // the record of each event
		failed = make([]bool, len(recs))
	)
	for i, r := range recs {
		switch {
		case r.Err != nil:
			failed[i] = true
			p.Log.ErrorContext(ctx, "a change stream record is an audit entry that cannot be read: it is delivered again, then sent to the failure destination",
				"record", r.ID, "error", r.Err.Error())
		case !r.IsEntry:
			res.Skipped++
		default:
			ev, ok := EventOf(r.Entry)
			if !ok {
				res.Skipped++
				continue
			}
			evs, of = append(evs, ev), append(of, i)
		}
	}
	if len(evs) > 0 {
		for j, err := range p.Bus.Put(ctx, evs) {
			r := recs[of[j]]
			if err != nil {
				failed[of[j]] = true
				p.Log.WarnContext(ctx, "event not published: it is delivered again", "record", r.ID, "eventId", r.Entry.ID,
					"detailType", evs[j].DetailType, "account", r.Entry.Account, "vendor", r.Entry.Vendor, "error", err.Error())
				continue
			}
			res.Published++
		}
	}
	for i, f := range failed {
		if f {
			res.Failed = append(res.Failed, recs[i].ID)
		}
	}
	metrics.Log(ctx, p.Log, slog.LevelInfo, "events published", nil,
		[]metrics.Value{metrics.V(metrics.EventsPublished, float64(res.Published)), metrics.V(metrics.EventsFailed, float64(len(res.Failed)))},
		slog.Int("records", len(recs)), slog.Int("published", res.Published), slog.Int("skipped", res.Skipped), slog.Int("failed", len(res.Failed)))
	return res
}
