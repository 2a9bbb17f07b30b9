package expiry_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"testing"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/eventbus/membus"
	"github.com/workplace/connections/shared/publisher"
	"github.com/workplace/connections/shared/store/memstore"
)

// withEvents is a memstore whose commits are published onto a bus, as the
// table's stream is.
func withEvents() (*memstore.Store, *membus.Bus) {
	st, bus := memstore.New(), membus.New()
	pub := &publisher.Publisher{Bus: bus, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	st.OnCommit(func(ctx context.Context, es []connection.AuditEntry) { pub.Publish(ctx, publisher.Entries(es)) })
	return st, bus
}

// scanEvents are the bus's events by the scan, as "detail-type level
// reason".
func scanEvents(t *testing.T, bus *membus.Bus) []string {
	t.Helper()
	var out []string
	for _, ev := range bus.Events() {
		var d publisher.Detail
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			t.Fatal(err)
		}
		if d.Actor == connection.ScanActor() {
			out = append(out, ev.DetailType+" "+string(d.Level)+" "+d.Reason)
		}
	}
	return out
}

// The scan's changes are events: a connection flagged for failing
// refreshes that works again is Recovered; an outage past its grace and a
// refused keep-alive are Disconnected with their reasons; a run that
// changes nothing publishes nothing.
func TestScanEvents(t *testing.T) {
	st, bus := withEvents()
	e := newEnv(t, st)
	e.connectApp("confluence")
	e.clock.Set(at(45))
	e.sandbox.Knob(t, "confluence/outage?status=503")
	e.run(at(45))
	e.sandbox.Knob(t, "confluence/outage?status=0")
	e.run(at(46))
	e.run(at(47))
	e.clock.Set(at(92))
	e.sandbox.Knob(t, "confluence/outage?status=503")
	for _, d := range []float64{92, 93, 95, 96} {
		e.run(at(d))
	}
	want := []string{"Connection Recovered app ", "Connection Disconnected app vendor_outage"}
	if got := scanEvents(t, bus); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}

	st2, bus2 := withEvents()
	e2 := newEnv(t, st2)
	e2.connectApp("confluence")
	e2.clock.Set(at(1))
	e2.sandbox.Knob(t, "confluence/revoke?user=admin")
	e2.run(at(45))
	e2.run(at(46))
	if got, want := scanEvents(t, bus2), []string{"Connection Disconnected app refresh_refused"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}
