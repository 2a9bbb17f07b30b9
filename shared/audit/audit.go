// Package audit is the audit timeline of an account: who connected,
// reconnected or changed the user of a connection, changed settings,
// disconnected it, what the scan (or the token broker, or a live check)
// found dead or working again, and which notices went out — newest first.
// The entries are written by the use cases that make the changes, in the
// changes' own transactions (store.AppendAudit); this package reads them.
package audit

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vendors"
)

// Page sizes of GET /v1/account/integrations/audit.
const (
	DefaultLimit = 50
	MaxLimit     = 100
)

// Timeline reads an account's audit timeline.
type Timeline struct {
	Store store.Store
}

// Query is GET /v1/account/integrations/audit?vendor=&limit=&cursor=, as
// the caller sent it.
type Query struct {
	Account    string
	AppManager bool
	Vendor     string // "" for every vendor
	Limit      string // "" for DefaultLimit
	Cursor     string // "" for the first page
}

// Page is one page of the timeline.
type Page struct {
	Entries []Entry `json:"entries"`
	// NextCursor fetches the next page; null on the last one.
	NextCursor *string `json:"nextCursor"`
}

// Entry is one line of the timeline as the API shows it: never a token or
// a secret (the entries hold none).
type Entry struct {
	ID           string                 `json:"id"`
	At           time.Time              `json:"at"`
	Vendor       string                 `json:"vendor"`
	Level        connection.Level       `json:"level"`
	User         string                 `json:"user,omitempty"` // the user-level connection's user
	ConnectionID string                 `json:"connectionId,omitempty"`
	Action       connection.AuditAction `json:"action"`
	Actor        connection.Actor       `json:"actor"`
	Details      map[string]string      `json:"details"`
}

func invalid(format string, args ...any) error {
	return problem.New(http.StatusBadRequest, "invalid_parameter", format, args...)
}

// List answers one page of the caller's account's timeline, newest first:
// app managers only (403 forbidden), a known vendor or none (404
// unknown_vendor), limit 1 to 100 (400 invalid_parameter), and a cursor
// only as a previous page of the same listing handed it out (400
// invalid_parameter).
func (t Timeline) List(ctx context.Context, q Query) (Page, error) {
	if !q.AppManager {
		return Page{}, problem.New(http.StatusForbidden, "forbidden", "only app managers can read the audit timeline")
	}
	if q.Vendor != "" {
		if _, ok := vendors.Lookup(q.Vendor); !ok {
			return Page{}, problem.New(http.StatusNotFound, "unknown_vendor", "there is no integration called %q", q.Vendor)
		}
	}
	limit := DefaultLimit
	if q.Limit != "" {
		n, err := strconv.Atoi(q.Limit)
		if err != nil || n < 1 || n > MaxLimit {
			return Page{}, invalid("limit must be a whole number from 1 to %d", MaxLimit)
		}
		limit = n
	}
	es, next, err := t.Store.ListAudit(ctx, q.Account, q.Vendor, q.Cursor, limit)
	if errors.Is(err, store.ErrBadCursor) {
		return Page{}, invalid("cursor is not one a previous page of this listing (same vendor filter) handed out; start from the first page")
	}
	if err != nil {
		return Page{}, err
	}
	p := Page{Entries: make([]Entry, len(es))}
	for i, e := range es {
		details := e.Details
		if details == nil {
			details = map[string]string{}
		}
		p.Entries[i] = Entry{
			ID: e.ID, At: e.At, Vendor: e.Vendor, Level: e.Level, User: e.UserID, ConnectionID: e.ConnectionID,
			Action: e.Action, Actor: e.Actor, Details: details,
		}
	}
	if next != "" {
		p.NextCursor = &next
	}
	return p, nil
}
