package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/layout"
)

// Sweep pages through every connection and settings item with a Scan of
// the table: limit is the Scan's Limit (items read, of every kind), and
// the filter keeps connections and settings (by sort-key prefix), so a
// page may hold fewer items than it read. Read capacity is charged for
// every item read, filtered or not.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.html
func (s *Store) Sweep(ctx context.Context, pageToken string, limit int) ([]store.SweepItem, string, error) {
	if limit <= 0 {
		limit = layout.DefaultLimit
	}
	filter := expression.Name("SK").BeginsWith(layout.ConnPrefix).Or(expression.Name("SK").BeginsWith(layout.SettingsPrefix))
	expr, err := expression.NewBuilder().WithFilter(filter).Build()
	if err != nil {
		return nil, "", fmt.Errorf("dynamostore: %w", err)
	}
	in := &dynamodb.ScanInput{
		TableName: s.table, Limit: aws.Int32(int32(limit)),
		FilterExpression: expr.Filter(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	if pageToken != "" {
		rest, ok := strings.CutPrefix(pageToken, sweepTokenPrefix)
		k, err := parseToken(rest)
		if !ok || err != nil || k.DuePK != "" || k.DueSK != "" {
			return nil, "", errToken
		}
		if in.ExclusiveStartKey, err = attributevalue.MarshalMap(k); err != nil {
			return nil, "", err
		}
	}
	out, err := s.db.Scan(ctx, in)
	if err != nil {
		return nil, "", failed("sweep", err)
	}
	items := make([]store.SweepItem, 0, len(out.Items))
	for _, item := range out.Items {
		var k pageKey
		if err := attributevalue.UnmarshalMap(item, &k); err != nil {
			return nil, "", fmt.Errorf("dynamostore: decode swept key: %w", err)
		}
		si := store.SweepItem{After: sweepTokenPrefix + pageKey{PK: k.PK, SK: k.SK}.token()}
		if strings.HasPrefix(k.SK, layout.ConnPrefix) {
			c, err := decodeConn(item)
			if err != nil {
				return nil, "", err
			}
			si.Conn = &c
		} else {
			set, err := decode(item, "settings", settingsRecord.settings)
			if err != nil {
				return nil, "", err
			}
			si.Settings = &set
		}
		items = append(items, si)
	}
	next := ""
	if len(out.LastEvaluatedKey) > 0 {
		var k pageKey
		if err := attributevalue.UnmarshalMap(out.LastEvaluatedKey, &k); err != nil {
			return nil, "", fmt.Errorf("dynamostore: decode sweep position: %w", err)
		}
		next = sweepTokenPrefix + pageKey{PK: k.PK, SK: k.SK}.token()
	}
	return items, next, nil
}

// sweepTokenPrefix starts a sweep's page tokens, so that a listing's
// token (the same key, in base64) is not taken for one.
const sweepTokenPrefix = "sweep."

// sweepRecord is the sweep's mark item.
type sweepRecord struct {
	layout.Item
	Mode      string
	Cursor    string `dynamodbav:",omitempty"`
	Missed    int    `dynamodbav:",omitempty"`
	Pass      int    `dynamodbav:",omitempty"`
	Done      bool
	UpdatedAt string `dynamodbav:",omitempty"`
}

func (r sweepRecord) mark() (store.SweepMark, error) {
	var p timeParser
	m := store.SweepMark{Mode: r.Mode, Cursor: r.Cursor, Missed: r.Missed, Pass: r.Pass, Done: r.Done, UpdatedAt: p.parse(r.UpdatedAt)}
	return m, p.err
}

// GetSweepMark reads the sweep's mark (strongly consistent).
func (s *Store) GetSweepMark(ctx context.Context) (store.SweepMark, error) {
	return get(ctx, s, layout.SweepMarkItem, "sweep mark", func(item map[string]types.AttributeValue) (store.SweepMark, error) {
		return decode(item, "sweep mark", sweepRecord.mark)
	})
}

// PutSweepMark replaces the sweep's mark.
func (s *Store) PutSweepMark(ctx context.Context, m store.SweepMark) error {
	if m.Mode == "" {
		return errors.New("dynamostore: sweep mark without a mode")
	}
	item, err := attributevalue.MarshalMap(sweepRecord{Item: layout.SweepMarkItem, Mode: m.Mode, Cursor: m.Cursor, Missed: m.Missed, Pass: m.Pass, Done: m.Done, UpdatedAt: layout.Time(m.UpdatedAt)})
	if err != nil {
		return fmt.Errorf("dynamostore: %w", err)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: s.table, Item: item}); err != nil {
		return failed("put sweep mark", err)
	}
	return nil
}
