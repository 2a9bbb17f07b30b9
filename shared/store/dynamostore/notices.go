package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store/layout"
)

// CreateNotice stores n unless a notice with its id exists, and returns the
// stored notice.
func (s *Store) CreateNotice(ctx context.Context, n connection.Notice) (connection.Notice, bool, error) {
	r := newNoticeRecord(n)
	w, err := s.putItem(r, itemAbsent)
	if err != nil {
		return connection.Notice{}, false, fmt.Errorf("dynamostore: create notice: %w", err)
	}
	err = s.writeOne(ctx, w)
	if _, ok := conditionFailed(err); ok {
		old, err := s.GetNotice(ctx, n.Account, n.UserID, n.ID)
		// The very record we wrote is our own write, retried by the SDK
		// after its answer was lost: created, not found.
		return old, err == nil && newNoticeRecord(old) == r, err
	}
	if err != nil {
		return connection.Notice{}, false, failed("create notice", err)
	}
	created, err := r.notice()
	return created, true, err
}

// GetNotice reads one of a user's notices (strongly consistent).
func (s *Store) GetNotice(ctx context.Context, account, userID, id string) (connection.Notice, error) {
	return get(ctx, s, layout.NoticeItem(account, userID, id), "notice", decodeNotice)
}

func decodeNotice(item map[string]types.AttributeValue) (connection.Notice, error) {
	return decode(item, "notice", noticeRecord.notice)
}

// ListNotices returns a user's undismissed notices, newest first (ties by
// id).
func (s *Store) ListNotices(ctx context.Context, account, userID string) ([]connection.Notice, error) {
	in, err := s.query("", expression.Key("PK").Equal(expression.Value(layout.AccountPK(account))).
		And(expression.Key("SK").BeginsWith(layout.NoticePrefix(userID))))
	if err != nil {
		return nil, fmt.Errorf("dynamostore: %w", err)
	}
	out := []connection.Notice{}
	for p := dynamodb.NewQueryPaginator(s.db, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, failed("list notices", err)
		}
		for _, item := range page.Items {
			n, err := decodeNotice(item)
			if err != nil {
				return nil, err
			}
			// The prefix of user "u" also covers user "u#x": keep exact matches.
			if n.UserID == userID && !n.Dismissed {
				out = append(out, n)
			}
		}
	}
	layout.SortNotices(out)
	return out, nil
}

// DismissNotice marks a notice dismissed.
func (s *Store) DismissNotice(ctx context.Context, account, userID, id string) error {
	err := s.updateNotice(ctx, layout.NoticeItem(account, userID, id),
		expression.Set(expression.Name("Dismissed"), expression.Value(true)),
		itemExists)
	if _, ok := conditionFailed(err); ok {
		return notFound("notice")
	}
	if err != nil {
		return failed("dismiss notice", err)
	}
	return nil
}

// ClaimNotice gives owner the right to send an unsent notice until `until`
// unless another owner's claim is still running at now.
func (s *Store) ClaimNotice(ctx context.Context, account, userID, id, owner string, now, until time.Time) error {
	if owner == "" {
		return errors.New("dynamostore: claim without an owner")
	}
	claimOwner, claimUntil := expression.Name("ClaimOwner"), expression.Name("ClaimUntil")
	err := s.updateNotice(ctx, layout.NoticeItem(account, userID, id),
		expression.Set(claimOwner, expression.Value(owner)).Set(claimUntil, expression.Value(layout.Time(until))),
		itemExists.And(
			expression.AttributeNotExists(expression.Name("SentAt")),
			takeable(claimOwner, claimUntil, owner, now)))
	if err != nil {
		return missingOrConflict("claim notice", err)
	}
	return nil
}

// MarkNoticeSent records the send by the claim's owner.
func (s *Store) MarkNoticeSent(ctx context.Context, account, userID, id, owner string, at time.Time) error {
	if owner == "" || at.IsZero() {
		return errors.New("dynamostore: mark sent without an owner or a time")
	}
	err := s.updateNotice(ctx, layout.NoticeItem(account, userID, id),
		expression.Set(expression.Name("SentAt"), expression.Value(layout.Time(at))),
		expression.Name("ClaimOwner").Equal(expression.Value(owner)))
	if err != nil {
		return missingOrConflict("mark notice sent", err)
	}
	return nil
}

// updateNotice applies a conditional update to a notice; a failed
// condition comes back as a ConditionalCheckFailedException holding the
// item as it was (none if missing).
func (s *Store) updateNotice(ctx context.Context, it layout.Item, upd expression.UpdateBuilder, cond expression.ConditionBuilder) error {
	w, err := s.update(it, upd, cond)
	if err != nil {
		return err
	}
	in := updateInput(w.Update)
	in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	_, err = s.db.UpdateItem(ctx, in)
	return err
}
