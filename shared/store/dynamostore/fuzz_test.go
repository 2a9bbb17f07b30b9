package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/store/layout"
)

// storedItems is how the store writes these connections: captured from
// its own PutItem requests.
func storedItems(t *testing.T, cs []connection.Connection) []map[string]types.AttributeValue {
	t.Helper()
	var items []map[string]types.AttributeValue
	s := dynamostore.New(&fake{t: t, put: func(in *dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
		items = append(items, in.Item)
		return &dynamodb.PutItemOutput{}, nil
	}}, "tbl")
	for _, c := range cs {
		if err := s.Apply(t.Context(), store.CreateConnection{Conn: c}); err != nil {
			t.Fatal(err)
		}
	}
	return items
}

// startKey is the position a query was asked to start after.
type startKey struct{ PK, SK, DuePK, DueSK string }

// FuzzPageToken: whatever page token a caller hands in, the DynamoDB query
// either is never sent (the token is refused with a plain error) or starts
// inside the listing asked for — the caller's account and vendor, or the
// shard of the expiry index — never in another partition; and the token
// the store hands out for the next page is read back as exactly the last
// item of the page.
func FuzzPageToken(f *testing.F) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	vendorIDs := []string{"servicenow", "confluence"}
	f.Fuzz(func(t *testing.T, token, account string, vendor, shard uint8, due bool) {
		if account == "" || !utf8.ValidString(account) {
			// No route reaches a store without an account, and claims
			// arrive as JSON strings: valid UTF-8, as DynamoDB keys must be.
			return
		}
		v := vendorIDs[int(vendor)%len(vendorIDs)]
		sh := int(shard) % store.DueShards
		// Three connections of the listing, oldest first in the index.
		var cs []connection.Connection
		for i := 0; len(cs) < 3; i++ {
			k := connection.UserKey(account, v, fmt.Sprintf("u%03d", i))
			if due && store.Shard(k) != sh {
				continue
			}
			cs = append(cs, connection.Connection{Key: k, ID: fmt.Sprint("c", i), NextCheckAt: now.Add(time.Duration(i-5) * time.Minute)})
		}
		items := storedItems(t, cs)

		var sent []startKey
		answer := func(in *dynamodb.QueryInput) (*dynamodb.QueryOutput, error) {
			var k startKey
			if in.ExclusiveStartKey != nil {
				if err := attributevalue.UnmarshalMap(in.ExclusiveStartKey, &k); err != nil {
					t.Fatalf("start key %v: %v", in.ExclusiveStartKey, err)
				}
			}
			sent = append(sent, k)
			return &dynamodb.QueryOutput{Items: items}, nil
		}
		s := dynamostore.New(&fake{t: t, query: answer}, "tbl")
		list := func(token string) ([]connection.Connection, string, error) {
			if due {
				return s.Due(context.Background(), sh, now, token, 2)
			}
			return s.ListUserConnections(context.Background(), account, v, token, 2)
		}
		inListing := func(k startKey) bool {
			if due {
				return k.DuePK == layout.DuePK(sh) && k.DueSK != "" && k.PK != "" && k.SK != ""
			}
			return k.PK == layout.AccountPK(account) && strings.HasPrefix(k.SK, layout.UserConnPrefix(v)) && k.DuePK == "" && k.DueSK == ""
		}

		_, _, err := list(token)
		switch {
		case token == "":
			if err != nil || len(sent) != 1 || sent[0] != (startKey{}) {
				t.Fatalf("first page: sent %+v, %v", sent, err)
			}
		case err != nil:
			if len(sent) != 0 {
				t.Fatalf("token %q refused (%v) after querying from %+v", token, err, sent)
			}
			// A fixed text, never the token or its contents.
			if err.Error() != "dynamostore: "+map[bool]string{true: "due", false: "list user connections"}[due]+": dynamostore: invalid page token" ||
				errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
				t.Fatalf("token %q refused with %v", token, err)
			}
		default:
			if len(sent) != 1 || !inListing(sent[0]) {
				t.Fatalf("token %q of %s/%s (due %v, shard %d) started the query at %+v", token, account, v, due, sh, sent)
			}
		}

		// A real next-page token reads back as the last item of its page.
		sent = nil
		page, next, err := list("")
		if err != nil || len(page) != 2 || next == "" {
			t.Fatalf("first page: %d items, next %q, %v", len(page), next, err)
		}
		sent = nil
		if _, _, err := list(next); err != nil || len(sent) != 1 {
			t.Fatalf("next page: sent %+v, %v", sent, err)
		}
		var want startKey
		if err := attributevalue.UnmarshalMap(items[1], &want); err != nil {
			t.Fatal(err)
		}
		if !due {
			want.DuePK, want.DueSK = "", ""
		}
		if !reflect.DeepEqual(sent[0], want) || !inListing(sent[0]) {
			t.Fatalf("next page started at %+v, want %+v", sent[0], want)
		}
	})
}
