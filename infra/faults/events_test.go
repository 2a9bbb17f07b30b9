package faults_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/eventbus"
	"github.com/workplace/connections/shared/publisher"
	"github.com/workplace/connections/shared/store"
)

// The state-change events under faults. The embedded store's commit feed
// stands for the table's DynamoDB Stream (it carries exactly the audit
// entries that committed, whatever happens to the caller after), and
// stream stands for the Lambda reading it: it publishes through the
// injected bus, and keeps a batch's records from the first failed one on
// for the next delivery, as Lambda retries from the lowest failed sequence
// number. Every put on the bus is a call of the flow, so the suite fails
// publishing too, one call at a time, like every other dependency.

// stream is the world's change stream and its reader.
type stream struct {
	pub *publisher.Publisher

	mu        sync.Mutex
	pending   []publisher.Record
	committed []connection.AuditEntry // every entry the feed carried
}

// feed is the store's commit feed: the commit's entries join the stream,
// and the reader delivers what is pending.
func (s *stream) feed(ctx context.Context, es []connection.AuditEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed = append(s.committed, es...)
	s.pending = append(s.pending, publisher.Entries(es)...)
	s.deliver(ctx)
}

// deliver publishes what is pending once (the lock is held).
func (s *stream) deliver(ctx context.Context) {
	if len(s.pending) == 0 {
		return
	}
	res := s.pub.Publish(ctx, s.pending)
	from := len(s.pending)
	for i, r := range s.pending {
		if slices.Contains(res.Failed, r.ID) {
			from = i
			break
		}
	}
	s.pending = slices.Clone(s.pending[from:])
}

// drain delivers until nothing is pending, as Lambda retries (bounded:
// what is still pending after maxDeliveries would be on the dead-letter
// queue); it reports whether the stream is drained.
func (s *stream) drain(ctx context.Context) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range maxDeliveries {
		if len(s.pending) == 0 {
			return true
		}
		s.deliver(ctx)
	}
	return len(s.pending) == 0
}

// maxDeliveries bounds the retries of a drain (the template's mapping
// retries far more; here nothing fails once the injector is disarmed).
const maxDeliveries = 3

// attempts records the audit entries every Apply carried, committed or
// not: it sits in front of the injector.
type attempts struct {
	store.Store
	mu  sync.Mutex
	ids map[string]connection.AuditEntry
}

func (a *attempts) Apply(ctx context.Context, ops ...store.Op) error {
	a.mu.Lock()
	for _, op := range ops {
		if e, ok := op.(store.AppendAudit); ok {
			a.ids[e.Entry.ID] = e.Entry
		}
	}
	a.mu.Unlock()
	return a.Store.Apply(ctx, ops...)
}

// eventFigures are the suite's totals, over the final state of every run
// (clean and injected, after its retry).
var eventFigures eventTotals

type eventTotals struct {
	runs, committed, published, distinct, duplicates, failedChanges, eventsOfFailed, afterCommit atomic.Int64
}

// reset zeroes the totals.
func (f *eventTotals) reset() {
	for _, n := range []*atomic.Int64{&f.runs, &f.committed, &f.published, &f.distinct, &f.duplicates, &f.failedChanges, &f.eventsOfFailed, &f.afterCommit} {
		n.Store(0)
	}
}

// checkEvents drains the stream and checks that the events published are
// exactly one per committed change (more deliveries of one allowed: same
// eventId, same event), none for a change whose write was attempted and
// did not commit, and that the feed carried what the store holds. With
// count, the run's figures join the suite's totals.
func (w *world) checkEvents(stage string, count bool) {
	w.t.Helper()
	ctx := w.t.Context()
	if !w.stream.drain(ctx) {
		w.t.Fatalf("%s: events still unpublished after %d deliveries", stage, maxDeliveries)
	}
	w.stream.mu.Lock()
	committed := map[string]connection.AuditEntry{}
	for _, e := range w.stream.committed {
		if _, dup := committed[e.ID]; dup {
			w.t.Fatalf("%s: the feed carried entry %s twice", stage, e.ID)
		}
		committed[e.ID] = e
	}
	w.stream.mu.Unlock()
	// The feed carried what the store holds.
	stored := map[string]bool{}
	cursor := ""
	for {
		page, next, err := w.mem.ListAudit(ctx, account, "", cursor, 100)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, e := range page {
			stored[e.ID] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !maps.Equal(stored, maps.Collect(func(yield func(string, bool) bool) {
		for id := range committed {
			if !yield(id, true) {
				return
			}
		}
	})) {
		w.t.Fatalf("%s: the feed carried %d entries, the store holds %d", stage, len(committed), len(stored))
	}
	// Events by eventId.
	published := map[string][]eventbus.Event{}
	total := 0
	for _, ev := range w.bus.Events() {
		var d publisher.Detail
		if err := json.Unmarshal(ev.Detail, &d); err != nil || d.EventID == "" {
			w.t.Fatalf("%s: event %s without an eventId", stage, ev.Detail)
		}
		published[d.EventID] = append(published[d.EventID], ev)
		total++
	}
	changes, dups := 0, 0
	for id, e := range committed {
		want, isEvent := publisher.EventOf(e)
		got := published[id]
		switch {
		case !isEvent && len(got) > 0:
			w.t.Fatalf("%s: %s entry %s was published", stage, e.Action, id)
		case !isEvent:
			continue
		case len(got) == 0:
			w.t.Fatalf("%s: the committed change %s (%s of %s) was not published", stage, id, e.Action, e.ConnectionID)
		}
		changes++
		dups += len(got) - 1
		for _, ev := range got {
			if ev.DetailType != want.DetailType || string(ev.Detail) != string(want.Detail) || !ev.Time.Equal(want.Time) || ev.Source != want.Source {
				w.t.Fatalf("%s: event %s %s, want %s %s", stage, ev.DetailType, ev.Detail, want.DetailType, want.Detail)
			}
		}
	}
	failed, ofFailed := 0, 0
	w.attempts.mu.Lock()
	for id, e := range w.attempts.ids {
		if _, ok := committed[id]; ok {
			continue
		}
		if _, isEvent := publisher.EventOf(e); isEvent {
			failed++
		}
		ofFailed += len(published[id])
	}
	w.attempts.mu.Unlock()
	for id := range published {
		if _, ok := committed[id]; !ok {
			w.t.Fatalf("%s: event %s names no committed change", stage, id)
		}
	}
	if ofFailed != 0 {
		w.t.Fatalf("%s: %d events of changes that did not commit", stage, ofFailed)
	}
	if count {
		f := &eventFigures
		f.runs.Add(1)
		f.committed.Add(int64(changes))
		f.published.Add(int64(total))
		f.distinct.Add(int64(len(published)))
		f.duplicates.Add(int64(dups))
		f.failedChanges.Add(int64(failed))
		f.eventsOfFailed.Add(int64(ofFailed))
	}
}
