package localserver

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workplace/connections/infra/localbackend"
	"github.com/workplace/connections/infra/streampoll"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/eventbus/membus"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/publisher"
)

// Events publishes the state-change events in local mode, through the same
// publisher as the event-publisher Lambda, onto the in-memory bus that
// GET /_local/events lists:
//   - on the embedded store, its commit feed hands each commit's audit
//     entries to the publisher before Apply returns (the stand-in for the
//     table's stream);
//   - on AWS (BACKEND=aws), the table's DynamoDB Stream is read when the
//     events are listed, and its records go through the event publisher's
//     handler as Lambda would deliver them; records it reports failed are
//     read again next time, from the first of them, as Lambda retries.
type Events struct {
	bus *membus.Bus
	// none: the backends carry no committed changes (an AWS table
	// without a stream).
	none bool

	mu      sync.Mutex // one reading of the stream at a time
	stream  *streampoll.Poller
	handler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
	pending []events.DynamoDBEventRecord // read, not yet published
}

// NewEvents wires the backends' change source to the publisher on d (whose
// Bus is b.Events).
func NewEvents(d *handlers.Deps, b localbackend.Backends) *Events {
	ev := &Events{bus: b.Events, stream: b.Stream, none: b.Memory == nil && b.Stream == nil}
	if b.Memory != nil {
		pub := d.Publisher()
		b.Memory.OnCommit(func(ctx context.Context, es []connection.AuditEntry) {
			// The bus is in memory: it fails only on an invalid event,
			// which the publisher logs.
			pub.Publish(ctx, publisher.Entries(es))
		})
	}
	if b.Stream != nil {
		ev.handler = handlers.EventPublisher(d)
	}
	return ev
}

// catchUp publishes what the table's stream holds and was not published
// yet (nothing to do on the embedded store, whose feed publishes at
// commit).
func (e *Events) catchUp(ctx context.Context) error {
	if e.stream == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	recs, err := e.stream.Read(ctx)
	if err != nil {
		return err
	}
	e.pending = append(e.pending, recs...)
	if len(e.pending) == 0 {
		return nil
	}
	out, err := Invoke(ctx, e.handler, events.DynamoDBEvent{Records: e.pending})
	if err != nil {
		return err
	}
	var resp events.DynamoDBEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return err
	}
	// As Lambda: from the lowest failed record on, everything again.
	from := len(e.pending)
	for _, f := range resp.BatchItemFailures {
		for i, r := range e.pending {
			if r.Change.SequenceNumber == f.ItemIdentifier && i < from {
				from = i
			}
		}
	}
	e.pending = append([]events.DynamoDBEventRecord(nil), e.pending[from:]...)
	return nil
}

// published is an event as GET /_local/events lists it.
type published struct {
	DetailType string          `json:"detailType"`
	Detail     json.RawMessage `json:"detail"`
}

// Tool is GET /_local/events: every event published so far, in order,
// as [{"detailType":…,"detail":{…}}].
func (e *Events) Tool(w http.ResponseWriter, r *http.Request) {
	if e.none {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the table has no stream, so no event is published: turn it on (StreamSpecification NEW_IMAGE, as template.yaml does)")
		return
	}
	if err := e.catchUp(r.Context()); err != nil {
		w.Header().Set("Retry-After", handlers.RetryAfter)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the table's stream could not be read: "+err.Error())
		return
	}
	out := []published{}
	for _, ev := range e.bus.Events() {
		out = append(out, published{DetailType: ev.DetailType, Detail: ev.Detail})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
