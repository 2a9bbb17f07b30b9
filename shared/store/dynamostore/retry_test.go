package dynamostore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/dynamostore"
)

// lostAnswer sends every PutItem, UpdateItem and DeleteItem twice and returns the second answer, as
// when the SDK retries a request whose first answer was lost on the way.
type lostAnswer struct{ dynamostore.API }

func (l lostAnswer) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return twice(ctx, l.API.UpdateItem, in, o)
}

func (l lostAnswer) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return twice(ctx, l.API.PutItem, in, o)
}

func (l lostAnswer) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return twice(ctx, l.API.DeleteItem, in, o)
}

// twice sends a request twice and returns the second answer.
func twice[In, Out any](ctx context.Context, send func(context.Context, In, ...func(*dynamodb.Options)) (Out, error), in In, o []func(*dynamodb.Options)) (Out, error) {
	if _, err := send(ctx, in, o...); err != nil {
		var none Out
		return none, err
	}
	return send(ctx, in, o...)
}

// TestConsumeStateSurvivesARetry: a retried put of a state succeeds, a
// retried consume is still the same consume (the caller gets its state),
// and the state stays single use; another state at the nonce conflicts.
func TestConsumeStateSurvivesARetry(t *testing.T) {
	srv := awstest.Moto(t)
	db := srv.DynamoDBClient(t)
	table := awstest.Unique("retry")
	if err := dynamostore.CreateTable(t.Context(), db, table); err != nil {
		t.Fatal(err)
	}
	st := dynamostore.New(lostAnswer{db}, table)
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	s := connection.AuthState{Nonce: "n-1", Account: "a1", UserID: "u1", Vendor: "servicenow",
		Flow: connection.LevelApp, Action: connection.ActionConnect, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if err := st.PutState(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	got, err := st.ConsumeState(t.Context(), "n-1", now)
	if err != nil || got.Account != "a1" || got.UserID != "u1" {
		t.Fatalf("consume with a retried request: %+v, %v", got, err)
	}
	if _, err := st.ConsumeState(t.Context(), "n-1", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second consume: %v, want ErrNotFound", err)
	}
	other := s
	other.Nonce, other.UserID = "n-2", "u1"
	if err := st.PutState(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	other.UserID = "u2"
	if err := st.PutState(t.Context(), other); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("another state at a nonce in use: %v, want ErrConflict", err)
	}
}
