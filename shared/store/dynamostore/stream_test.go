package dynamostore_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/workplace/connections/infra/streampoll"
	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/dynamostore"
)

// TestStreamCarriesCommittedEntries: with the table's stream on, every
// committed audit entry is one INSERT record that AuditFromStreamRecord
// reads back whole, in commit order, after Lambda's own JSON round trip;
// a refused transaction leaves no record, other items and an entry
// written again are no entry.
func TestStreamCarriesCommittedEntries(t *testing.T) {
	ctx := t.Context()
	moto := awstest.Moto(t)
	db := moto.DynamoDBClient(t)
	table := awstest.Unique("stream")
	if err := dynamostore.CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	arn, err := dynamostore.EnableStream(ctx, db, table)
	if err != nil || !strings.Contains(arn, "table/"+table+"/stream/") {
		t.Fatalf("EnableStream: %q %v", arn, err)
	}
	if again, err := dynamostore.EnableStream(ctx, db, table); err != nil || again != arn {
		t.Fatalf("EnableStream again: %q %v, want %q", again, err, arn)
	}
	st := dynamostore.New(awstest.Serialized(db), table)
	at := time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)
	app := connection.Connection{Key: connection.AppKey("a1", "servicenow"), ID: "c0", SecretName: "s", SecretVersion: "v1"}
	entry := func(a connection.AuditAction, details map[string]string) connection.AuditEntry {
		return connection.NewAudit(app, a, connection.UserActor("u1"), at, 0, details)
	}
	e1 := entry(connection.AuditConnected, map[string]string{"user": "Ada", "userEmail": "ada@acme.example"})
	e2 := entry(connection.AuditDisconnected, map[string]string{"reason": "refresh_refused", "detectedBy": "scan"})
	refused := entry(connection.AuditConnected, nil)
	apply := func(ops ...store.Op) error { return st.Apply(ctx, ops...) }
	if err := apply(store.CreateConnection{Conn: app}, store.AppendAudit{Entry: e1}, store.AdjustCounts{Account: "a1", Vendor: "servicenow", Total: 1}); err != nil {
		t.Fatal(err)
	}
	if err := apply(store.CreateConnection{Conn: app}, store.AppendAudit{Entry: refused}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second create: %v", err)
	}
	app.Version = 1
	if err := apply(store.UpdateConnection{Conn: app}, store.AppendAudit{Entry: e2}); err != nil {
		t.Fatal(err)
	}
	if err := apply(store.AppendAudit{Entry: e1}); err != nil { // written again under its id
		t.Fatal(err)
	}
	poll := streampoll.New(dynamodbstreams.NewFromConfig(moto.Config(t)), arn)
	recs, err := poll.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []connection.AuditEntry
	inserts := 0
	for _, r := range recs {
		// What Lambda delivers: the record through JSON.
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back events.DynamoDBEventRecord
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		e, ok, err := dynamostore.AuditFromStreamRecord(back)
		if err != nil {
			t.Fatalf("record %s: %v", r.Change.SequenceNumber, err)
		}
		if r.EventName == "INSERT" && strings.HasPrefix(r.Change.Keys["SK"].String(), "AUDIT#") {
			inserts++
		}
		if ok {
			got = append(got, e)
		}
	}
	ids := func(es []connection.AuditEntry) []string {
		out := []string{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	if !slices.Equal(ids(got), []string{e1.ID, e2.ID}) {
		t.Fatalf("entries from the stream %v, want %v (refused %s)", ids(got), []string{e1.ID, e2.ID}, refused.ID)
	}
	// The entry written again is a MODIFY, not a second INSERT.
	if inserts != 2 {
		t.Fatalf("%d INSERT records of audit items, want 2", inserts)
	}
	g := got[1]
	if g.Action != e2.Action || !g.At.Equal(at) || g.Details["reason"] != "refresh_refused" || g.Actor != e2.Actor ||
		g.ConnectionID != "c0" || g.Level != connection.LevelApp || g.Account != "a1" || g.Vendor != "servicenow" {
		t.Fatalf("entry %+v", g)
	}
	if more, err := poll.Read(ctx); err != nil || len(more) != 0 {
		t.Fatalf("a second read: %d records, %v", len(more), err)
	}
}

// TestStreamRecordsThatAreNoEntry: a record without its new image that
// inserted an audit entry is an error (never skipped in silence), so is an
// audit image that does not read; other records are no entry.
func TestStreamRecordsThatAreNoEntry(t *testing.T) {
	s := events.NewStringAttribute
	auditKeys := map[string]events.DynamoDBAttributeValue{"PK": s("ACCOUNT#a1"), "SK": s("AUDIT#2027-01-04T09:00:00.000000000Z#X")}
	for _, c := range []struct {
		name  string
		rec   events.DynamoDBEventRecord
		entry bool
		err   string
	}{
		{"keys only", events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: "7", Keys: auditKeys}}, true, "no new image"},
		{"broken image", events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: "8", Keys: auditKeys,
			NewImage: map[string]events.DynamoDBAttributeValue{"PK": s("ACCOUNT#a1"), "SK": s("AUDIT#2027-01-04T09:00:00.000000000Z#X"), "At": events.NewNumberAttribute("5")}}}, true, "stream record 8"},
		{"a removal", events.DynamoDBEventRecord{EventName: "REMOVE", Change: events.DynamoDBStreamRecord{Keys: auditKeys}}, false, ""},
		{"another item", events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{
			Keys:     map[string]events.DynamoDBAttributeValue{"PK": s("ACCOUNT#a1"), "SK": s("CONN#servicenow#APP")},
			NewImage: map[string]events.DynamoDBAttributeValue{"PK": s("ACCOUNT#a1"), "SK": s("CONN#servicenow#APP"), "L": events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewNullAttribute()})}}}, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, ok, err := dynamostore.AuditFromStreamRecord(c.rec)
			if ok != c.entry || (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
				t.Fatalf("ok %v, err %v", ok, err)
			}
		})
	}
}
