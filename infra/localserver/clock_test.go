package localserver_test

import (
	"testing"
	"time"

	"github.com/workplace/connections/infra/localserver"
	"github.com/workplace/connections/infra/sandbox/sandboxtest"
)

// The local clock is an offset from the real one: moved, it says the given
// time at once, and time keeps flowing from there; reset, it is the real
// clock again.
func TestClockIsAnOffsetFromTheRealClock(t *testing.T) {
	real := sandboxtest.NewClock(t0)
	c := localserver.NewClock(real.Now)
	if now, moved := c.Read(); !now.Equal(t0) || moved {
		t.Fatalf("new clock: %s moved=%v, want the real %s", now, moved, t0)
	}
	at := t0.Add(50 * day)
	if err := c.Set(at); err != nil {
		t.Fatal(err)
	}
	if now, moved := c.Read(); !now.Equal(at) || !moved {
		t.Fatalf("moved: %s moved=%v, want %s", now, moved, at)
	}
	real.Advance(90 * time.Minute)
	if got := c.Now(); !got.Equal(at.Add(90 * time.Minute)) {
		t.Fatalf("90 real minutes later: %s, want %s", got, at.Add(90*time.Minute))
	}
	// Backwards works too.
	if err := c.Set(t0.Add(-day)); err != nil || !c.Now().Equal(t0.Add(-day)) {
		t.Fatalf("moved back: %s %v", c.Now(), err)
	}
	c.Reset()
	if now, moved := c.Read(); !now.Equal(real.Now()) || moved {
		t.Fatalf("reset: %s moved=%v, want the real %s", now, moved, real.Now())
	}
	// An offset a time.Duration cannot hold is refused, and changes nothing.
	if err := c.Set(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Fatal("a time 7000 years away was taken")
	}
	if now, moved := c.Read(); !now.Equal(real.Now()) || moved {
		t.Fatalf("after a refused move: %s moved=%v", now, moved)
	}
	if !localserver.NewClock(nil).Now().After(t0.Add(-10 * 365 * day)) {
		t.Fatal("NewClock(nil) is not the wall clock")
	}
}
