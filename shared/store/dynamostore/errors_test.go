package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/dynamostore"
)

// fake is a DynamoDB client whose answers the test sets; a method left
// unset fails the test if called.
type fake struct {
	t        *testing.T
	get      func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error)
	put      func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error)
	update   func(*dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error)
	del      func(*dynamodb.DeleteItemInput) (*dynamodb.DeleteItemOutput, error)
	query    func(*dynamodb.QueryInput) (*dynamodb.QueryOutput, error)
	scan     func(*dynamodb.ScanInput) (*dynamodb.ScanOutput, error)
	batchGet func(*dynamodb.BatchGetItemInput) (*dynamodb.BatchGetItemOutput, error)
	transact func(*dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error)
}

func answer[In, Out any](t *testing.T, f func(In) (Out, error), in In) (Out, error) {
	t.Helper()
	if f == nil {
		var zero Out
		t.Fatalf("unexpected call with %T", in)
		return zero, nil
	}
	return f(in)
}

func (f *fake) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return answer(f.t, f.get, in)
}

func (f *fake) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return answer(f.t, f.put, in)
}

func (f *fake) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return answer(f.t, f.update, in)
}

func (f *fake) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return answer(f.t, f.del, in)
}

func (f *fake) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return answer(f.t, f.query, in)
}

func (f *fake) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return answer(f.t, f.scan, in)
}

func (f *fake) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return answer(f.t, f.batchGet, in)
}

func (f *fake) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return answer(f.t, f.transact, in)
}

func canceled(codes ...string) error {
	e := &types.TransactionCanceledException{Message: aws.String("Transaction cancelled")}
	for _, c := range codes {
		e.CancellationReasons = append(e.CancellationReasons, types.CancellationReason{Code: aws.String(c)})
	}
	return e
}

var (
	key        = connection.UserKey("a", "servicenow", "u1")
	now        = time.Date(2030, 3, 4, 5, 6, 7, 8, time.UTC)
	two        = []store.Op{store.AdjustCounts{Account: "a", Vendor: "v", Total: 1}, store.DeleteConnection{Key: key, Version: 3}}
	errNetwork = errors.New("network down")
)

func TestApplyConditionFailedInTransaction(t *testing.T) {
	s := dynamostore.New(&fake{t: t, transact: func(*dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error) {
		return nil, canceled("None", "ConditionalCheckFailed")
	}}, "tbl")
	err := s.Apply(t.Context(), two...)
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "op 2") {
		t.Fatalf("got %v, want a conflict naming op 2", err)
	}
}

func TestApplyRetriesTransactionClashes(t *testing.T) {
	calls := 0
	s := dynamostore.New(&fake{t: t, transact: func(*dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error) {
		calls++
		if calls < 3 {
			return nil, canceled("TransactionConflict", "None")
		}
		return &dynamodb.TransactWriteItemsOutput{}, nil
	}}, "tbl")
	if err := s.Apply(t.Context(), two...); err != nil || calls != 3 {
		t.Fatalf("got %v after %d calls, want success after 3", err, calls)
	}
}

func TestApplyGivesUpOnClashes(t *testing.T) {
	calls := 0
	s := dynamostore.New(&fake{t: t, update: func(*dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
		calls++
		return nil, &types.TransactionConflictException{Message: aws.String("conflict")}
	}}, "tbl")
	err := s.Apply(t.Context(), two[0])
	var tce *types.TransactionConflictException
	if !errors.As(err, &tce) || errors.Is(err, store.ErrConflict) || calls < 2 {
		t.Fatalf("got %v after %d calls, want the clash itself after retries", err, calls)
	}
}

func TestApplyOtherErrorsAreWrapped(t *testing.T) {
	s := dynamostore.New(&fake{t: t, transact: func(*dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error) {
		return nil, canceled("None", "ValidationError")
	}, del: func(*dynamodb.DeleteItemInput) (*dynamodb.DeleteItemOutput, error) {
		return nil, errNetwork
	}}, "tbl")
	err := s.Apply(t.Context(), two...)
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || errors.Is(err, store.ErrConflict) {
		t.Fatalf("got %v, want the cancellation wrapped, not a conflict", err)
	}
	if err := s.Apply(t.Context(), two[1]); !errors.Is(err, errNetwork) || errors.Is(err, store.ErrConflict) {
		t.Fatalf("got %v, want the network error", err)
	}
}

func TestMissingTableIsNotNotFound(t *testing.T) {
	s := dynamostore.New(&fake{t: t, get: func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
		return nil, &types.ResourceNotFoundException{Message: aws.String("table not found")}
	}}, "tbl")
	_, err := s.GetConnection(t.Context(), key)
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("got %v, want the missing table, not ErrNotFound", err)
	}
}

func TestConditionalWritesMapErrors(t *testing.T) {
	ccf := func(item map[string]types.AttributeValue) error {
		return &types.ConditionalCheckFailedException{Message: aws.String("failed"), Item: item}
	}
	held := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "ACCOUNT#a"}}
	var next error
	s := dynamostore.New(&fake{t: t,
		update: func(*dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) { return nil, next },
		del:    func(*dynamodb.DeleteItemInput) (*dynamodb.DeleteItemOutput, error) { return nil, next },
	}, "tbl")
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		err  error
		call func() error
		want error
	}{
		{"lease held", ccf(held), func() error { _, err := s.AcquireLease(ctx, key, "w", now, now); return err }, store.ErrConflict},
		{"lease missing", ccf(nil), func() error { _, err := s.AcquireLease(ctx, key, "w", now, now); return err }, store.ErrNotFound},
		{"lease error", errNetwork, func() error { _, err := s.AcquireLease(ctx, key, "w", now, now); return err }, errNetwork},
		{"release by another", ccf(nil), func() error { return s.ReleaseLease(ctx, key, "w") }, nil},
		{"release error", errNetwork, func() error { return s.ReleaseLease(ctx, key, "w") }, errNetwork},
		{"claim held", ccf(held), func() error { return s.ClaimNotice(ctx, "a", "u", "n", "w", now, now) }, store.ErrConflict},
		{"claim missing", ccf(nil), func() error { return s.ClaimNotice(ctx, "a", "u", "n", "w", now, now) }, store.ErrNotFound},
		{"mark by another", ccf(held), func() error { return s.MarkNoticeSent(ctx, "a", "u", "n", "w", now) }, store.ErrConflict},
		{"dismiss missing", ccf(nil), func() error { return s.DismissNotice(ctx, "a", "u", "n") }, store.ErrNotFound},
		{"dismiss error", errNetwork, func() error { return s.DismissNotice(ctx, "a", "u", "n") }, errNetwork},
		{"consume missing", ccf(nil), func() error { _, err := s.ConsumeState(ctx, "x", now); return err }, store.ErrNotFound},
		{"consume error", errNetwork, func() error { _, err := s.ConsumeState(ctx, "x", now); return err }, errNetwork},
	} {
		next = tc.err
		err := tc.call()
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestSnapshotRetriesUnprocessedKeys(t *testing.T) {
	calls := 0
	s := dynamostore.New(&fake{t: t, batchGet: func(in *dynamodb.BatchGetItemInput) (*dynamodb.BatchGetItemOutput, error) {
		calls++
		req := in.RequestItems["tbl"]
		if !aws.ToBool(req.ConsistentRead) {
			t.Error("snapshot reads are not consistent")
		}
		if calls == 1 {
			if len(req.Keys) != 4 {
				t.Errorf("first call asks %d keys, want 4", len(req.Keys))
			}
			return &dynamodb.BatchGetItemOutput{UnprocessedKeys: map[string]types.KeysAndAttributes{
				"tbl": {Keys: req.Keys[3:], ConsistentRead: aws.Bool(true)},
			}}, nil
		}
		item, err := attributevalue.MarshalMap(map[string]any{"PK": "ACCOUNT#a", "SK": "COUNTS#v", "Total": 4, "Connected": 2})
		if err != nil {
			t.Fatal(err)
		}
		return &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{"tbl": {item}}}, nil
	}}, "tbl")
	snaps, err := s.Snapshot(t.Context(), "a", "u1", []string{"v"})
	if err != nil || calls != 2 || snaps["v"].Counts != (connection.Counts{Total: 4, Connected: 2}) {
		t.Fatalf("got %+v, %v after %d calls", snaps, err, calls)
	}
}

func TestItemLayout(t *testing.T) {
	var item map[string]any
	s := dynamostore.New(&fake{t: t, put: func(in *dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
		if err := attributevalue.UnmarshalMap(in.Item, &item); err != nil {
			t.Fatal(err)
		}
		return &dynamodb.PutItemOutput{}, nil
	}}, "tbl")
	c := connection.Connection{Key: key, NextCheckAt: now.In(time.FixedZone("X", 3600)), Version: 9}
	if err := s.Apply(t.Context(), store.CreateConnection{Conn: c}); err != nil {
		t.Fatal(err)
	}
	sk := "CONN#servicenow#USER#u1"
	for attr, want := range map[string]any{
		"PK":          "ACCOUNT#a",
		"SK":          sk,
		"DuePK":       fmt.Sprint("DUE#", store.Shard(key)),
		"DueSK":       "2030-03-04T05:06:07.000000008Z#ACCOUNT#a#" + sk,
		"NextCheckAt": "2030-03-04T05:06:07.000000008Z",
		"Version":     float64(1),
	} {
		if item[attr] != want {
			t.Errorf("%s = %#v, want %#v", attr, item[attr], want)
		}
	}
	for _, attr := range []string{"LeaseOwner", "LeaseUntil", "CreatedAt"} {
		if _, ok := item[attr]; ok {
			t.Errorf("zero %s is stored", attr)
		}
	}

	if err := s.PutState(t.Context(), connection.AuthState{Nonce: "n", ExpiresAt: now}); err != nil {
		t.Fatal(err)
	}
	if item["PK"] != "STATE#n" || item["SK"] != "STATE" || item["TTL"] != float64(now.Unix()) {
		t.Errorf("state item: %v", item)
	}
}
