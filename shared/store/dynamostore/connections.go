package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store/dynamostore/layout"
)

// GetConnection reads one connection (strongly consistent).
func (s *Store) GetConnection(ctx context.Context, k connection.Key) (connection.Connection, error) {
	it, err := layout.ConnItem(k)
	if err != nil {
		return connection.Connection{}, fmt.Errorf("dynamostore: %w", err)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.table, Key: itemKey(it), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return connection.Connection{}, failed("get connection "+k.String(), err)
	}
	if len(out.Item) == 0 {
		return connection.Connection{}, notFound("connection " + k.String())
	}
	return decodeConn(out.Item)
}

func decodeConn(item map[string]types.AttributeValue) (connection.Connection, error) {
	var r connRecord
	if err := attributevalue.UnmarshalMap(item, &r); err != nil {
		return connection.Connection{}, fmt.Errorf("dynamostore: decode connection: %w", err)
	}
	c, err := r.conn()
	if err != nil {
		return c, fmt.Errorf("dynamostore: decode connection: %w", err)
	}
	return c, nil
}

func decodeConns(items []map[string]types.AttributeValue) ([]connection.Connection, error) {
	out := make([]connection.Connection, 0, len(items))
	for _, item := range items {
		c, err := decodeConn(item)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ListUserConnections pages through a vendor's user-level connections in
// sort-key order.
func (s *Store) ListUserConnections(ctx context.Context, account, vendor, pageToken string, limit int) ([]connection.Connection, string, error) {
	pk, prefix := layout.AccountPK(account), layout.UserConnPrefix(vendor)
	expr, err := expression.NewBuilder().WithKeyCondition(
		expression.Key("PK").Equal(expression.Value(pk)).And(expression.Key("SK").BeginsWith(prefix)),
	).Build()
	if err != nil {
		return nil, "", fmt.Errorf("dynamostore: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 s.table,
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
	}
	items, next, err := s.queryPage(ctx, in, false, pageToken, limit, func(k pageKey) bool {
		return k.PK == pk && strings.HasPrefix(k.SK, prefix) && k.DuePK == "" && k.DueSK == ""
	})
	if err != nil {
		return nil, "", failed("list user connections", err)
	}
	conns, err := decodeConns(items)
	return conns, next, err
}

// Due pages through the expiry index of a shard, up to now, oldest first.
// The index is eventually consistent.
func (s *Store) Due(ctx context.Context, shard int, now time.Time, pageToken string, limit int) ([]connection.Connection, string, error) {
	pk := layout.DuePK(shard)
	expr, err := expression.NewBuilder().WithKeyCondition(
		expression.Key("DuePK").Equal(expression.Value(pk)).
			And(expression.Key("DueSK").LessThanEqual(expression.Value(layout.DueUpper(now)))),
	).Build()
	if err != nil {
		return nil, "", fmt.Errorf("dynamostore: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 s.table,
		IndexName:                 aws.String(DueIndex),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}
	items, next, err := s.queryPage(ctx, in, true, pageToken, limit, func(k pageKey) bool {
		return k.DuePK == pk && k.DueSK != ""
	})
	if err != nil {
		return nil, "", failed("due", err)
	}
	conns, err := decodeConns(items)
	return conns, next, err
}

// Snapshot reads the app connection, the user's connection, the settings
// and the counters of every vendor with BatchGetItem: one round trip per
// 25 vendors, whatever the number of users.
func (s *Store) Snapshot(ctx context.Context, account, userID string, vendors []string) (map[string]connection.VendorSnapshot, error) {
	out := make(map[string]connection.VendorSnapshot, len(vendors))
	var keys []map[string]types.AttributeValue
	for _, v := range vendors {
		if _, dup := out[v]; dup {
			continue
		}
		out[v] = connection.VendorSnapshot{}
		its := []layout.Item{
			mustConnItem(connection.AppKey(account, v)),
			layout.SettingsItem(account, v),
			layout.CountsItem(account, v),
		}
		if userID != "" {
			its = append(its, mustConnItem(connection.UserKey(account, v, userID)))
		}
		for _, it := range its {
			keys = append(keys, itemKey(it))
		}
	}
	for chunk := range slices.Chunk(keys, 100) {
		items, err := s.batchGet(ctx, chunk)
		if err != nil {
			return nil, failed("snapshot", err)
		}
		for _, item := range items {
			if err := addToSnapshot(out, item); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func mustConnItem(k connection.Key) layout.Item {
	it, err := layout.ConnItem(k)
	if err != nil {
		panic(err) // app keys and user keys with a user id are valid
	}
	return it
}

// batchGet reads up to 100 items, sending unprocessed keys again.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	req := map[string]types.KeysAndAttributes{
		*s.table: {Keys: keys, ConsistentRead: aws.Bool(true)},
	}
	var items []map[string]types.AttributeValue
	for i := 1; ; i++ {
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, err
		}
		items = append(items, out.Responses[*s.table]...)
		if len(out.UnprocessedKeys) == 0 {
			return items, nil
		}
		if i == attempts {
			return nil, errors.New("keys left unprocessed")
		}
		if err := pause(ctx, i); err != nil {
			return nil, err
		}
		req = out.UnprocessedKeys
	}
}

// addToSnapshot puts a read item in its vendor's snapshot.
func addToSnapshot(snaps map[string]connection.VendorSnapshot, item map[string]types.AttributeValue) error {
	var it layout.Item
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return fmt.Errorf("dynamostore: decode snapshot item: %w", err)
	}
	switch {
	case strings.HasPrefix(it.SK, "CONN#"):
		c, err := decodeConn(item)
		if err != nil {
			return err
		}
		snap := snaps[c.Vendor]
		if c.Level == connection.LevelApp {
			snap.App = &c
		} else {
			snap.User = &c
		}
		snaps[c.Vendor] = snap
	case strings.HasPrefix(it.SK, "SETTINGS#"):
		st, err := decodeSettings(item)
		if err != nil {
			return err
		}
		snap := snaps[st.Vendor]
		snap.Settings = &st
		snaps[st.Vendor] = snap
	case strings.HasPrefix(it.SK, "COUNTS#"):
		var r countsRecord
		if err := attributevalue.UnmarshalMap(item, &r); err != nil {
			return fmt.Errorf("dynamostore: decode counts: %w", err)
		}
		vendor := strings.TrimPrefix(it.SK, "COUNTS#")
		snap := snaps[vendor]
		snap.Counts = connection.Counts{Total: r.Total, Connected: r.Connected}
		snaps[vendor] = snap
	}
	return nil
}

// AcquireLease takes the lease if it is free, lapsed at now or already the
// owner's, bumps the version and returns the connection as stored after.
func (s *Store) AcquireLease(ctx context.Context, k connection.Key, owner string, now, until time.Time) (connection.Connection, error) {
	it, err := leaseItem(k, owner)
	if err != nil {
		return connection.Connection{}, err
	}
	lease, leaseOwner := expression.Name("LeaseUntil"), expression.Name("LeaseOwner")
	expr, err := expression.NewBuilder().
		WithUpdate(expression.Set(leaseOwner, expression.Value(owner)).
			Set(lease, expression.Value(layout.Time(until))).
			Set(expression.Name("Version"), expression.Name("Version").Plus(expression.Value(1)))).
		WithCondition(expression.AttributeExists(expression.Name("PK")).And(expression.Or(
			expression.AttributeNotExists(lease),
			lease.LessThanEqual(expression.Value(layout.Time(now))),
			leaseOwner.Equal(expression.Value(owner))))).
		Build()
	if err != nil {
		return connection.Connection{}, fmt.Errorf("dynamostore: %w", err)
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           s.table,
		Key:                                 itemKey(it),
		UpdateExpression:                    expr.Update(),
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return connection.Connection{}, missingOrConflict("lease of "+k.String(), err)
	}
	return decodeConn(out.Attributes)
}

// ReleaseLease frees the owner's lease and bumps the version; a lease held
// by someone else, or a missing connection, is left alone.
func (s *Store) ReleaseLease(ctx context.Context, k connection.Key, owner string) error {
	it, err := leaseItem(k, owner)
	if err != nil {
		return err
	}
	expr, err := expression.NewBuilder().
		WithUpdate(expression.Remove(expression.Name("LeaseOwner")).
			Remove(expression.Name("LeaseUntil")).
			Set(expression.Name("Version"), expression.Name("Version").Plus(expression.Value(1)))).
		WithCondition(expression.Name("LeaseOwner").Equal(expression.Value(owner))).
		Build()
	if err != nil {
		return fmt.Errorf("dynamostore: %w", err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       itemKey(it),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if _, failedCond := conditionFailed(err); err != nil && !failedCond {
		return failed("release lease of "+k.String(), err)
	}
	return nil
}

func leaseItem(k connection.Key, owner string) (layout.Item, error) {
	if owner == "" {
		return layout.Item{}, errors.New("dynamostore: lease without an owner")
	}
	it, err := layout.ConnItem(k)
	if err != nil {
		return it, fmt.Errorf("dynamostore: %w", err)
	}
	return it, nil
}

// missingOrConflict maps the error of a conditional write that asked for
// the old item on failure: no old item is ErrNotFound, one whose condition
// failed is ErrConflict.
func missingOrConflict(what string, err error) error {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return failed(what, err)
	}
	if len(ccf.Item) == 0 {
		return notFound(what)
	}
	return conflict(what)
}
