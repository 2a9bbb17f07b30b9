package eventbridgebus

// What moto cannot show: failed entries inside a PutEvents answer, and how
// events are split into requests.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/workplace/connections/shared/eventbus"
)

// fake answers PutEvents: failing the entries whose detail names a code in
// fail, or the whole call with err.
type fake struct {
	requests [][]types.PutEventsRequestEntry
	fail     map[string]string // detail → error code
	err      error
	short    bool // answer one result too few
}

func (f *fake) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.requests = append(f.requests, in.Entries)
	if f.err != nil {
		return nil, f.err
	}
	out := &eventbridge.PutEventsOutput{}
	for i, e := range in.Entries {
		if code, ok := f.fail[aws.ToString(e.Detail)]; ok {
			out.Entries = append(out.Entries, types.PutEventsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("no")})
			out.FailedEntryCount++
			continue
		}
		out.Entries = append(out.Entries, types.PutEventsResultEntry{EventId: aws.String(fmt.Sprint("id-", i))})
	}
	if f.short {
		out.Entries = out.Entries[1:]
	}
	return out, nil
}

func events(n int) []eventbus.Event {
	out := make([]eventbus.Event, n)
	for i := range out {
		out[i] = eventbus.Event{Source: "s", DetailType: "t", Detail: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), Time: time.Unix(1800000000, 0)}
	}
	return out
}

// TestFailedEntriesOnly: exactly the entries EventBridge reports failed get
// an error, in the place of their event; the others are taken.
func TestFailedEntriesOnly(t *testing.T) {
	f := &fake{fail: map[string]string{`{"n":3}`: "ThrottlingException", `{"n":12}`: "InternalFailure"}}
	errs := New(f, "bus").Put(context.Background(), events(15))
	for i, err := range errs {
		switch i {
		case 3, 12:
			if !errors.Is(err, eventbus.ErrRejected) || errors.Is(err, eventbus.ErrInvalid) {
				t.Fatalf("event %d: %v, want ErrRejected", i, err)
			}
		default:
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
		}
	}
	if !strings.Contains(errs[3].Error(), "ThrottlingException") || !strings.Contains(errs[12].Error(), "InternalFailure") {
		t.Fatalf("the codes are not named: %v / %v", errs[3], errs[12])
	}
}

// TestRequestsOfTenAtMost: 25 events are three requests, in order, each
// entry on the named bus with its time.
func TestRequestsOfTenAtMost(t *testing.T) {
	f := &fake{}
	for _, err := range New(f, "arn:aws:events:us-east-1:1:event-bus/b").Put(context.Background(), events(25)) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(f.requests) != 3 || len(f.requests[0]) != 10 || len(f.requests[1]) != 10 || len(f.requests[2]) != 5 {
		t.Fatalf("requests of %d", sizes(f.requests))
	}
	n := 0
	for _, r := range f.requests {
		for _, e := range r {
			if aws.ToString(e.Detail) != fmt.Sprintf(`{"n":%d}`, n) || aws.ToString(e.EventBusName) != "arn:aws:events:us-east-1:1:event-bus/b" ||
				e.Time == nil || !e.Time.Equal(time.Unix(1800000000, 0)) {
				t.Fatalf("entry %d: %+v", n, e)
			}
			n++
		}
	}
}

// TestRequestsWithinTheSizeLimit: entries are grouped so that no request
// is larger than eventbus.MaxEntrySize.
func TestRequestsWithinTheSizeLimit(t *testing.T) {
	f := &fake{}
	evs := events(6)
	for i := range evs {
		evs[i].Detail = json.RawMessage(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", 100_000)))
	}
	for _, err := range New(f, "b").Put(context.Background(), evs) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(f.requests) != 3 {
		t.Fatalf("requests of %d entries", sizes(f.requests))
	}
	for _, r := range f.requests {
		size := 0
		for _, e := range r {
			size += 14 + len(*e.Source) + len(*e.DetailType) + len(*e.Detail)
		}
		if size > eventbus.MaxEntrySize {
			t.Fatalf("a request of %d bytes", size)
		}
	}
}

// TestWholeCallFails: a request that fails fails each of its events (and
// only those); an answer with a wrong number of results too.
func TestWholeCallFails(t *testing.T) {
	boom := errors.New("connection reset")
	errs := New(&fake{err: boom}, "b").Put(context.Background(), events(12))
	for i, err := range errs {
		if !errors.Is(err, boom) {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	errs = New(&fake{short: true}, "b").Put(context.Background(), events(3))
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "2 results for 3 entries") {
			t.Fatalf("event %d: %v", i, err)
		}
	}
}

// TestInvalidNotSent: an event no bus takes is not sent at all.
func TestInvalidNotSent(t *testing.T) {
	f := &fake{}
	evs := events(2)
	evs[0].Detail = json.RawMessage(`[]`)
	errs := New(f, "b").Put(context.Background(), evs)
	if !errors.Is(errs[0], eventbus.ErrInvalid) || errs[1] != nil || len(f.requests) != 1 || len(f.requests[0]) != 1 {
		t.Fatalf("errs %v, requests %d", errs, sizes(f.requests))
	}
}

func sizes(rs [][]types.PutEventsRequestEntry) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = len(r)
	}
	return out
}
