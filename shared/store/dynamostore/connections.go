package dynamostore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store/layout"
)

// GetConnection reads one connection (strongly consistent).
func (s *Store) GetConnection(ctx context.Context, k connection.Key) (connection.Connection, error) {
	it, err := layout.ConnItem(k)
	if err != nil {
		return connection.Connection{}, fmt.Errorf("dynamostore: %w", err)
	}
	return get(ctx, s, it, "connection "+k.String(), decodeConn)
}

func decodeConn(item map[string]types.AttributeValue) (connection.Connection, error) {
	return decode(item, "connection", connRecord.conn)
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
	in, err := s.query("", expression.Key("PK").Equal(expression.Value(pk)).And(expression.Key("SK").BeginsWith(prefix)))
	if err != nil {
		return nil, "", fmt.Errorf("dynamostore: %w", err)
	}
	items, next, err := s.queryPage(ctx, in, pageToken, limit, func(k pageKey) bool {
		return k.PK == pk && strings.HasPrefix(k.SK, prefix) && k.DuePK == "" && k.DueSK == ""
	})
	if err != nil {
		return nil, "", failed("list user connections", err)
	}
	conns, err := decodeConns(items)
	return conns, next, err
}

// Due pages through the expiry index of a shard, up to now, oldest first.
// The index is eventually consistent, and holds only the connections'
// keys (DueIndexAttributes): the connections returned carry their Key and
// nothing else.
func (s *Store) Due(ctx context.Context, shard int, now time.Time, pageToken string, limit int) ([]connection.Connection, string, error) {
	pk := layout.DuePK(shard)
	in, err := s.query(DueIndex, expression.Key("DuePK").Equal(expression.Value(pk)).
		And(expression.Key("DueSK").LessThanEqual(expression.Value(layout.DueUpper(now)))))
	if err != nil {
		return nil, "", fmt.Errorf("dynamostore: %w", err)
	}
	items, next, err := s.queryPage(ctx, in, pageToken, limit, func(k pageKey) bool {
		return k.DuePK == pk && k.DueSK != ""
	})
	if err != nil {
		return nil, "", failed("due", err)
	}
	conns, err := decodeConns(items)
	return conns, next, err
}
