package layout_test

import (
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/layout"
)

func TestTimeSortsAsStrings(t *testing.T) {
	zone := time.FixedZone("UTC-5", -5*3600)
	times := []time.Time{
		time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2030, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(2029, 12, 31, 19, 0, 0, 100_000_000, zone), // 00:00:00.1 UTC
		time.Date(2030, 1, 1, 0, 0, 1, 0, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		a, b := layout.Time(times[i-1]), layout.Time(times[i])
		if len(a) != len(b) || a >= b {
			t.Errorf("%q does not sort before %q", a, b)
		}
		back, err := layout.ParseTime(b)
		if err != nil || !back.Equal(times[i]) {
			t.Errorf("parse %q: %v, %v", b, back, err)
		}
	}
	if layout.Time(time.Time{}) != "" {
		t.Error("zero time is not empty")
	}
}

func TestDueUpperCoversNow(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	k := connection.UserKey("~~~", "~~~", "~~~")
	it, err := layout.ConnItem(k)
	if err != nil {
		t.Fatal(err)
	}
	atNow := connection.Connection{Key: k, NextCheckAt: now}
	later := connection.Connection{Key: k, NextCheckAt: now.Add(time.Nanosecond)}
	pk, sk, ok := layout.Due(atNow, it)
	if !ok || pk != layout.DuePK(store.Shard(k)) || sk > layout.DueUpper(now) {
		t.Errorf("due at now: %q %q %v, upper %q", pk, sk, ok, layout.DueUpper(now))
	}
	if _, sk, _ := layout.Due(later, it); sk <= layout.DueUpper(now) {
		t.Errorf("due after now %q is below %q", sk, layout.DueUpper(now))
	}
	if _, _, ok := layout.Due(connection.Connection{Key: k}, it); ok {
		t.Error("a connection never checked is in the index")
	}
}

func TestCheckOps(t *testing.T) {
	k := connection.AppKey("a", "v")
	ok := []store.Op{
		store.CreateConnection{Conn: connection.Connection{Key: k}},
		store.DeleteConnection{Key: connection.UserKey("a", "v", "u"), Version: 1},
		store.AdjustCounts{Account: "a", Vendor: "v"},
		store.PutSettings{Settings: connection.Settings{Account: "a", Vendor: "v"}},
		store.DeleteNotice{Account: "a", UserID: "u", ID: "n"},
	}
	if err := layout.CheckOps(ok); err != nil {
		t.Errorf("distinct ops: %v", err)
	}
	for name, ops := range map[string][]store.Op{
		"same item": {store.CreateConnection{Conn: connection.Connection{Key: k}}, store.DeleteConnection{Key: k}},
		"bad key":   {store.DeleteConnection{Key: connection.Key{Account: "a", Vendor: "v", Level: connection.LevelUser}}},
		"too many":  make([]store.Op, layout.MaxOps+1),
	} {
		if err := layout.CheckOps(ops); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
