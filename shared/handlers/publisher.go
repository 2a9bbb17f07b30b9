package handlers

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/metrics"
	"github.com/workplace/connections/shared/publisher"
)

// Publisher is the state-change event publisher on these dependencies.
func (d *Deps) Publisher() *publisher.Publisher {
	return &publisher.Publisher{Bus: d.Bus, Log: d.Log.With("action", "publish-events")}
}

// errNoStream is each record's error when the dependencies have no
// stream decoder: nothing is published, everything is delivered again.
var errNoStream = errors.New("no decoder for the store's change stream is configured")

// EventPublisher serves the table's DynamoDB Stream (the event source
// mapping lets only INSERTs of audit entries of connection actions
// through): it publishes their events and answers, as a partial batch
// response, the records to deliver again. Lambda then retries from the
// lowest of them, so nothing is skipped; an event already published may be
// published again, with the same eventId.
func EventPublisher(d *Deps) func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	pub := d.Publisher()
	decode := d.Stream
	if decode == nil {
		decode = func(events.DynamoDBEventRecord) (connection.AuditEntry, bool, error) {
			return connection.AuditEntry{}, true, errNoStream
		}
	}
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		if end, ok := ctx.Deadline(); ok {
			// Time to answer with what failed before Lambda stops the
			// function (which would fail the whole batch).
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, end.Add(-DeadlineMargin))
			defer cancel()
		}
		// This invocation's publisher: its lines carry the request id.
		pub := *pub
		pub.Log = pub.Log.With("requestId", RequestID(ctx, ""))
		ctx = metrics.WithNamespace(ctx, d.Config.MetricsNamespace)
		recs := make([]publisher.Record, len(ev.Records))
		for i, r := range ev.Records {
			e, ok, err := decode(r)
			recs[i] = publisher.Record{ID: r.Change.SequenceNumber, IsEntry: ok, Entry: e, Err: err}
		}
		res := pub.Publish(ctx, recs)
		resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
		for _, id := range res.Failed {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: id})
		}
		return resp, nil
	}
}
