// Package layout is the storage-neutral key layout of the store: the partition
// and sort keys of every item, the keys of the sparse expiry index, the time
// encoding and the rules an Apply must satisfy. dynamostore writes the table
// with it; memstore orders and checks with it too, so both stores sort,
// page and refuse exactly alike.
package layout

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
)

// TimeLayout is RFC 3339 with nanoseconds at fixed width. Times are stored
// in UTC with it, so comparing two stored strings compares the times.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Time encodes t for storage; the zero time is "" (stored as absent).
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

// ParseTime decodes a stored time; "" is the zero time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// Item names one item of the table.
type Item struct{ PK, SK string }

// StateSK is the sort key of every state item.
const StateSK = "STATE"

// MaxOps is the most ops one Apply may hold (DynamoDB's transaction limit).
const MaxOps = 100

// DefaultLimit is the page size used when a caller asks for limit <= 0.
const DefaultLimit = 100

// AccountPK is the partition of an account's items.
func AccountPK(account string) string { return "ACCOUNT#" + account }

// ConnSK is the sort key of a connection.
func ConnSK(k connection.Key) (string, error) {
	switch {
	case k.Level == connection.LevelApp:
		return "CONN#" + k.Vendor + "#APP", nil
	case k.Level == connection.LevelUser && k.UserID != "":
		return UserConnPrefix(k.Vendor) + k.UserID, nil
	case k.Level == connection.LevelUser:
		return "", errors.New("user-level connection key without a user id")
	}
	return "", fmt.Errorf("connection key with unknown level %q", k.Level)
}

// ConnItem is the item of a connection.
func ConnItem(k connection.Key) (Item, error) {
	sk, err := ConnSK(k)
	return Item{AccountPK(k.Account), sk}, err
}

// UserConnPrefix starts the sort keys of a vendor's user-level connections.
func UserConnPrefix(vendor string) string { return "CONN#" + vendor + "#USER#" }

// SettingsItem is the item of an account's settings of a vendor.
func SettingsItem(account, vendor string) Item {
	return Item{AccountPK(account), "SETTINGS#" + vendor}
}

// CountsItem is the item of an account's counters of a vendor.
func CountsItem(account, vendor string) Item {
	return Item{AccountPK(account), "COUNTS#" + vendor}
}

// NoticePrefix starts the sort keys of a user's notices.
func NoticePrefix(userID string) string { return "NOTICE#" + userID + "#" }

// NoticeItem is the item of a notice.
func NoticeItem(account, userID, id string) Item {
	return Item{AccountPK(account), NoticePrefix(userID) + id}
}

// StateItem is the item of an OAuth state.
func StateItem(nonce string) Item { return Item{"STATE#" + nonce, StateSK} }

// DuePK is the expiry-index partition of a shard.
func DuePK(shard int) string { return "DUE#" + strconv.Itoa(shard) }

// Due returns the expiry-index keys of a connection stored at it, or ok
// false when the connection is not in the index (zero NextCheckAt).
func Due(c connection.Connection, it Item) (pk, sk string, ok bool) {
	if c.NextCheckAt.IsZero() {
		return "", "", false
	}
	return DuePK(store.Shard(c.Key)), Time(c.NextCheckAt) + "#" + it.PK + "#" + it.SK, true
}

// DueUpper is the greatest index sort key that is due at now: every key
// whose time is at or before now sorts at or below it.
func DueUpper(now time.Time) string { return now.UTC().Format(TimeLayout) + "#~" }

// OpItem is the item an op writes.
func OpItem(op store.Op) (Item, error) {
	switch op := op.(type) {
	case store.CreateConnection:
		return ConnItem(op.Conn.Key)
	case store.UpdateConnection:
		return ConnItem(op.Conn.Key)
	case store.DeleteConnection:
		return ConnItem(op.Key)
	case store.AdjustCounts:
		return CountsItem(op.Account, op.Vendor), nil
	case store.PutSettings:
		return SettingsItem(op.Settings.Account, op.Settings.Vendor), nil
	case store.DeleteNotice:
		return NoticeItem(op.Account, op.UserID, op.ID), nil
	case store.CheckConnection:
		return ConnItem(op.Key)
	case store.CheckNoUsers:
		return CountsItem(op.Account, op.Vendor), nil
	}
	return Item{}, fmt.Errorf("unknown op %T", op)
}

// CheckOps refuses an Apply that DynamoDB would refuse before looking at
// any item: too many ops, an unknown op or bad key, or two ops on one item.
func CheckOps(ops []store.Op) error {
	if len(ops) > MaxOps {
		return fmt.Errorf("apply: %d ops, at most %d allowed", len(ops), MaxOps)
	}
	seen := make(map[Item]int, len(ops))
	for i, op := range ops {
		it, err := OpItem(op)
		if err != nil {
			return fmt.Errorf("apply: op %d: %w", i+1, err)
		}
		if j, dup := seen[it]; dup {
			return fmt.Errorf("apply: ops %d and %d write the same item", j+1, i+1)
		}
		seen[it] = i
	}
	return nil
}

// SortNotices puts notices in listing order: newest first, ties by id.
func SortNotices(ns []connection.Notice) {
	sort.Slice(ns, func(i, j int) bool {
		if !ns[i].CreatedAt.Equal(ns[j].CreatedAt) {
			return ns[i].CreatedAt.After(ns[j].CreatedAt)
		}
		return ns[i].ID < ns[j].ID
	})
}
