package dynamovault_test

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/keys/kmskeys"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/dynamovault"
	"github.com/workplace/connections/shared/vault/sealed"
	"github.com/workplace/connections/shared/vault/secretsvault"
	"github.com/workplace/connections/shared/vault/vaulttest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

type env struct {
	db    *dynamodb.Client
	table string
	keys  *kmskeys.Keys
	srv   *awstest.Server
}

func setup(t *testing.T) env {
	t.Helper()
	srv := awstest.Moto(t)
	db := srv.DynamoDBClient(t)
	table := awstest.Unique("vault")
	if err := dynamostore.CreateTable(t.Context(), db, table); err != nil {
		t.Fatal(err)
	}
	kc := kms.NewFromConfig(srv.Config(t))
	key, err := kc.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String(t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	return env{db: db, table: table, keys: kmskeys.New(kc, aws.ToString(key.KeyMetadata.Arn)), srv: srv}
}

// TestContract: the sealed vault over the table with KMS (moto), and the
// Router in both modes, meet the vault contract. (The table store alone
// holds sealed values, so it takes values up to vault.MaxSealedValueSize.)
func TestContract(t *testing.T) {
	e := setup(t)
	t.Run("sealed", func(t *testing.T) {
		vaulttest.Run(t, func(t *testing.T) vault.Vault {
			return sealed.New(dynamovault.New(e.db, e.table), e.keys)
		})
	})
	sm := secretsvault.New(secretsmanagerClient(t, e.srv))
	for _, mode := range []string{vault.StoreSecrets, vault.StoreSealed} {
		t.Run("router-"+mode, func(t *testing.T) {
			vaulttest.RunUnder(t, func(t *testing.T, prefix string) vault.Vault {
				return &vault.Router{Secrets: sm, Sealed: sealed.New(dynamovault.New(e.db, e.table), e.keys),
					Prefix: prefix, Mode: mode, RecoveryDays: 7}
			})
		})
	}
}

// TestMovedItemDoesNotOpen: on DynamoDB and KMS, a sealed value copied
// from one secret's item into another's (user-level and app-level tokens,
// a client secret) does not open.
func TestMovedItemDoesNotOpen(t *testing.T) {
	e := setup(t)
	for _, c := range [][2]string{
		{"connections/tokens/a1/jira/user/u1", "connections/tokens/a2/jira/user/u1"},
		{vault.ConnectionSecretName("connections", "a1", "jira", "app", ""), vault.ConnectionSecretName("connections", "a2", "jira", "app", "")},
		{vault.ClientSecretName("connections", "a1", "servicenow"), vault.ClientSecretName("connections", "a2", "servicenow")},
	} {
		t.Run(c[0], func(t *testing.T) { movedItemDoesNotOpen(t, e, c[0], c[1]) })
	}
}

func movedItemDoesNotOpen(t *testing.T, e env, a, b string) {
	ctx := t.Context()
	v := sealed.New(dynamovault.New(e.db, e.table), e.keys)
	if _, err := v.Put(ctx, a, []byte(`{"access_token":"of-a1"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put(ctx, b, []byte(`{"access_token":"of-a2"}`)); err != nil {
		t.Fatal(err)
	}
	key := func(name string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "SECRET#" + name},
			"SK": &types.AttributeValueMemberS{Value: "CURRENT"},
		}
	}
	out, err := e.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.table), Key: key(a)})
	if err != nil || out.Item["Value"] == nil {
		t.Fatalf("the item of %s: %v", a, err)
	}
	if _, err := e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(e.table), Key: key(b),
		UpdateExpression:          aws.String("SET #v = :v"),
		ExpressionAttributeNames:  map[string]string{"#v": "Value"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": out.Item["Value"]},
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := v.Get(ctx, b, ""); !errors.Is(err, sealed.ErrCannotOpen) {
		t.Fatalf("Get of account a2's item holding a1's value = %q, %v; want sealed.ErrCannotOpen", got, err)
	}
}

func secretsmanagerClient(t *testing.T, srv *awstest.Server) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(srv.Config(t))
}
