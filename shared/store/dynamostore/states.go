package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store/dynamostore/layout"
)

// GetSettings reads an account's settings of a vendor (strongly
// consistent).
func (s *Store) GetSettings(ctx context.Context, account, vendor string) (connection.Settings, error) {
	what := "settings of " + account + "/" + vendor
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.table, Key: itemKey(layout.SettingsItem(account, vendor)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return connection.Settings{}, failed("get "+what, err)
	}
	if len(out.Item) == 0 {
		return connection.Settings{}, notFound(what)
	}
	return decodeSettings(out.Item)
}

func decodeSettings(item map[string]types.AttributeValue) (connection.Settings, error) {
	return decode(item, "settings", settingsRecord.settings)
}

// PutState stores an OAuth state; a nonce already in use is ErrConflict.
func (s *Store) PutState(ctx context.Context, a connection.AuthState) error {
	w, err := s.putItem(newStateRecord(a), expression.AttributeNotExists(expression.Name("PK")))
	if err != nil {
		return fmt.Errorf("dynamostore: put state: %w", err)
	}
	err = s.writeOne(ctx, w)
	if _, ok := conditionFailed(err); ok {
		return conflict("put state: nonce in use")
	}
	if err != nil {
		return failed("put state", err)
	}
	return nil
}

// ConsumeState deletes a state and returns it unless it had expired at now
// (DynamoDB's TTL deletes late, so the expiry is checked here).
func (s *Store) ConsumeState(ctx context.Context, nonce string, now time.Time) (connection.AuthState, error) {
	w, err := s.delete(layout.StateItem(nonce), expression.AttributeExists(expression.Name("PK")))
	if err != nil {
		return connection.AuthState{}, fmt.Errorf("dynamostore: consume state: %w", err)
	}
	in := deleteInput(w.Delete)
	in.ReturnValues = types.ReturnValueAllOld
	out, err := s.db.DeleteItem(ctx, in)
	if _, ok := conditionFailed(err); ok {
		return connection.AuthState{}, notFound("state")
	}
	if err != nil {
		return connection.AuthState{}, failed("consume state", err)
	}
	a, err := decode(out.Attributes, "state", stateRecord.state)
	if err != nil {
		return connection.AuthState{}, err
	}
	if !a.ExpiresAt.After(now) {
		return connection.AuthState{}, notFound("state expired")
	}
	return a, nil
}
