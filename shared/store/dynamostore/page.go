package dynamostore

import (
	"context"
	"encoding/base64"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/layout"
)

// pageKey is where a page ended: the key of its last item, in the table
// and, for the expiry index, in the index. A page token is its JSON in
// base64.
type pageKey struct {
	PK    string
	SK    string
	DuePK string `json:",omitempty" dynamodbav:",omitempty"`
	DueSK string `json:",omitempty" dynamodbav:",omitempty"`
}

// errToken: a page token this store did not hand out for this listing;
// it is a store.ErrBadCursor.
var errToken error = tokenError{}

type tokenError struct{}

func (tokenError) Error() string        { return "dynamostore: invalid page token" }
func (tokenError) Is(target error) bool { return target == store.ErrBadCursor }

func (k pageKey) token() string {
	b, _ := json.Marshal(k) // strings only: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseToken(token string) (pageKey, error) {
	var k pageKey
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || json.Unmarshal(b, &k) != nil || k.PK == "" || k.SK == "" {
		return k, errToken
	}
	return k, nil
}

// queryPage runs the query from the token's position and returns up to
// limit items and the token of the next page, "" when no item follows (it
// reads one item ahead so that a last page is never empty). A query on
// the expiry index has its keys in the token too; check vets a decoded
// token against the query.
func (s *Store) queryPage(ctx context.Context, in *dynamodb.QueryInput, token string, limit int, check func(pageKey) bool) ([]map[string]types.AttributeValue, string, error) {
	if limit <= 0 {
		limit = layout.DefaultLimit
	}
	if token != "" {
		k, err := parseToken(token)
		if err != nil || !check(k) {
			return nil, "", errToken
		}
		if in.ExclusiveStartKey, err = attributevalue.MarshalMap(k); err != nil {
			return nil, "", err
		}
	}
	var items []map[string]types.AttributeValue
	for {
		in.Limit = aws.Int32(int32(limit + 1 - len(items)))
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, "", err
		}
		items = append(items, out.Items...)
		if len(items) > limit || len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if len(items) <= limit {
		return items, "", nil
	}
	items = items[:limit]
	var last pageKey
	if err := attributevalue.UnmarshalMap(items[limit-1], &last); err != nil {
		return nil, "", err
	}
	if in.IndexName == nil {
		last.DuePK, last.DueSK = "", ""
	}
	return items, last.token(), nil
}
