// Package dynamostore is the store.Store on one DynamoDB table laid out as
// in package layout: connections, settings, counters and notices under
// ACCOUNT#<id>, OAuth states under STATE#<nonce>, and a sparse index
// (DueIndex) of connections by next check time, in shards.
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/layout"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store is the DynamoDB store.
type Store struct {
	db    API
	table *string
}

var _ store.Store = (*Store)(nil)

// New returns a store on the given table (made as CreateTable makes it).
func New(db API, table string) *Store { return &Store{db: db, table: aws.String(table)} }

// DueIndex is the name of the expiry index.
const DueIndex = "DueIndex"

// attempts bounds how often a request that clashed with a concurrent
// transaction, or left keys unprocessed, is sent again.
const attempts = 6

// itemKey is the key attributes of an item.
func itemKey(it layout.Item) map[string]types.AttributeValue {
	m, err := attributevalue.MarshalMap(it)
	if err != nil {
		panic(err) // two strings always marshal
	}
	return m
}

// get reads an item (strongly consistent) and decodes it; a missing item is
// ErrNotFound. what names the item in errors.
func get[T any](ctx context.Context, s *Store, it layout.Item, what string, decodeItem func(map[string]types.AttributeValue) (T, error)) (T, error) {
	var zero T
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.table, Key: itemKey(it), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return zero, failed("get "+what, err)
	}
	if len(out.Item) == 0 {
		return zero, notFound(what)
	}
	return decodeItem(out.Item)
}

// query is the Query of the items key selects: in the table, strongly
// consistent, or in the given index (which cannot be read consistently).
func (s *Store) query(index string, key expression.KeyConditionBuilder) (*dynamodb.QueryInput, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName:                 s.table,
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}
	if index == "" {
		in.ConsistentRead = aws.Bool(true)
	} else {
		in.IndexName = aws.String(index)
	}
	return in, nil
}

// conditionFailed reports whether err is a failed condition, of a single
// write or of one item of a transaction, and if so at which item (-1 for a
// single write).
func conditionFailed(err error) (index int, ok bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return -1, true
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for i, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				return i, true
			}
		}
	}
	return 0, false
}

// clashed reports whether err says a write collided with a concurrent
// transaction on the same item and wrote nothing, so it may be sent again.
func clashed(err error) bool {
	var tce *types.TransactionConflictException
	if errors.As(err, &tce) {
		return true
	}
	var canceled *types.TransactionCanceledException
	if !errors.As(err, &canceled) {
		return false
	}
	conflict := false
	for _, r := range canceled.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "TransactionConflict":
			conflict = true
		case "", "None":
		default:
			return false
		}
	}
	return conflict
}

// retry calls fn until it succeeds, fails for a reason other than a clash
// with another transaction, or has been tried `attempts` times.
func retry(ctx context.Context, fn func() error) error {
	for i := 1; ; i++ {
		err := fn()
		if err == nil || i == attempts || !clashed(err) {
			return err
		}
		if err := pause(ctx, i); err != nil {
			return err
		}
	}
}

// pause waits a growing, jittered while before attempt i+1.
func pause(ctx context.Context, i int) error {
	d := time.Duration(i)*10*time.Millisecond + rand.N(10*time.Millisecond)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func notFound(what string) error { return fmt.Errorf("dynamostore: %s: %w", what, store.ErrNotFound) }
func conflict(what string) error { return fmt.Errorf("dynamostore: %s: %w", what, store.ErrConflict) }

// failed wraps an error of the AWS API.
func failed(what string, err error) error { return fmt.Errorf("dynamostore: %s: %w", what, err) }
