package awstest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDB is a DynamoDB client that sends its item requests to moto one at
// a time. DynamoDB applies each conditional write atomically; moto serves
// requests on threads and checks a condition, then writes, without a lock,
// so concurrent writes to one item can interleave inside it. One request at
// a time restores DynamoDB's guarantee and still lets goroutines interleave
// between requests, so code that reads and then writes without a condition
// still fails the tests it should.
type DynamoDB struct {
	mu sync.Mutex
	db *dynamodb.Client
}

// Serialized wraps a client.
func Serialized(db *dynamodb.Client) *DynamoDB { return &DynamoDB{db: db} }

func call[In, Out any](s *DynamoDB, f func(context.Context, In, ...func(*dynamodb.Options)) (Out, error), ctx context.Context, in In, opts []func(*dynamodb.Options)) (Out, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f(ctx, in, opts...)
}

// GetItem is the client's, one request at a time.
func (s *DynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return call(s, s.db.GetItem, ctx, in, o)
}

// PutItem is the client's, one request at a time.
func (s *DynamoDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return call(s, s.db.PutItem, ctx, in, o)
}

// UpdateItem is the client's, one request at a time.
func (s *DynamoDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return call(s, s.db.UpdateItem, ctx, in, o)
}

// DeleteItem is the client's, one request at a time.
func (s *DynamoDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return call(s, s.db.DeleteItem, ctx, in, o)
}

// Query is the client's, one request at a time.
func (s *DynamoDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return call(s, s.db.Query, ctx, in, o)
}

// Scan is the client's, one request at a time.
func (s *DynamoDB) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return call(s, s.db.Scan, ctx, in, o)
}

// BatchGetItem is the client's, one request at a time.
func (s *DynamoDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return call(s, s.db.BatchGetItem, ctx, in, o)
}

// TransactWriteItems is the client's, one request at a time.
func (s *DynamoDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return call(s, s.db.TransactWriteItems, ctx, in, o)
}

// DynamoDBClient is a DynamoDB client of the server. It does not check
// moto's response CRC32: under load the SDK sometimes closes the
// connection before reading an empty answer's body, counts no bytes, and
// retries a conditional write that had succeeded, which then meets its own
// first attempt. Real DynamoDB answers are checked as usual by the service.
func (s *Server) DynamoDBClient(t testing.TB) *dynamodb.Client {
	return dynamodb.NewFromConfig(s.Config(t), func(o *dynamodb.Options) {
		o.DisableValidateResponseChecksum = true
	})
}

// DropTableAtCleanup deletes table when the test ends. A "not found"
// answer counts as deleted: under load the SDK may retry a DeleteTable
// whose first attempt moto carried out but whose answer was lost.
func DropTableAtCleanup(t testing.TB, db *dynamodb.Client, table string) {
	t.Cleanup(func() {
		_, err := db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
		var nf *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			t.Errorf("delete table %s: %v", table, err)
		}
	})
}
