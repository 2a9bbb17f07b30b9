// Package lease is the waiting side of a connection's lease (the
// store's AcquireLease): whoever refreshes a grant or repairs a connection
// holds it, and whoever meets it held waits, bounded, for the holder to
// finish rather than racing it. The expiry scan, the token broker, the
// live check and the callback all take the same lease.
package lease

import (
	"context"
	"time"

	"github.com/workplace/connections/shared/connection"
)

// Held reports whether someone holds c's lease at now.
func Held(c connection.Connection, now time.Time) bool {
	return c.LeaseUntil.After(now)
}

// Waiter is one request's budget of waiting for leases. Each Wait waits
// one poll: the first Poll long, each next one twice as long, up to
// MaxPoll, and never more than what is left of the budget.
type Waiter struct {
	sleep   func(ctx context.Context, d time.Duration) error
	next    time.Duration
	maxPoll time.Duration
	left    time.Duration
	waited  time.Duration
}

// Options bound a Waiter.
type Options struct {
	// Budget is how long the request may wait in all.
	Budget time.Duration
	// Reserve is what a wait always leaves of the request's deadline (for
	// the work after it).
	Reserve time.Duration
	// Poll is the first wait; MaxPoll the longest (default: Poll).
	Poll, MaxPoll time.Duration
	// Sleep waits d or until ctx ends (nil: a timer). Tests replace it so
	// that they never sleep.
	Sleep func(ctx context.Context, d time.Duration) error
}

// NewWaiter is a waiter for a request whose context is ctx.
func NewWaiter(ctx context.Context, o Options) *Waiter {
	w := &Waiter{sleep: o.Sleep, next: o.Poll, maxPoll: max(o.MaxPoll, o.Poll), left: o.Budget}
	if d, ok := ctx.Deadline(); ok {
		w.left = min(w.left, time.Until(d)-o.Reserve)
	}
	if w.sleep == nil {
		w.sleep = Sleep
	}
	return w
}

// Wait waits one poll; false once the budget is spent or ctx has ended.
func (w *Waiter) Wait(ctx context.Context) bool {
	if w.left <= 0 || w.next <= 0 {
		return false
	}
	d := min(w.next, w.left)
	w.left -= d
	w.waited += d
	w.next = min(2*w.next, w.maxPoll)
	return w.sleep(ctx, d) == nil
}

// Waited is how long the waiter has waited so far.
func (w *Waiter) Waited() time.Duration { return w.waited }

// Sleep waits d or until ctx ends (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
