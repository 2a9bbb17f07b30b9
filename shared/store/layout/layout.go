// Package layout is the storage-neutral key layout of the store: the partition
// and sort keys of every item, the keys of the sparse expiry index, the time
// encoding and the rules an Apply must satisfy. dynamostore writes the table
// with it; memstore orders and checks with it too, so both stores sort,
// page and refuse exactly alike.
package layout

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
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
		return ConnPrefix + k.Vendor + "#APP", nil
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
func UserConnPrefix(vendor string) string { return ConnPrefix + vendor + "#USER#" }

// SettingsItem is the item of an account's settings of a vendor.
func SettingsItem(account, vendor string) Item {
	return Item{AccountPK(account), SettingsPrefix + vendor}
}

// ConnPrefix starts the sort keys of every connection.
const ConnPrefix = "CONN#"

// SettingsPrefix starts the sort keys of every settings item.
const SettingsPrefix = "SETTINGS#"

// SweepMarkItem is the item of the token-store sweep's mark.
var SweepMarkItem = Item{"SWEEP", "MARK"}

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
	case store.AppendAudit:
		return AuditItem(op.Entry)
	case store.AddNotice:
		return NoticeItem(op.Notice.Account, op.Notice.UserID, op.Notice.ID), nil
	case store.NoticeSent:
		if op.Owner == "" || op.At.IsZero() {
			return Item{}, errors.New("notice sent without an owner or a time")
		}
		return NoticeItem(op.Account, op.UserID, op.ID), nil
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

// AuditPrefix starts the sort keys of an account's audit entries.
const AuditPrefix = "AUDIT#"

// AuditSK is the sort key of an audit entry: its time, then its id, so
// that an account's entries sort by time (and by id within a time).
func AuditSK(at time.Time, id string) string { return AuditPrefix + Time(at) + "#" + id }

// AuditItem is the item of an audit entry: under its account, at AuditSK.
// An entry without an account, vendor, action or time, or whose id is not
// 1 to 64 URL-safe characters, has none.
func AuditItem(e connection.AuditEntry) (Item, error) {
	switch {
	case e.Account == "" || e.Vendor == "" || e.Action == "":
		return Item{}, errors.New("audit entry without an account, vendor or action")
	case e.At.IsZero():
		return Item{}, errors.New("audit entry without a time")
	case !validAuditID(e.ID):
		return Item{}, fmt.Errorf("audit entry id %q is not 1 to 64 URL-safe characters", e.ID)
	}
	return Item{AccountPK(e.Account), AuditSK(e.At, e.ID)}, nil
}

func validAuditID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validAuditSK reports whether sk has the shape of AuditSK.
func validAuditSK(sk string) bool {
	rest, ok := strings.CutPrefix(sk, AuditPrefix)
	if !ok {
		return false
	}
	ts, id, ok := strings.Cut(rest, "#")
	at, err := time.Parse(TimeLayout, ts)
	return ok && err == nil && Time(at) == ts && validAuditID(id)
}

// AuditExpired reports whether an entry is past its retention at now, as
// DynamoDB's TTL sees it: in whole epoch seconds (a zero ExpiresAt never
// expires).
func AuditExpired(e connection.AuditEntry, now time.Time) bool {
	return !e.ExpiresAt.IsZero() && e.ExpiresAt.Unix() <= now.Unix()
}

// auditCursor is where a page of an audit listing ended: the sort key of
// its last entry, with the listing it belongs to and a checksum.
type auditCursor struct {
	Account string `json:"a"`
	Vendor  string `json:"v,omitempty"`
	SK      string `json:"k"`
	Sum     string `json:"s"`
}

func auditCursorSum(account, vendor, sk string) string {
	h := sha256.Sum256(fmt.Appendf(nil, "audit-cursor|%q|%q|%q", account, vendor, sk))
	return hex.EncodeToString(h[:8])
}

// AuditCursor is the opaque cursor of the page after the entry at sk in
// the listing of account (and vendor, "" for all).
func AuditCursor(account, vendor, sk string) string {
	b, _ := json.Marshal(auditCursor{account, vendor, sk, auditCursorSum(account, vendor, sk)}) // strings only: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseAuditCursor returns the sort key a cursor of the listing of account
// (and vendor) resumes after. A cursor that is not one AuditCursor made for
// this very listing (altered, truncated, of another account or vendor
// filter) is store.ErrBadCursor. The cursor is not a secret: it only says
// where in the caller's own timeline to go on.
func ParseAuditCursor(cursor, account, vendor string) (string, error) {
	bad := fmt.Errorf("audit cursor: %w", store.ErrBadCursor)
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", bad
	}
	var c auditCursor
	if json.Unmarshal(b, &c) != nil || c.Account != account || c.Vendor != vendor || !validAuditSK(c.SK) ||
		c.Sum != auditCursorSum(c.Account, c.Vendor, c.SK) || AuditCursor(c.Account, c.Vendor, c.SK) != cursor {
		return "", bad
	}
	return c.SK, nil
}
