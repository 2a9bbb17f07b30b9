package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store/layout"
)

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
