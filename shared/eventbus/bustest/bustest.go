// Package bustest is the contract every eventbus.Bus must meet. Run it
// against each implementation (membus, eventbridgebus on moto) so that the
// in-memory twin and the real adapter cannot drift apart.
package bustest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/eventbus"
)

// Factory returns a fresh Bus for one subtest and a function listing what
// subscribers of that bus received so far. Buses from different calls must
// not see each other's events.
type Factory func(t *testing.T) (b eventbus.Bus, delivered func() []eventbus.Event)

// Source is the source of the contract's events: a subscriber may match
// on it.
const Source = "contract.test"

// Run runs the contract as subtests.
//
// Delivered events are compared on source, detail type, detail (as JSON)
// and time to the second (EventBridge keeps seconds). Order is not part of
// the contract: EventBridge does not promise to deliver in order.
func Run(t *testing.T, newBus Factory) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newBus) })
	}
}

var cases = []struct {
	name string
	fn   func(*testing.T, Factory)
}{
	{"OneEventArrives", oneEventArrives},
	{"NothingToPut", nothingToPut},
	{"MoreThanOneRequestHolds", moreThanOneRequestHolds},
	{"LargeEventsArrive", largeEventsArrive},
	{"InvalidEventsRefusedOthersTaken", invalidEventsRefusedOthersTaken},
	{"CanceledPutsNothing", canceledPutsNothing},
}

// at is the contract's event time.
var at = time.Date(2027, 1, 4, 9, 30, 15, 0, time.UTC)

func event(n int, detail string) eventbus.Event {
	if detail == "" {
		detail = fmt.Sprintf(`{"n":%d,"eventId":"e-%03d","actor":{"type":"user","id":"u1"},"text":"ünïcode ✓"}`, n, n)
	}
	return eventbus.Event{Source: Source, DetailType: "Contract Event", Detail: json.RawMessage(detail), Time: at}
}

func put(t *testing.T, b eventbus.Bus, evs []eventbus.Event) []error {
	t.Helper()
	errs := b.Put(context.Background(), evs)
	if len(errs) != len(evs) {
		t.Fatalf("Put of %d events answered %d results", len(evs), len(errs))
	}
	return errs
}

func noErrors(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
}

// key is what two events are compared on.
func key(t *testing.T, e eventbus.Event) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(e.Detail, &v); err != nil {
		t.Fatalf("detail %s: %v", e.Detail, err)
	}
	d, _ := json.Marshal(v) // maps marshal with sorted keys
	return fmt.Sprintf("%s|%s|%s|%s", e.Source, e.DetailType, e.Time.UTC().Truncate(time.Second).Format(time.RFC3339), d)
}

// expectDelivered: got holds exactly want (in any order).
func expectDelivered(t *testing.T, got, want []eventbus.Event) {
	t.Helper()
	keys := func(evs []eventbus.Event) []string {
		out := make([]string, len(evs))
		for i, e := range evs {
			out[i] = key(t, e)
		}
		sort.Strings(out)
		return out
	}
	g, w := keys(got), keys(want)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Fatalf("delivered %d events:\n  %s\nwant %d:\n  %s", len(g), short(g), len(w), short(w))
	}
}

func short(ks []string) string {
	out := make([]string, len(ks))
	for i, k := range ks {
		if len(k) > 200 {
			k = k[:200] + "…"
		}
		out[i] = k
	}
	return strings.Join(out, "\n  ")
}

func oneEventArrives(t *testing.T, f Factory) {
	b, delivered := f(t)
	want := []eventbus.Event{event(1, "")}
	noErrors(t, put(t, b, want))
	expectDelivered(t, delivered(), want)
}

func nothingToPut(t *testing.T, f Factory) {
	b, delivered := f(t)
	if errs := b.Put(context.Background(), nil); len(errs) != 0 {
		t.Fatalf("Put of nothing answered %v", errs)
	}
	expectDelivered(t, delivered(), nil)
}

// moreThanOneRequestHolds: more events than one EventBridge request takes
// (10) all arrive.
func moreThanOneRequestHolds(t *testing.T, f Factory) {
	b, delivered := f(t)
	var want []eventbus.Event
	for n := range 23 {
		want = append(want, event(n, ""))
	}
	noErrors(t, put(t, b, want))
	expectDelivered(t, delivered(), want)
}

// largeEventsArrive: events whose sizes add up to more than one request
// takes (eventbus.MaxEntrySize) all arrive, as does one of the largest size.
func largeEventsArrive(t *testing.T, f Factory) {
	b, delivered := f(t)
	pad := func(n, size int) eventbus.Event {
		e := event(n, `{"n":0,"pad":""}`)
		e.Detail = json.RawMessage(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, n, strings.Repeat("x", size-eventbus.Size(e))))
		return e
	}
	want := []eventbus.Event{pad(1, 100_000), pad(2, 100_000), pad(3, 100_000), pad(4, eventbus.MaxEntrySize)}
	if got := eventbus.Size(want[3]); got != eventbus.MaxEntrySize {
		t.Fatalf("the largest event is %d bytes", got)
	}
	noErrors(t, put(t, b, want))
	expectDelivered(t, delivered(), want)
}

func invalidEventsRefusedOthersTaken(t *testing.T, f Factory) {
	b, delivered := f(t)
	good1, good2 := event(1, ""), event(2, "")
	noSource, noType := event(3, ""), event(4, "")
	noSource.Source, noType.DetailType = "", ""
	tooBig := event(9, `{"n":9,"pad":"`+strings.Repeat("x", eventbus.MaxEntrySize)+`"}`)
	evs := []eventbus.Event{good1, noSource, event(5, `[1,2]`), noType, event(6, `{"n":6`), good2, event(7, `"text"`), event(8, `{} {}`), tooBig}
	errs := put(t, b, evs)
	for i, err := range errs {
		switch i {
		case 0, 5:
			if err != nil {
				t.Fatalf("valid event %d: %v", i, err)
			}
		default:
			if !errors.Is(err, eventbus.ErrInvalid) {
				t.Fatalf("invalid event %d (%.40s): %v, want ErrInvalid", i, evs[i].Detail, err)
			}
		}
	}
	expectDelivered(t, delivered(), []eventbus.Event{good1, good2})
}

func canceledPutsNothing(t *testing.T, f Factory) {
	b, delivered := f(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	evs := []eventbus.Event{event(1, ""), event(2, "")}
	errs := b.Put(ctx, evs)
	if len(errs) != len(evs) {
		t.Fatalf("%d results for %d events", len(errs), len(evs))
	}
	for i, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("event %d: %v, want context.Canceled", i, err)
		}
	}
	expectDelivered(t, delivered(), nil)
}
