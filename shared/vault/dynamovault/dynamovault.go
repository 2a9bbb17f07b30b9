// Package dynamovault is a Vault in the service's DynamoDB table: the store
// of sealed values (vault/sealed seals them first; this package stores
// bytes and knows nothing of keys). It behaves as Secrets Manager does where
// callers can tell: every Put is a new version whose id it returns, earlier
// versions stay readable by id, Delete hides the secret for a recovery
// window (a later Put restores it, with its history), deleting a missing
// secret is no error.
//
// Items (beside the connections, in partitions of their own):
//
//	PK=SECRET#<name> SK=CURRENT       Current (version id), Value; while deleted: DeleteAfter, TTL
//	PK=SECRET#<name> SK=V#<versionId> Value, TTL
//
// A Put is two writes, the version item then the head (Current and its
// Value, unconditionally: of two racing Puts the later head write wins and
// both versions stay readable, as with Secrets Manager). A read of the
// current version, or of a version that is still current (what connections
// point at), is one GetItem of the head; an older version is a second
// GetItem. No read before a write, no transaction, no index: the items are
// not in the due index and the table stream's filter drops them.
//
// Old versions are kept History (30 days) after they were written; the
// table's TTL removes them, and removes a deleted head after its window
// (reads honour DeleteAfter without waiting for TTL's sweep, which may
// lag by days).
package dynamovault

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/shared/vault"
)

// API is the part of *dynamodb.Client the vault uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// History is how long a version stays readable after it is written, when
// it is no longer current.
const History = 30 * 24 * time.Hour

// Vault stores versioned values in a table. It is safe for concurrent use.
type Vault struct {
	db    API
	table *string
	now   func() time.Time
}

var _ vault.Vault = (*Vault)(nil)

// Option configures a Vault.
type Option func(*Vault)

// WithClock sets the clock of TTLs and recovery windows (default time.Now).
func WithClock(now func() time.Time) Option { return func(v *Vault) { v.now = now } }

// New returns a Vault in table (the service's table: PK, SK, TTL).
func New(db API, table string, opts ...Option) *Vault {
	v := &Vault{db: db, table: aws.String(table), now: time.Now}
	for _, o := range opts {
		o(v)
	}
	return v
}

const head = "CURRENT"

func key(name, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "SECRET#" + name},
		"SK": &types.AttributeValueMemberS{Value: sk},
	}
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// Put writes value as the new current version of name.
func (v *Vault) Put(ctx context.Context, name string, value []byte) (string, error) {
	if err := vault.CheckName(name); err != nil {
		return "", fmt.Errorf("dynamovault: put: %w", err)
	}
	if err := vault.CheckValueSize(value, vault.MaxSealedValueSize); err != nil {
		return "", fmt.Errorf("dynamovault: put %s: %w", name, err)
	}
	id := vault.NewVersionID()
	item := key(name, "V#"+id)
	item["Value"] = &types.AttributeValueMemberB{Value: value}
	item["TTL"] = num(v.now().Add(History).Unix())
	if _, err := v.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: v.table, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(PK)"), // a fresh id; never overwrite a version
	}); err != nil {
		return "", fmt.Errorf("dynamovault: put %s: %w", name, err)
	}
	if _, err := v.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        v.table,
		Key:              key(name, head),
		UpdateExpression: aws.String("SET #c = :c, #v = :v REMOVE #d, #t"),
		ExpressionAttributeNames: map[string]string{
			"#c": "Current", "#v": "Value", "#d": "DeleteAfter", "#t": "TTL",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":c": &types.AttributeValueMemberS{Value: id},
			":v": &types.AttributeValueMemberB{Value: value},
		},
	}); err != nil {
		return "", fmt.Errorf("dynamovault: put %s: %w", name, err)
	}
	return id, nil
}

// Get reads a version of name ("" for the current one).
func (v *Vault) Get(ctx context.Context, name, version string) ([]byte, error) {
	h, err := v.get(ctx, name, head)
	if err != nil {
		return nil, err
	}
	if h == nil || h["DeleteAfter"] != nil {
		return nil, vault.ErrNotFound
	}
	if cur, _ := h["Current"].(*types.AttributeValueMemberS); version == "" || (cur != nil && cur.Value == version) {
		return value(h)
	}
	it, err := v.get(ctx, name, "V#"+version)
	if err != nil {
		return nil, err
	}
	if it == nil {
		return nil, vault.ErrNotFound
	}
	return value(it)
}

func (v *Vault) get(ctx context.Context, name, sk string) (map[string]types.AttributeValue, error) {
	out, err := v.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: v.table, Key: key(name, sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("dynamovault: get %s: %w", name, err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}

func value(item map[string]types.AttributeValue) ([]byte, error) {
	b, ok := item["Value"].(*types.AttributeValueMemberB)
	if !ok {
		return nil, errors.New("dynamovault: an item without a value")
	}
	return b.Value, nil
}

// Delete hides name until a Put restores it, and lets the table's TTL
// remove it after recoveryDays (clamped to 7..30, as Secrets Manager's
// window). Deleting a missing or already deleted secret changes nothing.
func (v *Vault) Delete(ctx context.Context, name string, recoveryDays int) error {
	recoveryDays = min(max(recoveryDays, 7), 30)
	after := v.now().Add(time.Duration(recoveryDays) * 24 * time.Hour).Unix()
	_, err := v.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 v.table,
		Key:                       key(name, head),
		UpdateExpression:          aws.String("SET #d = :d, #t = :d"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND attribute_not_exists(#d)"),
		ExpressionAttributeNames:  map[string]string{"#d": "DeleteAfter", "#t": "TTL"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": num(after)},
	})
	var cond *types.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dynamovault: delete %s: %w", name, err)
	}
	return nil
}
