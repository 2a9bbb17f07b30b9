package memstore

import (
	"context"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store/layout"
)

// ListAudit pages through an account's audit timeline, newest first, in
// the DynamoDB store's order (sort key descending) and with its cursors.
// Entries past their retention (real time, as DynamoDB's TTL) are left
// out.
func (s *Store) ListAudit(ctx context.Context, account, vendor, cursor string, limit int) ([]connection.AuditEntry, string, error) {
	after := ""
	if cursor != "" {
		var err error
		if after, err = layout.ParseAuditCursor(cursor, account, vendor); err != nil {
			return nil, "", err
		}
	}
	if limit <= 0 {
		limit = layout.DefaultLimit
	}
	if err := s.lock(ctx); err != nil {
		return nil, "", err
	}
	defer s.mu.Unlock()
	now := time.Now()
	pk := layout.AccountPK(account)
	var sks []string
	for it, e := range s.audit {
		if it.PK != pk || !strings.HasPrefix(it.SK, layout.AuditPrefix) || (after != "" && it.SK >= after) ||
			(vendor != "" && e.Vendor != vendor) || layout.AuditExpired(e, now) {
			continue
		}
		sks = append(sks, it.SK)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(sks)))
	out := []connection.AuditEntry{}
	for _, sk := range sks {
		if len(out) == limit {
			return out, layout.AuditCursor(account, vendor, layout.AuditSK(out[limit-1].At, out[limit-1].ID)), nil
		}
		e := s.audit[layout.Item{PK: pk, SK: sk}]
		e.Details = maps.Clone(e.Details)
		out = append(out, e)
	}
	return out, "", nil
}
