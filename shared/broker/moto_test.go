package broker_test

import (
	"context"
	"sort"
	"sync"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"

	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/broker"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/vault/secretsvault"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// roundTrips counts the requests the AWS SDK sends (every attempt, after
// its retry middleware), by operation.
type roundTrips struct {
	mu  sync.Mutex
	ops map[string]int
}

func (r *roundTrips) option(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("countRoundTrips",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			r.mu.Lock()
			r.ops[awsmiddleware.GetServiceID(ctx)+"."+awsmiddleware.GetOperationName(ctx)]++
			r.mu.Unlock()
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

func (r *roundTrips) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = map[string]int{}
}

// take returns the count since the last reset, and the operations.
func (r *roundTrips) take() (int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, names := 0, []string{}
	for op, c := range r.ops {
		n += c
		names = append(names, op)
	}
	sort.Strings(names)
	r.ops = map[string]int{}
	return n, names
}

// motoEnv is the world on DynamoDB and Secrets Manager (moto), through
// SDK clients that count their round trips. DynamoDB requests go one at
// a time (awstest.Serialized: moto applies concurrent conditional writes
// without a lock, which DynamoDB never does).
func motoEnv(tb testing.TB) (*env, *roundTrips) {
	tb.Helper()
	srv := awstest.Moto(tb)
	rt := &roundTrips{ops: map[string]int{}}
	cfg := srv.Config(tb)
	cfg.APIOptions = append(cfg.APIOptions, rt.option)
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	table := awstest.Unique("broker")
	if err := dynamostore.CreateTable(context.Background(), db, table); err != nil {
		tb.Fatal(err)
	}
	e := newEnv(tb, dynamostore.New(awstest.Serialized(db), table), secretsvault.New(secretsmanager.NewFromConfig(cfg)))
	e.svc.SecretPrefix = awstest.Unique("broker")
	return e, rt
}

// A broker call for a token that is still valid: one GetItem and one
// GetSecretValue, nothing else.
func TestTokenValidCostsTwoRoundTrips(t *testing.T) {
	e, rt := motoEnv(t)
	e.connect(manager, "servicenow", "app", "")
	e.connect(manager, "confluence", "app", "")
	e.connect(bob, "confluence", "user", "bob")
	for _, req := range []broker.TokenRequest{
		{Account: account, Vendor: "servicenow"},
		{Account: account, Vendor: "confluence", User: bob.UserID},
		{Account: account, Vendor: "confluence", User: bob.UserID, Fallback: "app", MinValiditySeconds: ptr(3000)},
	} {
		rt.reset()
		e.mustToken(req)
		n, ops := rt.take()
		if n != 2 || len(ops) != 2 || ops[0] != "DynamoDB.GetItem" || ops[1] != "Secrets Manager.GetSecretValue" {
			t.Fatalf("%+v: %d round trips %v, want GetItem and GetSecretValue", req, n, ops)
		}
	}
}

// 50 parallel broker calls and two scans, for one rotating connection
// whose access token has expired, on DynamoDB and Secrets Manager: one
// refresh reaches the vendor.
func TestTokenParallelCallsRefreshOnceOnDynamoDB(t *testing.T) {
	e, _ := motoEnv(t)
	parallelRefreshOnce(t, e)
}
