package dynamostore

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store/layout"
)

// GetSettings reads an account's settings of a vendor (strongly
// consistent).
func (s *Store) GetSettings(ctx context.Context, account, vendor string) (connection.Settings, error) {
	return get(ctx, s, layout.SettingsItem(account, vendor), "settings of "+account+"/"+vendor, decodeSettings)
}

func decodeSettings(item map[string]types.AttributeValue) (connection.Settings, error) {
	return decode(item, "settings", settingsRecord.settings)
}

// PutState stores an OAuth state; a nonce already in use is ErrConflict.
func (s *Store) PutState(ctx context.Context, a connection.AuthState) error {
	w, err := s.putItem(newStateRecord(a), itemAbsent)
	if err != nil {
		return fmt.Errorf("dynamostore: put state: %w", err)
	}
	err = s.writeOne(ctx, w)
	if _, ok := conditionFailed(err); ok {
		if s.sameState(ctx, a) {
			return nil // our own put, retried by the SDK after a lost answer
		}
		return conflict("put state: nonce in use")
	}
	if err != nil {
		return failed("put state", err)
	}
	return nil
}

// ConsumeState marks a state consumed and returns it unless it had expired
// at now (DynamoDB's TTL deletes late, so the expiry is checked here). The
// mark carries a token of this call, so the SDK retrying the request (after
// a lost answer) finds its own mark and succeeds, while any other consumer
// finds someone else's and fails: single use, also under retries.
//
// One write: the consumed item stays until its TTL (the state's expiry,
// minutes away) lets DynamoDB delete it, at no cost. A conditional
// DeleteItem returning the old item would be one write too, but the SDK's
// retry of a delete whose answer was lost finds nothing and would turn a
// good callback into invalid_state; the mark answers the retry with the
// state.
func (s *Store) ConsumeState(ctx context.Context, nonce string, now time.Time) (connection.AuthState, error) {
	mark := rand.Text()
	by := expression.Name("ConsumedBy")
	it := layout.StateItem(nonce)
	w, err := s.update(it, expression.Set(by, expression.Value(mark)),
		itemExists.And(expression.Or(expression.AttributeNotExists(by), by.Equal(expression.Value(mark)))))
	if err != nil {
		return connection.AuthState{}, fmt.Errorf("dynamostore: consume state: %w", err)
	}
	in := updateInput(w.Update)
	in.ReturnValues = types.ReturnValueAllNew
	out, err := s.db.UpdateItem(ctx, in)
	if _, ok := conditionFailed(err); ok {
		return connection.AuthState{}, notFound("state")
	}
	if err != nil {
		return connection.AuthState{}, failed("consume state", err)
	}
	a, err := decodeState(out.Attributes)
	if err != nil {
		return connection.AuthState{}, err
	}
	if !a.ExpiresAt.After(now) {
		return connection.AuthState{}, notFound("state expired")
	}
	return a, nil
}

func decodeState(item map[string]types.AttributeValue) (connection.AuthState, error) {
	return decode(item, "state", stateRecord.state)
}

// sameState reports whether the stored state at a's nonce is a itself.
func (s *Store) sameState(ctx context.Context, a connection.AuthState) bool {
	got, err := get(ctx, s, layout.StateItem(a.Nonce), "state", decodeState)
	return err == nil && got.Account == a.Account && got.UserID == a.UserID && got.Vendor == a.Vendor &&
		got.Verifier == a.Verifier && got.CreatedAt.Equal(a.CreatedAt)
}
