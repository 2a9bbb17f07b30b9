package lease_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/lease"
)

// recorder is a Sleep that only records what it was asked to wait.
type recorder struct{ waits []time.Duration }

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.waits = append(r.waits, d)
	return ctx.Err()
}

func TestWaiterBacksOffWithinItsBudget(t *testing.T) {
	var r recorder
	w := lease.NewWaiter(t.Context(), lease.Options{Budget: time.Second, Poll: 50 * time.Millisecond, MaxPoll: 300 * time.Millisecond, Sleep: r.sleep})
	n := 0
	for w.Wait(t.Context()) {
		n++
	}
	want := []time.Duration{50, 100, 200, 300, 300, 50}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(r.waits, want) || n != len(want) || w.Waited() != time.Second {
		t.Fatalf("waits %v (%d true), waited %s; want %v, 1s", r.waits, n, w.Waited(), want)
	}
	if w.Wait(t.Context()) {
		t.Fatal("a wait past the budget")
	}
}

func TestWaiterKeepsTheReserveOfTheDeadline(t *testing.T) {
	var r recorder
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	w := lease.NewWaiter(ctx, lease.Options{Budget: time.Hour, Reserve: 5 * time.Second, Poll: time.Millisecond, Sleep: r.sleep})
	if w.Wait(ctx) || len(r.waits) != 0 {
		t.Fatalf("waited %v with less time left than the reserve", r.waits)
	}
}

func TestWaiterStopsWhenTheContextEnds(t *testing.T) {
	var r recorder
	ctx, cancel := context.WithCancel(t.Context())
	w := lease.NewWaiter(ctx, lease.Options{Budget: time.Hour, Poll: time.Second, Sleep: r.sleep})
	cancel()
	if w.Wait(ctx) {
		t.Fatal("a wait of an ended request reported success")
	}
	if err := lease.Sleep(ctx, time.Hour); err == nil {
		t.Fatal("Sleep of an ended context returned nil")
	}
}

func TestHeld(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	c := connection.Connection{LeaseOwner: "scan-1", LeaseUntil: now.Add(time.Minute)}
	if !lease.Held(c, now) || lease.Held(c, now.Add(time.Minute)) || lease.Held(connection.Connection{}, now) {
		t.Fatal("Held")
	}
}
