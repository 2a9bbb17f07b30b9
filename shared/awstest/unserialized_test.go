//go:build motoprobe

package awstest_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/store/storetest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestMotoUnserialized runs the store contract's concurrency cases on moto
// with real parallel requests (no Serialized), MOTO_PROBE_ROUNDS times. It
// is how to tell whether a moto release applies concurrent conditional
// writes and transactions atomically: moto 5.2.1 does not (see the README,
// "What moto lacks"), so it is built only with -tags motoprobe (default 200
// rounds). Once it passes some hundreds of rounds, the moto-backed suites
// can stop serialising.
func TestMotoUnserialized(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("MOTO_PROBE_ROUNDS"))
	if rounds <= 0 {
		rounds = 200
	}
	db := awstest.Moto(t).DynamoDBClient(t)
	for range rounds {
		storetest.RunConcurrency(t, func(t *testing.T) store.Store {
			table := awstest.Unique("race")
			if err := dynamostore.CreateTable(t.Context(), db, table); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
			})
			return dynamostore.New(db, table)
		})
	}
}
