package membus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/workplace/connections/shared/eventbus"
	"github.com/workplace/connections/shared/eventbus/bustest"
	"github.com/workplace/connections/shared/eventbus/membus"
)

func TestContract(t *testing.T) {
	bustest.Run(t, func(t *testing.T) (eventbus.Bus, func() []eventbus.Event) {
		b := membus.New()
		return b, b.Events
	})
}

// TestKeepsOrder: the in-memory bus lists events in the order they were
// put, across puts (the local server's /_local/events shows them so).
func TestKeepsOrder(t *testing.T) {
	b := membus.New()
	for round := range 3 {
		var evs []eventbus.Event
		for i := range 4 {
			evs = append(evs, eventbus.Event{Source: "s", DetailType: "t", Detail: json.RawMessage(fmt.Sprintf(`{"n":%d}`, round*4+i))})
		}
		for _, err := range b.Put(context.Background(), evs) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	got := b.Events()
	if len(got) != 12 {
		t.Fatalf("%d events", len(got))
	}
	for i, e := range got {
		if string(e.Detail) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("event %d is %s", i, e.Detail)
		}
	}
}
