// Package storetest is the contract every store.Store must meet. Run it
// from an implementation's tests with a factory of empty stores; each
// subtest gets its own store. Times are passed explicitly: nothing here
// sleeps or depends on the clock.
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
)

// Run runs the contract suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []testCase{
		{"ConnectionRoundTrip", testConnectionRoundTrip},
		{"ConnectionBadKey", testConnectionBadKey},
		{"CreateTwiceConflicts", testCreateTwice},
		{"UpdateVersions", testUpdateVersions},
		{"DeleteConnection", testDeleteConnection},
		{"ApplyIsAtomic", testApplyAtomic},
		{"ApplyLimits", testApplyLimits},
		{"ApplyChecks", testApplyChecks},
		{"Snapshot", testSnapshot},
		{"SnapshotManyVendors", testSnapshotManyVendors},
		{"AccountIsolation", testAccountIsolation},
		{"ListUserConnectionsPages", testListPages},
		{"ListUserConnectionsBadToken", testListBadToken},
		{"PageTokensStayInTheirListing", testForeignTokens},
		{"SettingsVersions", testSettings},
		{"StateSingleUse", testStateSingleUse},
		{"StateExpiry", testStateExpiry},
		{"NoticeCreateIdempotent", testNoticeCreate},
		{"NoticeListAndDismiss", testNoticeList},
		{"NoticeOtherUser", testNoticeOtherUser},
		{"NoticeDelete", testNoticeDelete},
		{"NoticeClaim", testNoticeClaim},
		{"Due", testDue},
		{"DuePages", testDuePages},
		{"DueFollowsUpdates", testDueFollowsUpdates},
		{"Lease", testLease},
		{"AuditRoundTrip", testAuditRoundTrip},
		{"AuditInApply", testAuditInApply},
		{"AuditOrderAndPages", testAuditOrderAndPages},
		{"AuditVendorFilter", testAuditVendorFilter},
		{"AuditAccountIsolation", testAuditAccountIsolation},
		{"AuditBadCursor", testAuditBadCursor},
		{"AuditRetention", testAuditRetention},
		{"AuditWithNoticeOps", testAuditWithNoticeOps},
		{"Sweep", testSweep},
		{"SweepMark", testSweepMark},
	}
	run(t, newStore, append(tests, concurrencyCases...))
}

// RunConcurrency runs only the cases that race goroutines against one
// another on one store.
func RunConcurrency(t *testing.T, newStore func(t *testing.T) store.Store) {
	run(t, newStore, concurrencyCases)
}

type testCase struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// concurrencyCases race goroutines on one store: conditional writes of one
// item, and transactions, must each apply atomically.
var concurrencyCases = []testCase{
	{"CountsUnderConcurrency", testConcurrentCounts},
	{"NoticeClaimConcurrent", testNoticeClaimConcurrent},
	{"LeaseConcurrent", testLeaseConcurrent},
	{"CreateConcurrent", testConcurrentCreate},
	{"UpdateConcurrent", testConcurrentUpdate},
	{"SettingsConcurrent", testConcurrentSettings},
	{"StateConsumeConcurrent", testConcurrentConsume},
	{"NoticeCreateConcurrent", testConcurrentNoticeCreate},
	{"ConnectsConcurrent", testConcurrentConnects},
	{"ConnectsRaceAppRemoval", testConnectsRaceAppRemoval},
	{"TransactionsIsolated", testConcurrentTransactionsIsolated},
}

func run(t *testing.T, newStore func(t *testing.T) store.Store, tests []testCase) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// t0 is the suite's "now": nanosecond precision, not in UTC.
var t0 = time.Date(2030, 3, 4, 5, 6, 7, 123456789, time.FixedZone("UTC+2", 2*3600))

const (
	acctA, acctB = "acct-a", "acct-b"
	sn, cf       = "servicenow", "confluence"
)

// fullConn is a connection with every field set.
func fullConn(k connection.Key, at time.Time) connection.Connection {
	return connection.Connection{
		Key:                   k,
		ID:                    "id-" + k.String(),
		Instance:              "https://acme.service-now.com",
		SiteID:                "site-1",
		ConnectedUser:         connection.Identity{ID: "vu-1", Name: "Ada Admin", Email: "ada@acme.com"},
		ConnectedBy:           connection.Person{UserID: "p-1", Email: "pat@acme.com", Name: "Pat"},
		SecretName:            "conn/" + k.String(),
		SecretVersion:         "ver-1",
		Generation:            3,
		GrantedScope:          "useraccount offline_access",
		GrantedAt:             at,
		AccessTokenExpiresAt:  at.Add(30 * time.Minute),
		RefreshTokenExpiresAt: at.Add(100 * 24 * time.Hour),
		AbsoluteExpiresAt:     at.Add(365 * 24 * time.Hour),
		LastRefreshedAt:       at.Add(time.Minute),
		Expired:               true,
		ExpiredAt:             at.Add(2 * time.Hour),
		ExpiredReason:         "invalid_grant",
		VendorErrorSince:      at.Add(time.Hour),
		NextCheckAt:           at.Add(24 * time.Hour),
		LeaseOwner:            "worker-0",
		LeaseUntil:            at.Add(5 * time.Minute),
		Version:               7, // ignored by CreateConnection
		CreatedAt:             time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC),
		UpdatedAt:             at.Add(time.Second),
	}
}

// conn is a small connection checked next at next (zero: never).
func conn(k connection.Key, next time.Time) connection.Connection {
	return connection.Connection{Key: k, ID: "id-" + k.String(), CreatedAt: t0, NextCheckAt: next}
}

// create stores connections one Apply each and returns them as stored.
func create(t *testing.T, s store.Store, cs ...connection.Connection) []connection.Connection {
	t.Helper()
	out := make([]connection.Connection, len(cs))
	for i, c := range cs {
		mustApply(t, s, store.CreateConnection{Conn: c})
		c.Version = 1
		out[i] = c
	}
	return out
}

func mustApply(t *testing.T, s store.Store, ops ...store.Op) {
	t.Helper()
	if err := s.Apply(t.Context(), ops...); err != nil {
		t.Fatalf("apply %d ops: %v", len(ops), err)
	}
}

func mustGet(t *testing.T, s store.Store, k connection.Key) connection.Connection {
	t.Helper()
	c, err := s.GetConnection(t.Context(), k)
	if err != nil {
		t.Fatalf("get %s: %v", k, err)
	}
	return c
}

// wantErr fails unless err is target (nil: any error that is neither
// ErrNotFound nor ErrConflict).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	switch {
	case target != nil && !errors.Is(err, target):
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	case target == nil && (err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict)):
		t.Fatalf("%s: got error %v, want a plain error", what, err)
	}
}

// same fails unless got equals want, comparing times with Equal.
func same[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if g, w := canon(got), canon(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

// canon puts every time in x into UTC without a monotonic reading: a form
// in which two times are DeepEqual exactly when they are Equal.
func canon[T any](x T) T {
	v := reflect.ValueOf(&x).Elem()
	canonValue(v)
	return x
}

var timeType = reflect.TypeFor[time.Time]()

func canonValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC()))
			return
		}
		for i := range v.NumField() {
			if v.Field(i).CanSet() {
				canonValue(v.Field(i))
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			e := reflect.New(v.Elem().Type())
			e.Elem().Set(v.Elem())
			canonValue(e.Elem())
			v.Set(e)
		}
	case reflect.Slice:
		if !v.IsNil() {
			c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			reflect.Copy(c, v)
			for i := range c.Len() {
				canonValue(c.Index(i))
			}
			v.Set(c)
		}
	case reflect.Map:
		if !v.IsNil() {
			c := reflect.MakeMapWithSize(v.Type(), v.Len())
			for it := v.MapRange(); it.Next(); {
				e := reflect.New(it.Value().Type()).Elem()
				e.Set(it.Value())
				canonValue(e)
				c.SetMapIndex(it.Key(), e)
			}
			v.Set(c)
		}
	}
}

// userKeysInShard returns n user keys of an account and vendor that fall
// in the given shard of the expiry index.
func userKeysInShard(account, vendor string, shard, n int) []connection.Key {
	var out []connection.Key
	for i := 0; len(out) < n; i++ {
		k := connection.UserKey(account, vendor, fmt.Sprintf("user-%03d", i))
		if store.Shard(k) == shard {
			out = append(out, k)
		}
	}
	return out
}

// ids lists the keys of connections, to compare orders.
func ids(cs []connection.Connection) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Key.String()
	}
	return out
}
