// Package awsdeps wires the handlers to AWS for a Lambda: DynamoDB, Secrets
// Manager, KMS, SES and EventBridge from the standard AWS environment. It is
// what every functions/*/main.go calls; nothing local-only is linked from
// here.
package awsdeps

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ses"

	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/eventbus/eventbridgebus"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/keys/kmskeys"
	"github.com/workplace/connections/shared/mail/sesmail"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/dynamovault"
	"github.com/workplace/connections/shared/vault/sealed"
	"github.com/workplace/connections/shared/vault/secretsvault"
)

// Backends builds the backends on DynamoDB (and its stream), Secrets
// Manager, SES and EventBridge (AWS_ENDPOINT_URL points them at an
// emulator).
func Backends(ctx context.Context, cfg config.Config) (handlers.Backends, error) {
	ac, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return handlers.Backends{}, fmt.Errorf("aws config: %w", err)
	}
	db := dynamodb.NewFromConfig(ac)
	return handlers.Backends{
		Store:  dynamostore.New(db, cfg.TableName),
		Vault:  Vault(cfg, secretsmanager.NewFromConfig(ac), db, kms.NewFromConfig(ac)),
		Mailer: sesmail.New(ses.NewFromConfig(ac), cfg.MailFrom),
		Bus:    eventbridgebus.New(eventbridge.NewFromConfig(ac), cfg.EventBusName),
		Stream: dynamostore.AuditFromStreamRecord,
	}, nil
}

// Vault is the deployment's vault: Secrets Manager, and user-level tokens
// sealed under the KMS key USER_TOKEN_KEY in the table when
// USER_TOKEN_STORE=sealed (the sealed store is wired in either mode, so
// that tokens sealed before a switch back to secrets still read and move).
func Vault(cfg config.Config, sm secretsvault.Client, db dynamovault.API, k kmskeys.Client) *vault.Router {
	return &vault.Router{
		Secrets:      secretsvault.New(sm),
		Sealed:       sealed.New(dynamovault.New(db, cfg.TableName), kmskeys.New(k, cfg.UserTokenKey)),
		Prefix:       cfg.SecretPrefix,
		Mode:         cfg.UserTokenStore,
		RecoveryDays: cfg.SecretRecoveryDays,
	}
}

// Load builds the handlers' dependencies for a Lambda from its environment.
// It exits the process on bad configuration: a Lambda that cannot start
// should fail its init, loudly.
func Load() *handlers.Deps {
	cfg, err := config.FromEnv(os.Getenv)
	log := handlers.NewLogger(cfg.LogLevel)
	slog.SetDefault(log)
	if err != nil {
		log.Error("bad configuration", "error", err.Error())
		os.Exit(1)
	}
	b, err := Backends(context.Background(), cfg)
	if err != nil {
		log.Error("cannot reach AWS", "error", err.Error())
		os.Exit(1)
	}
	return &handlers.Deps{Config: cfg, Backends: b, HTTP: handlers.VendorClient(cfg), Now: time.Now, Log: log}
}
