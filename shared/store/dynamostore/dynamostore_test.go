package dynamostore_test

import (
	"context"
	"os"
	"slices"
	"strings"
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
	db := srv.DynamoDBClient(t)
	one := awstest.Serialized(db)
	storetest.Run(t, func(t *testing.T) store.Store {
		table := awstest.Unique("conn")
		if err := dynamostore.CreateTable(t.Context(), db, table); err != nil {
			t.Fatal(err)
		}
		awstest.DropTableAtCleanup(t, db, table)
		return dynamostore.New(one, table)
	})
}

// TestCreateTable checks the table against the schema the template deploys.
func TestCreateTable(t *testing.T) {
	db := awstest.Moto(t).DynamoDBClient(t)
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
		aws.ToString(gsi.KeySchema[1].AttributeName) != "DueSK" || gsi.Projection.ProjectionType != "INCLUDE" ||
		!slices.Equal(gsi.Projection.NonKeyAttributes, dynamostore.DueIndexAttributes) {
		t.Errorf("due index: %+v", gsi)
	}
	tmpl, err := os.ReadFile("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := "NonKeyAttributes: [" + strings.Join(dynamostore.DueIndexAttributes, ", ") + "]"; !strings.Contains(string(tmpl), want) {
		t.Errorf("template.yaml's DueIndex does not project %s", want)
	}
	ttl, err := db.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != "TTL" || d.TimeToLiveStatus != "ENABLED" {
		t.Errorf("TTL: %+v", d)
	}
}
