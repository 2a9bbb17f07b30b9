// Package store is the service's state: connections, settings, counters,
// notices and OAuth states, behind one interface with two implementations
// (DynamoDB in dynamostore, in-memory in memstore) that pass the same
// contract suite (storetest).
package store

import (
	"context"
	"errors"
	"hash/fnv"
	"time"

	"github.com/workplace/connections/shared/connection"
)

// Errors every implementation returns (wrapped) so callers can use errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a condition failed (the item exists, or its version moved).
	ErrConflict = errors.New("store: conflict")
	// ErrBadCursor: a listing cursor that this store did not hand out for
	// this very listing (tampered with, truncated, or from another
	// account or filter).
	ErrBadCursor = errors.New("store: invalid cursor")
)

// Store is the state of the service. Every method is scoped to one account
// except the expiry index and the states, which are keyed by random values.
// The audit timeline is written only through Apply (AppendAudit), in the
// same transaction as the change each entry records.
type Store interface {
	// Snapshot reads, for each vendor, the app connection, the given user's
	// connection, the settings and the counters, in O(1) round trips however
	// many users the account has.
	Snapshot(ctx context.Context, account, userID string, vendors []string) (map[string]connection.VendorSnapshot, error)

	GetConnection(ctx context.Context, k connection.Key) (connection.Connection, error)
	// ListUserConnections pages through a vendor's user-level connections in
	// an account. An empty next token means the last page.
	ListUserConnections(ctx context.Context, account, vendor, pageToken string, limit int) ([]connection.Connection, string, error)

	// Apply performs all ops atomically, or none (ErrConflict when a
	// condition fails).
	Apply(ctx context.Context, ops ...Op) error

	GetSettings(ctx context.Context, account, vendor string) (connection.Settings, error)

	PutState(ctx context.Context, s connection.AuthState) error
	// ConsumeState deletes the state and returns it; a state that is
	// missing, already consumed or expired at now is ErrNotFound.
	ConsumeState(ctx context.Context, nonce string, now time.Time) (connection.AuthState, error)

	// CreateNotice stores a notice unless one with its id exists; it
	// returns the stored one either way and whether it was created.
	CreateNotice(ctx context.Context, n connection.Notice) (connection.Notice, bool, error)
	GetNotice(ctx context.Context, account, userID, id string) (connection.Notice, error)
	// ListNotices returns a user's undismissed notices, newest first.
	ListNotices(ctx context.Context, account, userID string) ([]connection.Notice, error)
	DismissNotice(ctx context.Context, account, userID, id string) error
	// ClaimNotice takes the right to send a notice's email until `until`,
	// if it is unsent and nobody else holds an unexpired claim.
	ClaimNotice(ctx context.Context, account, userID, id, owner string, now, until time.Time) error
	// MarkNoticeSent records the email as sent by the claim owner.
	MarkNoticeSent(ctx context.Context, account, userID, id, owner string, at time.Time) error

	// Due pages through the connections of one shard of the expiry index
	// whose next check is at or before now, oldest first. Only each
	// connection's Key is sure to be filled in (the index holds no more);
	// AcquireLease reads the whole connection.
	Due(ctx context.Context, shard int, now time.Time, pageToken string, limit int) ([]connection.Connection, string, error)
	// AcquireLease takes the connection's lease (for a refresh) if it is
	// free or lapsed at now, and returns the connection as stored after.
	AcquireLease(ctx context.Context, k connection.Key, owner string, now, until time.Time) (connection.Connection, error)
	// ReleaseLease frees a lease the owner holds; a lease taken over by
	// someone else is left alone.
	ReleaseLease(ctx context.Context, k connection.Key, owner string) error

	// ListAudit pages through an account's audit timeline, newest first
	// (by At; entries of the same At by ID, greatest first), of one vendor
	// when vendor is not "". Entries past their ExpiresAt are left out
	// (the table's TTL deletes them only eventually). cursor is "" or the
	// next of a previous page of the same account and vendor filter;
	// anything else is ErrBadCursor. An empty next means the last page.
	ListAudit(ctx context.Context, account, vendor, cursor string, limit int) (entries []connection.AuditEntry, next string, err error)

	// Sweep pages through every connection and every settings item of
	// the deployment, of all accounts (the items that may point at a
	// secret), in an order that stays the same across pages. A page reads
	// at most limit items of the table and may return fewer, even none,
	// with a next page to follow; an empty next means the sweep is
	// through. Each item carries the token that resumes after it, so a
	// sweep stopped inside a page goes on where it stopped. Eventually
	// consistent: an item written during a sweep may be missed (it was
	// written where it belongs).
	Sweep(ctx context.Context, pageToken string, limit int) (items []SweepItem, next string, err error)
	// GetSweepMark reads where the sweep of the token stores stands
	// (ErrNotFound before the first); PutSweepMark replaces it.
	GetSweepMark(ctx context.Context) (SweepMark, error)
	PutSweepMark(ctx context.Context, m SweepMark) error
}

// SweepItem is one item of a Sweep: a connection or settings (the other
// is nil), and the page token that resumes the sweep after it.
type SweepItem struct {
	Conn     *connection.Connection
	Settings *connection.Settings
	After    string
}

// SweepMark is where the sweep of the token stores stands: for the token
// store Mode, the page token to go on from (Cursor, "" at the start),
// how many items of the pass so far kept a secret elsewhere or an old
// copy (Missed: the pass is followed by another), how many passes ended
// before this one (Pass), or Done when a whole pass left none.
type SweepMark struct {
	Mode      string
	Cursor    string
	Missed    int
	Pass      int
	Done      bool
	UpdatedAt time.Time
}

// DueShards is how many shards the expiry index is spread over.
const DueShards = 4

// Op is one change inside Apply.
type Op interface{ isOp() }

// CreateConnection stores a new connection; it fails if one exists at the
// key. The stored version is 1.
type CreateConnection struct{ Conn connection.Connection }

// UpdateConnection replaces a connection whose stored version is
// Conn.Version; the stored version becomes Conn.Version+1.
type UpdateConnection struct{ Conn connection.Connection }

// DeleteConnection removes a connection at the given version.
type DeleteConnection struct {
	Key     connection.Key
	Version int64
}

// AdjustCounts moves an account's user-level counters for a vendor.
type AdjustCounts struct {
	Account, Vendor  string
	Total, Connected int
}

// PutSettings stores settings whose stored version is Settings.Version (0:
// must not exist); the stored version becomes Settings.Version+1.
type PutSettings struct{ Settings connection.Settings }

// DeleteNotice removes a notice if it exists.
type DeleteNotice struct{ Account, UserID, ID string }

// CheckConnection requires a connection to exist (any version); it writes
// nothing. A user-level connection is created only while its app-level
// connection exists.
type CheckConnection struct{ Key connection.Key }

// CheckNoUsers requires the vendor's user-level counter to be zero (or
// absent); it writes nothing. An app-level connection is removed only while
// no user-level connection exists, even one created concurrently.
type CheckNoUsers struct{ Account, Vendor string }

// AppendAudit adds an entry to the account's audit timeline (the entry's
// Account). It is unconditional: written again with the same id (a retried
// write), it is the same entry.
type AppendAudit struct{ Entry connection.AuditEntry }

// AddNotice stores a new notice; it fails (ErrConflict) if a notice with
// its id exists. CreateNotice does the same outside a transaction.
type AddNotice struct{ Notice connection.Notice }

// NoticeSent records a notice's email as sent at At by the claim's Owner;
// it fails (ErrConflict) unless the notice exists and Owner holds its
// claim. MarkNoticeSent does the same outside a transaction.
type NoticeSent struct {
	Account, UserID, ID, Owner string
	At                         time.Time
}

func (CheckConnection) isOp()  {}
func (CheckNoUsers) isOp()     {}
func (CreateConnection) isOp() {}
func (UpdateConnection) isOp() {}
func (DeleteConnection) isOp() {}
func (AdjustCounts) isOp()     {}
func (PutSettings) isOp()      {}
func (DeleteNotice) isOp()     {}
func (AppendAudit) isOp()      {}
func (AddNotice) isOp()        {}
func (NoticeSent) isOp()       {}

// Shard is the expiry-index shard of a connection key.
func Shard(k connection.Key) int {
	h := fnv.New32a()
	h.Write([]byte(k.String()))
	return int(h.Sum32() % DueShards)
}

// DeleteNotices removes the notices of the given kinds (all kinds when none
// are named) of a connection's current token generation.
func DeleteNotices(c connection.Connection, kinds ...connection.NoticeKind) []Op {
	if len(kinds) == 0 {
		kinds = connection.NoticeKinds
	}
	ops := make([]Op, 0, len(kinds))
	for _, kind := range kinds {
		ops = append(ops, DeleteNotice{Account: c.Account, UserID: c.NoticeRecipient().UserID, ID: connection.NoticeID(c.Key, kind, c.Generation)})
	}
	return ops
}

// SettingsOf reads an account's settings of a vendor: nil, and no error,
// when the account has none. Under a WithSettingsCache context it reads
// them once for all the context's callers.
func SettingsOf(ctx context.Context, st Store, account, vendor string) (*connection.Settings, error) {
	if c, ok := ctx.Value(settingsCacheKey{}).(*settingsCache); ok {
		return c.settingsOf(ctx, st, account, vendor)
	}
	return readSettings(ctx, st, account, vendor)
}

func readSettings(ctx context.Context, st Store, account, vendor string) (*connection.Settings, error) {
	s, err := st.GetSettings(ctx, account, vendor)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}
