package localserver

import (
	"errors"
	"sync/atomic"
	"time"
)

// Clock is the local server's one clock: Local hands its Now to
// handlers.Deps.Now (so every route, and the scan tool's default time,
// reads it) and to the sandbox (so token lifetimes follow it).
//
// Moving it sets an offset from the real clock such that Now is the given
// time at that instant; time then keeps flowing from there, as it does for
// a person clicking through the console. Reset goes back to the real
// clock. It never changes how long a request may run: deadlines, the
// scan's budget and the pacing of emails stay on real time.
type Clock struct {
	real   func() time.Time
	offset atomic.Pointer[time.Duration] // nil: not moved
}

// NewClock is a clock on real (nil: time.Now), not moved.
func NewClock(real func() time.Time) *Clock {
	if real == nil {
		real = time.Now
	}
	return &Clock{real: real}
}

// Now is the real time plus the offset.
func (c *Clock) Now() time.Time {
	now, _ := c.Read()
	return now
}

// Read is the time and whether the clock has been moved away from the
// real one, read together.
func (c *Clock) Read() (now time.Time, moved bool) {
	now = c.real()
	if off := c.offset.Load(); off != nil {
		return now.Add(*off), true
	}
	return now, false
}

// errTooFar: an offset must fit a time.Duration (about 292 years).
var errTooFar = errors.New("the time is too far from the real clock")

// Set moves the clock so that Now is t at this instant.
func (c *Clock) Set(t time.Time) error {
	now := c.real()
	off := t.Sub(now)
	if !now.Add(off).Equal(t) { // t.Sub saturates
		return errTooFar
	}
	c.offset.Store(&off)
	return nil
}

// Reset returns to the real clock.
func (c *Clock) Reset() { c.offset.Store(nil) }
