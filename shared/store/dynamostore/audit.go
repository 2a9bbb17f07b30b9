package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store/layout"
)

// auditRecord is an audit item (AUDIT#<time>#<id> under the account), which
// DynamoDB deletes some time after TTL (epoch seconds). It is also what the
// table's stream carries of each entry: AuditFromItem decodes it.
type auditRecord struct {
	layout.Item
	Account      string
	ID           string
	At           string
	Vendor       string
	Level        connection.Level
	UserID       string `dynamodbav:",omitempty"`
	ConnectionID string `dynamodbav:",omitempty"`
	Action       connection.AuditAction
	ActorType    string
	ActorID      string            `dynamodbav:",omitempty"`
	Details      map[string]string `dynamodbav:",omitempty"`
	ExpiresAt    string            `dynamodbav:",omitempty"`
	TTL          int64             `dynamodbav:",omitempty"`
}

func newAuditRecord(e connection.AuditEntry) (auditRecord, error) {
	it, err := layout.AuditItem(e)
	if err != nil {
		return auditRecord{}, err
	}
	r := auditRecord{
		Item:    it,
		Account: e.Account, ID: e.ID, At: layout.Time(e.At), Vendor: e.Vendor, Level: e.Level, UserID: e.UserID,
		ConnectionID: e.ConnectionID, Action: e.Action, ActorType: e.Actor.Type, ActorID: e.Actor.ID,
		Details: e.Details, ExpiresAt: layout.Time(e.ExpiresAt),
	}
	if !e.ExpiresAt.IsZero() {
		r.TTL = e.ExpiresAt.Unix()
	}
	return r, nil
}

func (r auditRecord) entry() (connection.AuditEntry, error) {
	var p timeParser
	e := connection.AuditEntry{
		Account: r.Account, ID: r.ID, At: p.parse(r.At), Vendor: r.Vendor, Level: r.Level, UserID: r.UserID,
		ConnectionID: r.ConnectionID, Action: r.Action, Actor: connection.Actor{Type: r.ActorType, ID: r.ActorID},
		ExpiresAt: p.parse(r.ExpiresAt),
	}
	if len(r.Details) > 0 {
		e.Details = r.Details
	}
	if p.err == nil && (e.Account == "" || e.ID == "" || e.At.IsZero() || r.SK != layout.AuditSK(e.At, e.ID)) {
		p.err = errors.New("not a whole audit entry")
	}
	return e, p.err
}

// AuditFromItem decodes an item of the table, such as a DynamoDB Stream
// record's image: ok is false (and err nil) when the item is not an audit
// entry, and err says why an audit item does not decode.
func AuditFromItem(item map[string]types.AttributeValue) (connection.AuditEntry, bool, error) {
	sk, ok := item["SK"].(*types.AttributeValueMemberS)
	if !ok || !strings.HasPrefix(sk.Value, layout.AuditPrefix) {
		return connection.AuditEntry{}, false, nil
	}
	e, err := decode(item, "audit entry", auditRecord.entry)
	return e, true, err
}

// appendAudit is the transaction item of an audit entry: an unconditional
// put, so that a retried write of the same entry is the same item.
func (s *Store) appendAudit(e connection.AuditEntry) (types.TransactWriteItem, error) {
	r, err := newAuditRecord(e)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	item, err := attributevalue.MarshalMap(r)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: s.table, Item: item}}, nil
}

// auditFilteredRead is how many items a vendor-filtered audit query reads
// at least per request: DynamoDB applies the filter after the read, so
// asking for exactly what is missing could take a request per entry.
const auditFilteredRead = 100

// ListAudit pages through an account's audit timeline, newest first: a
// Query of the account's AUDIT# keys backwards (strongly consistent), with
// a filter on the vendor and on the retention (DynamoDB's TTL deletes
// expired items only eventually). It reads on until the page is full and
// one more entry is known to follow, so a last page is never empty.
func (s *Store) ListAudit(ctx context.Context, account, vendor, cursor string, limit int) ([]connection.AuditEntry, string, error) {
	after := ""
	if cursor != "" {
		var err error
		if after, err = layout.ParseAuditCursor(cursor, account, vendor); err != nil {
			return nil, "", fmt.Errorf("dynamostore: %w", err)
		}
	}
	if limit <= 0 {
		limit = layout.DefaultLimit
	}
	pk := layout.AccountPK(account)
	ttl := expression.Name("TTL")
	filter := expression.Or(expression.AttributeNotExists(ttl), ttl.GreaterThan(expression.Value(time.Now().Unix())))
	if vendor != "" {
		filter = filter.And(expression.Name("Vendor").Equal(expression.Value(vendor)))
	}
	expr, err := expression.NewBuilder().
		WithKeyCondition(expression.Key("PK").Equal(expression.Value(pk)).And(expression.Key("SK").BeginsWith(layout.AuditPrefix))).
		WithFilter(filter).Build()
	if err != nil {
		return nil, "", fmt.Errorf("dynamostore: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 s.table,
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
		ScanIndexForward:          aws.Bool(false),
	}
	if after != "" {
		in.ExclusiveStartKey = itemKey(layout.Item{PK: pk, SK: after})
	}
	var items []map[string]types.AttributeValue
	for {
		want := limit + 1 - len(items)
		if vendor != "" {
			want = max(want, auditFilteredRead)
		}
		in.Limit = aws.Int32(int32(want))
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, "", failed("list audit", err)
		}
		items = append(items, out.Items...)
		if len(items) > limit || len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	more := len(items) > limit
	if more {
		items = items[:limit]
	}
	entries := make([]connection.AuditEntry, 0, len(items))
	for _, item := range items {
		e, err := decode(item, "audit entry", auditRecord.entry)
		if err != nil {
			return nil, "", err
		}
		entries = append(entries, e)
	}
	if !more {
		return entries, "", nil
	}
	last := entries[len(entries)-1]
	return entries, layout.AuditCursor(account, vendor, layout.AuditSK(last.At, last.ID)), nil
}
