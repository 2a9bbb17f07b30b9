package storetest

import (
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
)

func testSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetSettings(ctx, acctA, sn)
	wantErr(t, "get missing", err, store.ErrNotFound)

	want := connection.Settings{Account: acctA, Vendor: sn, InstanceURL: "https://acme.service-now.com",
		ClientID: "client", ClientSecretName: "secret/name", RefreshTokenLifespanDays: 100,
		SiteURL: "https://acme.atlassian.net", UpdatedAt: t0, UpdatedBy: "u0"}
	mustApply(t, s, store.PutSettings{Settings: want})
	want.Version = 1
	got, err := s.GetSettings(ctx, acctA, sn)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "stored settings", got, want)

	again := want
	again.Version = 0
	wantErr(t, "create again", s.Apply(ctx, store.PutSettings{Settings: again}), store.ErrConflict)

	next := want
	next.ClientID, next.UpdatedAt = "client-2", t0.Add(time.Hour)
	mustApply(t, s, store.PutSettings{Settings: next})
	next.Version = 2

	stale := want // version 1
	stale.ClientID = "stale"
	wantErr(t, "stale put", s.Apply(ctx, store.PutSettings{Settings: stale}), store.ErrConflict)
	ahead := next
	ahead.Version = 5
	wantErr(t, "put ahead", s.Apply(ctx, store.PutSettings{Settings: ahead}), store.ErrConflict)
	got, err = s.GetSettings(ctx, acctA, sn)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "settings after refused puts", got, next)

	_, err = s.GetSettings(ctx, acctA, cf)
	wantErr(t, "other vendor", err, store.ErrNotFound)
}

func state(nonce string, expires time.Time) connection.AuthState {
	return connection.AuthState{Nonce: nonce, Account: acctA, UserID: "u1", Email: "u1@acme.com", Name: "U One",
		Vendor: sn, Flow: connection.LevelUser, Action: connection.ActionReconnect, Verifier: "verifier",
		Instance: "https://acme.service-now.com", CreatedAt: expires.Add(-10 * time.Minute), ExpiresAt: expires}
}

func testStateSingleUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := state("nonce-1", t0.Add(10*time.Minute))
	if err := s.PutState(ctx, a); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "put the same nonce", s.PutState(ctx, state("nonce-1", t0.Add(time.Hour))), store.ErrConflict)
	got, err := s.ConsumeState(ctx, "nonce-1", t0)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "consumed state", got, a)
	_, err = s.ConsumeState(ctx, "nonce-1", t0)
	wantErr(t, "second consume", err, store.ErrNotFound)
	_, err = s.ConsumeState(ctx, "never-issued", t0)
	wantErr(t, "unknown nonce", err, store.ErrNotFound)
}

func testStateExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, a := range []connection.AuthState{state("at-now", t0), state("just-after", t0.Add(time.Nanosecond))} {
		if err := s.PutState(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.ConsumeState(ctx, "at-now", t0)
	wantErr(t, "state expiring at now", err, store.ErrNotFound)
	_, err = s.ConsumeState(ctx, "at-now", t0.Add(-time.Hour))
	wantErr(t, "expired state stays consumed", err, store.ErrNotFound)
	if _, err := s.ConsumeState(ctx, "just-after", t0); err != nil {
		t.Fatalf("state expiring after now: %v", err)
	}
}
