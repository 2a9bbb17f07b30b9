package dynamostore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/store/storetest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestContract runs the contract suite on DynamoDB as moto emulates it,
// with a fresh table per subtest.
func TestContract(t *testing.T) {
	srv := awstest.Moto(t)
	db := dynamodb.NewFromConfig(srv.Config(t))
	one := &serialized{db: db}
	storetest.Run(t, func(t *testing.T) store.Store {
		table := awstest.Unique("conn")
		if err := dynamostore.CreateTable(t.Context(), db, table); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, err := db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
			if err != nil {
				t.Errorf("delete table %s: %v", table, err)
			}
		})
		return dynamostore.New(one, table)
	})
}

// serialized sends the store's requests to moto one at a time. DynamoDB
// applies each write atomically; moto does not (it serves requests on
// threads and checks a condition, then writes, attribute by attribute,
// without a lock), so concurrent writes to one item can interleave inside
// moto. One request at a time restores DynamoDB's guarantee and still
// lets the suite's goroutines interleave between requests, so a store
// that read and then wrote without a condition would still fail.
type serialized struct {
	mu sync.Mutex
	db dynamostore.API
}

func call[In, Out any](s *serialized, f func(context.Context, In, ...func(*dynamodb.Options)) (Out, error), ctx context.Context, in In, opts []func(*dynamodb.Options)) (Out, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f(ctx, in, opts...)
}

func (s *serialized) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return call(s, s.db.GetItem, ctx, in, o)
}

func (s *serialized) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return call(s, s.db.PutItem, ctx, in, o)
}

func (s *serialized) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return call(s, s.db.UpdateItem, ctx, in, o)
}

func (s *serialized) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return call(s, s.db.DeleteItem, ctx, in, o)
}

func (s *serialized) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return call(s, s.db.Query, ctx, in, o)
}

func (s *serialized) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return call(s, s.db.BatchGetItem, ctx, in, o)
}

func (s *serialized) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return call(s, s.db.TransactWriteItems, ctx, in, o)
}

// TestCreateTable checks the table against the schema the template deploys.
func TestCreateTable(t *testing.T) {
	db := dynamodb.NewFromConfig(awstest.Moto(t).Config(t))
	table := awstest.Unique("conn")
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	for range 2 { // the second call finds the table made
		if err := dynamostore.CreateTable(t.Context(), db, table); err != nil {
			t.Fatal(err)
		}
	}
	out, err := db.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	d := out.Table
	if d.BillingModeSummary == nil || d.BillingModeSummary.BillingMode != "PAY_PER_REQUEST" {
		t.Errorf("billing mode: %+v", d.BillingModeSummary)
	}
	if len(d.KeySchema) != 2 || aws.ToString(d.KeySchema[0].AttributeName) != "PK" || aws.ToString(d.KeySchema[1].AttributeName) != "SK" {
		t.Errorf("key schema: %+v", d.KeySchema)
	}
	if len(d.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("indexes: %+v", d.GlobalSecondaryIndexes)
	}
	gsi := d.GlobalSecondaryIndexes[0]
	if aws.ToString(gsi.IndexName) != dynamostore.DueIndex || aws.ToString(gsi.KeySchema[0].AttributeName) != "DuePK" ||
		aws.ToString(gsi.KeySchema[1].AttributeName) != "DueSK" || gsi.Projection.ProjectionType != "ALL" {
		t.Errorf("due index: %+v", gsi)
	}
	ttl, err := db.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != "TTL" || d.TimeToLiveStatus != "ENABLED" {
		t.Errorf("TTL: %+v", d)
	}
}
