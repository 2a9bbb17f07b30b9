package memstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store/layout"
)

// CreateNotice stores n unless a notice with its id exists, and returns the
// stored notice.
func (s *Store) CreateNotice(ctx context.Context, n connection.Notice) (connection.Notice, bool, error) {
	if err := s.lock(ctx); err != nil {
		return connection.Notice{}, false, err
	}
	defer s.mu.Unlock()
	it := layout.NoticeItem(n.Account, n.UserID, n.ID)
	if old, ok := s.notices[it]; ok {
		return old, false, nil
	}
	n = normNotice(n)
	s.notices[it] = n
	return n, true, nil
}

// GetNotice reads one of a user's notices.
func (s *Store) GetNotice(ctx context.Context, account, userID, id string) (connection.Notice, error) {
	return get(ctx, s, s.notices, layout.NoticeItem(account, userID, id), "notice")
}

// ListNotices returns a user's undismissed notices, newest first (ties by
// id).
func (s *Store) ListNotices(ctx context.Context, account, userID string) ([]connection.Notice, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	pk, prefix := layout.AccountPK(account), layout.NoticePrefix(userID)
	out := []connection.Notice{}
	for it, n := range s.notices {
		if it.PK == pk && strings.HasPrefix(it.SK, prefix) && n.UserID == userID && !n.Dismissed {
			out = append(out, n)
		}
	}
	layout.SortNotices(out)
	return out, nil
}

// DismissNotice marks a notice dismissed.
func (s *Store) DismissNotice(ctx context.Context, account, userID, id string) error {
	return s.updateNotice(ctx, account, userID, id, func(n *connection.Notice) error {
		n.Dismissed = true
		return nil
	})
}

// ClaimNotice gives owner the right to send an unsent notice until `until`
// unless another owner's claim is still running at now.
func (s *Store) ClaimNotice(ctx context.Context, account, userID, id, owner string, now, until time.Time) error {
	if owner == "" {
		return errors.New("memstore: claim without an owner")
	}
	return s.updateNotice(ctx, account, userID, id, func(n *connection.Notice) error {
		if !n.SentAt.IsZero() {
			return conflict("notice already sent")
		}
		if !takeable(n.ClaimOwner, n.ClaimUntil, owner, now) {
			return conflict("notice claimed")
		}
		n.ClaimOwner, n.ClaimUntil = owner, until.UTC()
		return nil
	})
}

// MarkNoticeSent records the send by the claim's owner.
func (s *Store) MarkNoticeSent(ctx context.Context, account, userID, id, owner string, at time.Time) error {
	if owner == "" || at.IsZero() {
		return errors.New("memstore: mark sent without an owner or a time")
	}
	return s.updateNotice(ctx, account, userID, id, func(n *connection.Notice) error {
		if n.ClaimOwner != owner {
			return conflict("notice claimed by another")
		}
		n.SentAt = at.UTC()
		return nil
	})
}

// updateNotice changes a stored notice with fn, unless fn fails.
func (s *Store) updateNotice(ctx context.Context, account, userID, id string, fn func(*connection.Notice) error) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	it := layout.NoticeItem(account, userID, id)
	n, ok := s.notices[it]
	if !ok {
		return notFound("notice")
	}
	if err := fn(&n); err != nil {
		return err
	}
	s.notices[it] = n
	return nil
}
