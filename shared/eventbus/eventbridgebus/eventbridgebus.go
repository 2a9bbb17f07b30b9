// Package eventbridgebus is the eventbus.Bus on Amazon EventBridge: PutEvents
// on one event bus. It passes bustest like the in-memory twin (membus).
package eventbridgebus

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/workplace/connections/shared/eventbus"
)

// API is the part of the EventBridge client the bus uses.
type API interface {
	PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Bus puts events on one EventBridge event bus.
type Bus struct {
	api  API
	name string
}

var _ eventbus.Bus = (*Bus)(nil)

// New is the bus named name (a name, or an event bus ARN; "default" is the
// account's default bus) through api.
func New(api API, name string) *Bus { return &Bus{api: api, name: name} }

// maxEntries is how many entries one PutEvents request takes
// (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html:
// Entries, 1 to 10 items).
const maxEntries = 10

// Put sends the events in order, in requests of at most maxEntries entries
// and eventbus.MaxEntrySize bytes. EventBridge answers each request with
// one result per entry, in the order of the request; a failed entry
// carries an ErrorCode and the others are taken all the same
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html),
// so exactly the failed entries get an error (eventbus.ErrRejected with
// the code). A request that fails as a whole fails each of its events. An
// event no bus would take (eventbus.Check) is not sent.
func (b *Bus) Put(ctx context.Context, evs []eventbus.Event) []error {
	errs := make([]error, len(evs))
	var (
		batch []types.PutEventsRequestEntry
		idx   []int // the event of each entry of batch
		size  int
	)
	send := func() {
		if len(batch) == 0 {
			return
		}
		out, err := b.api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: batch})
		switch {
		case err != nil:
			err = fmt.Errorf("eventbridgebus: put events: %w", err)
		case len(out.Entries) != len(batch):
			err = fmt.Errorf("eventbridgebus: put events: %d results for %d entries", len(out.Entries), len(batch))
		}
		for j, i := range idx {
			switch {
			case err != nil:
				errs[i] = err
			case out.Entries[j].ErrorCode != nil:
				errs[i] = fmt.Errorf("%w: %s: %s", eventbus.ErrRejected, aws.ToString(out.Entries[j].ErrorCode), aws.ToString(out.Entries[j].ErrorMessage))
			}
		}
		batch, idx, size = nil, nil, 0
	}
	for i, e := range evs {
		if errs[i] = eventbus.Check(e); errs[i] != nil {
			continue
		}
		n := eventbus.Size(e)
		if len(batch) == maxEntries || size+n > eventbus.MaxEntrySize {
			send()
		}
		entry := types.PutEventsRequestEntry{
			EventBusName: aws.String(b.name),
			Source:       aws.String(e.Source),
			DetailType:   aws.String(e.DetailType),
			Detail:       aws.String(string(e.Detail)),
		}
		if !e.Time.IsZero() {
			entry.Time = aws.Time(e.Time)
		}
		batch, idx, size = append(batch, entry), append(idx, i), size+n
	}
	send()
	return errs
}
