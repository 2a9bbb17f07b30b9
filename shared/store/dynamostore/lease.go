package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store/layout"
)

// AcquireLease takes the lease if it is free, lapsed at now or already the
// owner's, bumps the version and returns the connection as stored after.
func (s *Store) AcquireLease(ctx context.Context, k connection.Key, owner string, now, until time.Time) (connection.Connection, error) {
	it, err := leaseItem(k, owner)
	if err != nil {
		return connection.Connection{}, err
	}
	leaseOwner, leaseUntil := expression.Name("LeaseOwner"), expression.Name("LeaseUntil")
	w, err := s.update(it,
		expression.Set(leaseOwner, expression.Value(owner)).
			Set(leaseUntil, expression.Value(layout.Time(until))).
			Set(expression.Name("Version"), expression.Name("Version").Plus(expression.Value(1))),
		itemExists.And(takeable(leaseOwner, leaseUntil, owner, now)))
	if err != nil {
		return connection.Connection{}, fmt.Errorf("dynamostore: %w", err)
	}
	in := updateInput(w.Update)
	in.ReturnValues = types.ReturnValueAllNew
	in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	out, err := s.db.UpdateItem(ctx, in)
	if err != nil {
		return connection.Connection{}, missingOrConflict("lease of "+k.String(), err)
	}
	return decodeConn(out.Attributes)
}

// ReleaseLease frees the owner's lease and bumps the version; a lease held
// by someone else, or a missing connection, is left alone.
func (s *Store) ReleaseLease(ctx context.Context, k connection.Key, owner string) error {
	it, err := leaseItem(k, owner)
	if err != nil {
		return err
	}
	w, err := s.update(it,
		expression.Remove(expression.Name("LeaseOwner")).
			Remove(expression.Name("LeaseUntil")).
			Set(expression.Name("Version"), expression.Name("Version").Plus(expression.Value(1))),
		expression.Name("LeaseOwner").Equal(expression.Value(owner)))
	if err != nil {
		return fmt.Errorf("dynamostore: %w", err)
	}
	err = s.writeOne(ctx, w)
	if _, failedCond := conditionFailed(err); err != nil && !failedCond {
		return failed("release lease of "+k.String(), err)
	}
	return nil
}

// takeable is the condition that owner may take, at now, a hold (a lease,
// or a notice's claim) whose holder and expiry are the attributes by and
// until: there is none, it has lapsed, or it is owner's already.
func takeable(by, until expression.NameBuilder, owner string, now time.Time) expression.ConditionBuilder {
	return expression.Or(
		expression.AttributeNotExists(until),
		until.LessThanEqual(expression.Value(layout.Time(now))),
		by.Equal(expression.Value(owner)))
}

func leaseItem(k connection.Key, owner string) (layout.Item, error) {
	if owner == "" {
		return layout.Item{}, errors.New("dynamostore: lease without an owner")
	}
	it, err := layout.ConnItem(k)
	if err != nil {
		return it, fmt.Errorf("dynamostore: %w", err)
	}
	return it, nil
}

// missingOrConflict maps the error of a conditional write that asked for
// the old item on failure: no old item is ErrNotFound, one whose condition
// failed is ErrConflict.
func missingOrConflict(what string, err error) error {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return failed(what, err)
	}
	if len(ccf.Item) == 0 {
		return notFound(what)
	}
	return conflict(what)
}
