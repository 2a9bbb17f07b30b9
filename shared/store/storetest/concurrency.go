package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
)

// racers is how many goroutines each concurrency case sets against one
// another.
const racers = 16

// race runs f(0) … f(n-1) in n goroutines released together, and returns
// their errors by index.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner fails unless exactly one of errs is nil and every other is
// loser; it returns the winner's index.
func oneWinner(t *testing.T, what string, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("%s: racers %d and %d both won", what, winner, i)
		case err == nil:
			winner = i
		default:
			wantErr(t, what+": a losing racer", err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: nobody won", what)
	}
	return winner
}

// testConcurrentCreate: of racing creates of one connection exactly one
// wins, and the stored connection is the winner's.
func testConcurrentCreate(t *testing.T, s store.Store) {
	k := connection.AppKey(acctA, sn)
	errs := race(racers, func(i int) error {
		c := conn(k, time.Time{})
		c.ID = fmt.Sprintf("racer-%d", i)
		return s.Apply(t.Context(), store.CreateConnection{Conn: c})
	})
	w := oneWinner(t, "create", errs, store.ErrConflict)
	if got := mustGet(t, s, k); got.ID != fmt.Sprintf("racer-%d", w) || got.Version != 1 {
		t.Fatalf("stored %s at version %d; racer %d won", got.ID, got.Version, w)
	}
}

// testConcurrentUpdate: of racing updates at one version exactly one wins
// (optimistic locking), and the stored connection is the winner's.
func testConcurrentUpdate(t *testing.T, s store.Store) {
	k := connection.UserKey(acctA, sn, "u1")
	c := create(t, s, conn(k, t0))[0]
	errs := race(racers, func(i int) error {
		next := c
		next.SecretVersion = fmt.Sprintf("ver-%d", i)
		return s.Apply(t.Context(), store.UpdateConnection{Conn: next})
	})
	w := oneWinner(t, "update", errs, store.ErrConflict)
	if got := mustGet(t, s, k); got.SecretVersion != fmt.Sprintf("ver-%d", w) || got.Version != 2 {
		t.Fatalf("stored %s at version %d; racer %d won", got.SecretVersion, got.Version, w)
	}
}

// testConcurrentSettings: of racing first saves of settings exactly one
// wins.
func testConcurrentSettings(t *testing.T, s store.Store) {
	errs := race(racers, func(i int) error {
		return s.Apply(t.Context(), store.PutSettings{Settings: connection.Settings{
			Account: acctA, Vendor: sn, InstanceURL: "https://acme.service-now.com", ClientID: fmt.Sprintf("client-%d", i),
		}})
	})
	w := oneWinner(t, "first settings", errs, store.ErrConflict)
	got, err := s.GetSettings(t.Context(), acctA, sn)
	if err != nil || got.ClientID != fmt.Sprintf("client-%d", w) || got.Version != 1 {
		t.Fatalf("stored %+v, %v; racer %d won", got, err, w)
	}
}

// testConcurrentConsume: a state consumed by racing callbacks is handed to
// exactly one of them.
func testConcurrentConsume(t *testing.T, s store.Store) {
	a := state("nonce-raced", t0.Add(10*time.Minute))
	if err := s.PutState(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	got := make([]connection.AuthState, racers)
	errs := race(racers, func(i int) error {
		var err error
		got[i], err = s.ConsumeState(t.Context(), a.Nonce, t0)
		return err
	})
	w := oneWinner(t, "consume", errs, store.ErrNotFound)
	same(t, "the consumed state", got[w], a)
}

// testConcurrentNoticeCreate: a notice created by racing scans is created
// once; every racer gets the stored one back.
func testConcurrentNoticeCreate(t *testing.T, s store.Store) {
	created := make([]bool, racers)
	stored := make([]connection.Notice, racers)
	errs := race(racers, func(i int) error {
		n := notice(acctA, "u1", "n1", t0.Add(time.Duration(i)*time.Second))
		var err error
		stored[i], created[i], err = s.CreateNotice(t.Context(), n)
		return err
	})
	winner := -1
	for i, err := range errs {
		if err != nil {
			t.Fatalf("create notice %d: %v", i, err)
		}
		if created[i] {
			if winner >= 0 {
				t.Fatalf("racers %d and %d both created the notice", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("nobody created the notice")
	}
	for i := range stored {
		same(t, fmt.Sprintf("notice returned to racer %d", i), stored[i], stored[winner])
	}
}

// testConcurrentConnects: user connections made at once, each in a
// transaction with the counters and the app check, are all stored and all
// counted.
func testConcurrentConnects(t *testing.T, s store.Store) {
	app := connection.AppKey(acctA, sn)
	create(t, s, conn(app, time.Time{}))
	errs := race(racers, func(i int) error {
		return s.Apply(t.Context(),
			store.CreateConnection{Conn: conn(connection.UserKey(acctA, sn, fmt.Sprintf("u%02d", i)), time.Time{})},
			store.AdjustCounts{Account: acctA, Vendor: sn, Total: 1, Connected: 1},
			store.CheckConnection{Key: app})
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("connect %d: %v", i, err)
		}
	}
	users, _, err := s.ListUserConnections(t.Context(), acctA, sn, "", 100)
	if err != nil || len(users) != racers {
		t.Fatalf("%d user connections stored (%v), want %d", len(users), err, racers)
	}
	assertCounts(t, s, acctA, sn, connection.Counts{Total: racers, Connected: racers})
}

// testConnectsRaceAppRemoval: user connections made while the app
// connection is removed (conditional on there being no users) never leave
// a user connection under a missing app connection, and the counters match
// the connections stored, whichever order the transactions take.
func testConnectsRaceAppRemoval(t *testing.T, s store.Store) {
	app := create(t, s, conn(connection.AppKey(acctA, sn), time.Time{}))[0]
	errs := race(racers+1, func(i int) error {
		if i == racers {
			return s.Apply(t.Context(),
				store.DeleteConnection{Key: app.Key, Version: app.Version},
				store.CheckNoUsers{Account: acctA, Vendor: sn})
		}
		return s.Apply(t.Context(),
			store.CreateConnection{Conn: conn(connection.UserKey(acctA, sn, fmt.Sprintf("u%02d", i)), time.Time{})},
			store.AdjustCounts{Account: acctA, Vendor: sn, Total: 1, Connected: 1},
			store.CheckConnection{Key: app.Key})
	})
	connected := 0
	for i, err := range errs {
		switch {
		case err == nil && i < racers:
			connected++
		case err != nil:
			wantErr(t, fmt.Sprintf("racer %d", i), err, store.ErrConflict)
		}
	}
	users, _, err := s.ListUserConnections(t.Context(), acctA, sn, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	_, appErr := s.GetConnection(t.Context(), app.Key)
	removed := errors.Is(appErr, store.ErrNotFound)
	switch {
	case removed != (errs[racers] == nil):
		t.Fatalf("app removal answered %v, app connection read %v", errs[racers], appErr)
	case removed && len(users) > 0:
		t.Fatalf("%d user connections under a removed app connection", len(users))
	case len(users) != connected:
		t.Fatalf("%d user connections stored, %d connects succeeded", len(users), connected)
	}
	assertCounts(t, s, acctA, sn, connection.Counts{Total: connected, Connected: connected})
}

// testConcurrentTransactionsIsolated: transactions on different items,
// half of which fail their condition, running at once: a failed one writes
// nothing and undoes nothing of the others.
func testConcurrentTransactionsIsolated(t *testing.T, s store.Store) {
	present := create(t, s, conn(connection.AppKey(acctA, cf), time.Time{}))[0]
	errs := race(racers, func(i int) error {
		ops := []store.Op{
			store.CreateConnection{Conn: conn(connection.UserKey(acctA, sn, fmt.Sprintf("u%02d", i)), time.Time{})},
			store.AdjustCounts{Account: acctA, Vendor: sn, Total: 1},
		}
		if i%2 == 1 {
			// Fails: the connection exists at version 1.
			ops = append(ops, store.DeleteConnection{Key: present.Key, Version: 7})
		}
		return s.Apply(t.Context(), ops...)
	})
	for i, err := range errs {
		switch {
		case i%2 == 0 && err != nil:
			t.Fatalf("transaction %d: %v", i, err)
		case i%2 == 1:
			wantErr(t, fmt.Sprintf("transaction %d", i), err, store.ErrConflict)
		}
		_, gerr := s.GetConnection(t.Context(), connection.UserKey(acctA, sn, fmt.Sprintf("u%02d", i)))
		if stored := gerr == nil; stored != (i%2 == 0) {
			t.Fatalf("connection of transaction %d: stored %v (%v), want %v", i, stored, gerr, i%2 == 0)
		}
	}
	assertCounts(t, s, acctA, sn, connection.Counts{Total: racers / 2})
	same(t, "the connection the failed ones named", mustGet(t, s, present.Key), present)
}
