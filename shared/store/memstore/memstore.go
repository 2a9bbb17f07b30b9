// Package memstore is an in-memory store.Store for the local server and unit
// tests. It keeps the DynamoDB store's layout and rules (see layout), so the
// two behave alike: same errors, atomicity, versions, ordering and paging.
// It checks expiry times itself, as the DynamoDB store must.
package memstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/layout"
)

// Store is an in-memory store, safe for concurrent use.
type Store struct {
	mu       sync.Mutex
	conns    map[layout.Item]connection.Connection
	settings map[layout.Item]connection.Settings
	counts   map[layout.Item]connection.Counts
	notices  map[layout.Item]connection.Notice
	states   map[layout.Item]connection.AuthState
	audit    map[layout.Item]connection.AuditEntry
	// due is the expiry index over conns: every write of a connection
	// goes through putConn or dropConn, which keep it in step.
	due *dueIndex
	// sweepMark is the token-store sweep's mark (nil: none yet).
	sweepMark *store.SweepMark

	// feed gets the audit entries of each commit (OnCommit), one commit
	// at a time in commit order: a commit takes turn feedNext (under mu)
	// and is fed when feedTurn reaches it (under feedMu).
	feed               func(context.Context, []connection.AuditEntry)
	feedNext, feedTurn uint64
	feedMu             sync.Mutex
	feedCond           *sync.Cond
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	s := &Store{
		conns:    map[layout.Item]connection.Connection{},
		settings: map[layout.Item]connection.Settings{},
		counts:   map[layout.Item]connection.Counts{},
		notices:  map[layout.Item]connection.Notice{},
		states:   map[layout.Item]connection.AuthState{},
		audit:    map[layout.Item]connection.AuditEntry{},
		due:      newDueIndex(),
	}
	s.feedCond = sync.NewCond(&s.feedMu)
	return s
}

// lock takes the store's lock unless ctx is already done; the caller
// unlocks.
func (s *Store) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	return nil
}

// putConn stores c at it and indexes it (the lock is held).
func (s *Store) putConn(it layout.Item, c connection.Connection) {
	s.conns[it] = c
	s.due.put(it, c)
}

// dropConn removes the connection at it and its index entry (the lock is
// held).
func (s *Store) dropConn(it layout.Item) {
	delete(s.conns, it)
	s.due.drop(it)
}

// get reads the value at it in m, one of the store's maps; a missing one is
// ErrNotFound. what names it in errors.
func get[T any](ctx context.Context, s *Store, m map[layout.Item]T, it layout.Item, what string) (T, error) {
	var zero T
	if err := s.lock(ctx); err != nil {
		return zero, err
	}
	defer s.mu.Unlock()
	v, ok := m[it]
	if !ok {
		return zero, notFound(what)
	}
	return v, nil
}

// takeable reports whether owner may take, at now, a hold (a lease, or a
// notice's claim) by holder until `until`: there is none, it has lapsed, or
// it is owner's already.
func takeable(holder string, until time.Time, owner string, now time.Time) bool {
	return until.IsZero() || !until.After(now) || holder == owner
}

// entry is one item of a sorted listing, under the sort key it pages by.
type entry[T any] struct {
	key string
	val T
}

// page sorts entries by key and returns those after the token, at most
// limit of them, and the token of the next page ("" when none follow). A
// token names the listing it belongs to (query: the partition and key
// prefix, as the DynamoDB store's tokens carry its keys) and is refused by
// any other listing.
func page[T any](entries []entry[T], query, token string, limit int) ([]T, string, error) {
	after, err := decodeToken(query, token)
	if err != nil {
		return nil, "", err
	}
	if limit <= 0 {
		limit = layout.DefaultLimit
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	out, last := []T{}, ""
	for _, e := range entries {
		if token != "" && e.key <= after {
			continue
		}
		if len(out) == limit {
			return out, encodeToken(query, last), nil
		}
		out, last = append(out, e.val), e.key
	}
	return out, "", nil
}

// pageToken is what a token holds: the listing and the last key returned.
type pageToken struct {
	Query string `json:"q"`
	After string `json:"a"`
}

func encodeToken(query, key string) string {
	b, _ := json.Marshal(pageToken{query, key}) // strings only: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// errToken: a page token this store did not hand out for this listing;
// it is a store.ErrBadCursor.
var errToken error = tokenError{}

type tokenError struct{}

func (tokenError) Error() string        { return "memstore: invalid page token" }
func (tokenError) Is(target error) bool { return target == store.ErrBadCursor }

func decodeToken(query, token string) (string, error) {
	if token == "" {
		return "", nil
	}
	var k pageToken
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || json.Unmarshal(b, &k) != nil || k.Query != query || k.After == "" {
		return "", errToken
	}
	return k.After, nil
}

// utc puts times into the form the DynamoDB store returns them in (UTC, no
// monotonic reading); Equal is unchanged.
func utc(ts ...*time.Time) {
	for _, t := range ts {
		*t = t.UTC()
	}
}

func normConn(c connection.Connection) connection.Connection {
	utc(&c.GrantedAt, &c.AccessTokenExpiresAt, &c.RefreshTokenExpiresAt, &c.AbsoluteExpiresAt,
		&c.LastRefreshedAt, &c.ExpiredAt, &c.VendorErrorSince, &c.NextCheckAt, &c.LeaseUntil,
		&c.CreatedAt, &c.UpdatedAt)
	return c
}

func normSettings(s connection.Settings) connection.Settings {
	utc(&s.UpdatedAt)
	return s
}

func normNotice(n connection.Notice) connection.Notice {
	utc(&n.CreatedAt, &n.SentAt, &n.ClaimUntil)
	return n
}

// normAudit is an entry as stored: its own copy of the details (none when
// empty, as DynamoDB drops an empty map).
func normAudit(e connection.AuditEntry) connection.AuditEntry {
	utc(&e.At, &e.ExpiresAt)
	if len(e.Details) == 0 {
		e.Details = nil
	} else {
		e.Details = maps.Clone(e.Details)
	}
	return e
}

func normState(a connection.AuthState) connection.AuthState {
	utc(&a.CreatedAt, &a.ExpiresAt)
	return a
}

func notFound(what string) error { return fmt.Errorf("memstore: %s: %w", what, store.ErrNotFound) }
func conflict(what string) error { return fmt.Errorf("memstore: %s: %w", what, store.ErrConflict) }
