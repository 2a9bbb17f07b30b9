package dynamostore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/store/layout"
)

// TestAuditItems: an audit entry is an item with the table's TTL in epoch
// seconds, and AuditFromItem (what the stream publisher decodes images
// with) gives the entry back, tells other items apart, and refuses a
// broken audit item.
func TestAuditItems(t *testing.T) {
	ctx := t.Context()
	db := awstest.Moto(t).DynamoDBClient(t)
	table := awstest.Unique("audit")
	if err := dynamostore.CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	st := dynamostore.New(awstest.Serialized(db), table)
	at := time.Date(2030, 3, 4, 5, 6, 7, 123456789, time.UTC)
	e := connection.AuditEntry{
		Account: "acct", ID: connection.NewAuditID(), At: at, Vendor: "servicenow", Level: connection.LevelUser, UserID: "u1",
		ConnectionID: "c1", Action: connection.AuditDisconnected, Actor: connection.ScanActor(),
		Details: map[string]string{"reason": "refresh_refused", "detectedBy": "scan"}, ExpiresAt: at.Add(400 * 24 * time.Hour),
	}
	app := connection.Connection{Key: connection.AppKey("acct", "servicenow"), ID: "c0"}
	if err := st.Apply(ctx, store.CreateConnection{Conn: app}, store.AppendAudit{Entry: e},
		store.AdjustCounts{Account: "acct", Vendor: "servicenow", Total: 1}); err != nil {
		t.Fatal(err)
	}
	raw := func(sk string) map[string]types.AttributeValue {
		t.Helper()
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: layout.AccountPK("acct")}, "SK": &types.AttributeValueMemberS{Value: sk}}})
		if err != nil || len(out.Item) == 0 {
			t.Fatalf("item %s: %v", sk, err)
		}
		return out.Item
	}
	item := raw(layout.AuditSK(e.At, e.ID))
	if n, ok := item["TTL"].(*types.AttributeValueMemberN); !ok || n.Value != fmt.Sprint(e.ExpiresAt.Unix()) {
		t.Fatalf("TTL attribute %#v, want the number %d", item["TTL"], e.ExpiresAt.Unix())
	}
	got, ok, err := dynamostore.AuditFromItem(item)
	if err != nil || !ok {
		t.Fatalf("AuditFromItem: %v %v", ok, err)
	}
	if got.ID != e.ID || !got.At.Equal(e.At) || got.Action != e.Action || got.Actor != e.Actor || got.Details["reason"] != "refresh_refused" ||
		got.UserID != "u1" || got.Level != connection.LevelUser || !got.ExpiresAt.Equal(e.ExpiresAt) || got.ConnectionID != "c1" {
		t.Fatalf("decoded %+v, want %+v", got, e)
	}
	for _, sk := range []string{"CONN#servicenow#APP", "COUNTS#servicenow"} {
		if _, ok, err := dynamostore.AuditFromItem(raw(sk)); ok || err != nil {
			t.Errorf("%s taken for an audit item: %v %v", sk, ok, err)
		}
	}
	if _, ok, err := dynamostore.AuditFromItem(map[string]types.AttributeValue{}); ok || err != nil {
		t.Errorf("an empty image taken for an audit item: %v %v", ok, err)
	}
	delete(item, "At")
	if _, ok, err := dynamostore.AuditFromItem(item); !ok || err == nil {
		t.Errorf("a broken audit item: ok %v, err %v; want an error", ok, err)
	}
}

// TestAuditVendorFilterCost: a page of one vendor's entries among many of
// another's takes a request or two, not one per entry read.
func TestAuditVendorFilterCost(t *testing.T) {
	ctx := t.Context()
	c, st := newCountingStore(t)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var ops []store.Op
	for i := range 150 {
		v := "confluence"
		if i%50 == 0 {
			v = "servicenow"
		}
		ops = append(ops, store.AppendAudit{Entry: connection.AuditEntry{Account: "acct", ID: fmt.Sprintf("e%03d", i), At: t0.Add(time.Duration(i) * time.Minute),
			Vendor: v, Level: connection.LevelApp, Action: connection.AuditConnected, Actor: connection.UserActor("u1")}})
		if len(ops) == 50 {
			if err := st.Apply(ctx, ops...); err != nil {
				t.Fatal(err)
			}
			ops = nil
		}
	}
	c.reset()
	es, next, err := st.ListAudit(ctx, "acct", "servicenow", "", 2)
	if err != nil || len(es) != 2 || next == "" {
		t.Fatalf("first page: %d entries, next %q, %v", len(es), next, err)
	}
	if n := c.total(); n > 2 {
		t.Errorf("a filtered page of 2 took %d requests", n)
	}
	c.reset()
	if es, next, err = st.ListAudit(ctx, "acct", "servicenow", next, 2); err != nil || len(es) != 1 || next != "" {
		t.Fatalf("last page: %d entries, next %q, %v", len(es), next, err)
	}
	t.Logf("filtered pages: %d requests for the last", c.total())
}
