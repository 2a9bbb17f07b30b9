// Package membus is an in-memory eventbus.Bus for the local server and
// tests: it keeps every event it took, in order. It passes bustest like
// the EventBridge adapter.
package membus

import (
	"context"
	"slices"
	"sync"

	"github.com/workplace/connections/shared/eventbus"
)

// Bus keeps the events put on it. Safe for concurrent use.
type Bus struct {
	mu     sync.Mutex
	events []eventbus.Event
}

var _ eventbus.Bus = (*Bus)(nil)

// New returns an empty bus.
func New() *Bus { return &Bus{} }

// Put takes every valid event, in order; nothing when ctx is done.
func (b *Bus) Put(ctx context.Context, evs []eventbus.Event) []error {
	errs := make([]error, len(evs))
	if err := ctx.Err(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, e := range evs {
		if errs[i] = eventbus.Check(e); errs[i] != nil {
			continue
		}
		e.Detail = slices.Clone(e.Detail)
		e.Time = e.Time.UTC()
		b.events = append(b.events, e)
	}
	return errs
}

// Events are the events taken so far, oldest first (copies).
func (b *Bus) Events() []eventbus.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]eventbus.Event, len(b.events))
	for i, e := range b.events {
		e.Detail = slices.Clone(e.Detail)
		out[i] = e
	}
	return out
}
