// Package localbackend picks the local server's backends (BACKEND): the
// embedded in-memory twins (memory, the default) or the AWS services
// (aws), readying an AWS API emulator when AWS_ENDPOINT_URL points at one.
// Either way the state-change events go to an in-memory bus, fed by the
// embedded store's commit feed or by the table's stream. Local only: no
// Lambda links it.
package localbackend

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/ses"

	"github.com/workplace/connections/infra/streampoll"
	"github.com/workplace/connections/shared/awsdeps"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/eventbus/membus"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/keys/memkeys"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vault/sealed"
)

// Backends are the local server's backends and, on the embedded mailer,
// its outbox of the emails sent (nil on AWS).
type Backends struct {
	handlers.Backends
	Outbox *memmail.Outbox
	// Events is the bus (Backends.Bus) the local server lists: what the
	// publisher published, in order.
	Events *membus.Bus
	// Memory is the embedded store (BACKEND=memory): its commit feed
	// carries the committed audit entries. nil on AWS.
	Memory *memstore.Store
	// Stream reads the table's DynamoDB Stream (BACKEND=aws): what the
	// event publisher Lambda would get. nil on the embedded store, or
	// when the table has no stream.
	Stream *streampoll.Poller
}

// Kind is the BACKEND setting: "memory" (default) or "aws".
func Kind(getenv func(string) string) string {
	if k := getenv("BACKEND"); k != "" {
		return k
	}
	return "memory"
}

// FromEnv builds the backends BACKEND names.
func FromEnv(ctx context.Context, getenv func(string) string, cfg config.Config) (Backends, error) {
	switch k := Kind(getenv); k {
	case "memory":
		return Memory(cfg), nil
	case "aws":
		if getenv("AWS_ENDPOINT_URL") != "" {
			// An emulator: give it the table and a verified sender.
			if err := PrepareEmulator(ctx, cfg); err != nil {
				return Backends{}, err
			}
		}
		b, err := awsdeps.Backends(ctx, cfg)
		if err != nil {
			return Backends{}, err
		}
		out := Backends{Backends: b, Events: membus.New()}
		out.Bus = out.Events
		out.Stream, err = tableStream(ctx, cfg)
		return out, err
	default:
		return Backends{}, fmt.Errorf("BACKEND must be memory or aws, not %q", k)
	}
}

// Memory builds the embedded backends: the vault routes account secrets
// by USER_TOKEN_STORE, sealed ones under an in-memory key service.
func Memory(cfg config.Config) Backends {
	out, st, bus := memmail.New(), memstore.New(), membus.New()
	v := awsdeps.Router(cfg, memvault.New(), sealed.New(memvault.New(memvault.ForSealed()), memkeys.New()))
	return Backends{
		Backends: handlers.Backends{Store: st, Vault: v, Mailer: out, Bus: bus},
		Outbox:   out, Events: bus, Memory: st,
	}
}

// tableStream is a reader of the table's stream, nil when the table has
// none (a table not made by the template or PrepareEmulator).
func tableStream(ctx context.Context, cfg config.Config) (*streampoll.Poller, error) {
	ac, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	out, err := dynamodb.NewFromConfig(ac).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(cfg.TableName)})
	if err != nil {
		return nil, fmt.Errorf("describe table %s: %w", cfg.TableName, err)
	}
	spec := out.Table.StreamSpecification
	if spec == nil || !aws.ToBool(spec.StreamEnabled) || out.Table.LatestStreamArn == nil {
		return nil, nil
	}
	return streampoll.New(dynamodbstreams.NewFromConfig(ac), aws.ToString(out.Table.LatestStreamArn)), nil
}

// PrepareEmulator readies an AWS API emulator (moto) for the service: it
// creates the table as the template does, its stream on (or waits for an
// existing one), the KMS key of sealed tokens (USER_TOKEN_KEY's alias) and
// verifies the sender address with SES. Only for local work against an
// emulator; a real deployment gets both from template.yaml and the operator.
func PrepareEmulator(ctx context.Context, cfg config.Config) error {
	ac, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	db := dynamodb.NewFromConfig(ac)
	if err := dynamostore.CreateTable(ctx, db, cfg.TableName); err != nil {
		return fmt.Errorf("create table %s: %w", cfg.TableName, err)
	}
	if _, err := dynamostore.EnableStream(ctx, db, cfg.TableName); err != nil {
		return err
	}
	if err := prepareKey(ctx, kms.NewFromConfig(ac), cfg.UserTokenKey); err != nil {
		return err
	}
	if _, err := ses.NewFromConfig(ac).VerifyEmailIdentity(ctx, &ses.VerifyEmailIdentityInput{EmailAddress: &cfg.MailFrom}); err != nil {
		return fmt.Errorf("verify sender %s: %w", cfg.MailFrom, err)
	}
	return nil
}

// prepareKey gives an emulator the KMS key of sealed tokens: when
// USER_TOKEN_KEY is an alias that names no key yet, a new key with
// rotation on, under that alias.
func prepareKey(ctx context.Context, c *kms.Client, alias string) error {
	if !strings.HasPrefix(alias, "alias/") {
		return nil // a key id or ARN: the operator's
	}
	_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	var missing *kmstypes.NotFoundException
	if !errors.As(err, &missing) {
		return err
	}
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("connections: data keys of sealed user tokens")})
	if err != nil {
		return fmt.Errorf("create key %s: %w", alias, err)
	}
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		return fmt.Errorf("key rotation of %s: %w", alias, err)
	}
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		return fmt.Errorf("create alias %s: %w", alias, err)
	}
	return nil
}
