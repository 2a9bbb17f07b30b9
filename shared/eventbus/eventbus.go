// Package eventbus is the port of the service's state-change events: a bus
// that takes events and delivers them to whoever subscribed. EventBridge in
// AWS (eventbridgebus), an in-memory list locally (membus); both pass
// bustest. It knows nothing of connections: the publisher use case maps
// audit entries to events.
package eventbus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Event is one event.
type Event struct {
	Source     string          // who tells ("workplace.connections")
	DetailType string          // what kind of event ("Connection Connected")
	Detail     json.RawMessage // what happened: a JSON object
	Time       time.Time       // when it happened
}

// Bus publishes events.
type Bus interface {
	// Put publishes events, in order. It answers one error per event, in
	// the order of evs: nil when the bus took the event, ErrInvalid
	// (wrapped) for an event no bus would ever take, and another error
	// when the event was not taken this time (the bus refused it, or the
	// call failed: it may be tried again). An event whose error is not nil
	// may still have been published (an answer lost on its way back), so
	// a retry may publish it twice: consumers tell duplicates apart by
	// what the detail says (the service's detail carries an eventId).
	Put(ctx context.Context, evs []Event) []error
}

// ErrInvalid: the event breaks a rule of every bus (Check).
var ErrInvalid = errors.New("eventbus: invalid event")

// ErrRejected: the bus refused the event this time (EventBridge's failed
// entry, e.g. throttled or an internal failure); it may be tried again.
var ErrRejected = errors.New("eventbus: event not taken")

// MaxEntrySize is the largest event a bus takes, counted as EventBridge
// counts a PutEvents entry: 14 bytes for the time, then the UTF-8 bytes of
// the source, the detail type and the detail. 256 KB is EventBridge's
// limit on an entry and on a whole request (newer pages of its guide say
// 1 MB; the smaller is kept):
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html#eb-putevent-size
const MaxEntrySize = 256 * 1024

// Size is an event's size as EventBridge counts it (see MaxEntrySize).
func Size(e Event) int {
	n := len(e.Source) + len(e.DetailType) + len(e.Detail)
	if !e.Time.IsZero() {
		n += 14
	}
	return n
}

// Check says why no bus would take e (ErrInvalid, wrapped), or nil: it
// needs a source and a detail type (valid UTF-8), a detail that is one JSON
// object, and a size within MaxEntrySize.
func Check(e Event) error {
	switch {
	case e.Source == "" || !utf8.ValidString(e.Source):
		return fmt.Errorf("%w: no source", ErrInvalid)
	case e.DetailType == "" || !utf8.ValidString(e.DetailType):
		return fmt.Errorf("%w: no detail type", ErrInvalid)
	case !isObject(e.Detail):
		return fmt.Errorf("%w: the detail is not one JSON object", ErrInvalid)
	case Size(e) > MaxEntrySize:
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalid, Size(e), MaxEntrySize)
	}
	return nil
}

// isObject reports whether b is exactly one JSON object.
func isObject(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return false
	}
	return true
}
