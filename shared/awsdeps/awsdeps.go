// Package awsdeps wires the handlers to AWS for a Lambda: DynamoDB, Secrets
// Manager, SES and EventBridge from the standard AWS environment. It is
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
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ses"

	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/eventbus/eventbridgebus"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/mail/sesmail"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/secretsvault"
)

// secretWritesPerSecond paces one process's Secrets Manager writes: half
// of PutSecretValue's quota (50 per second per Region, shared by every
// function, not adjustable:
// https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html),
// so that a scan run refreshing many connections at once (SCAN_CONCURRENCY)
// leaves room for the API's own writes and is not throttled past the SDK's
// retries with rotated tokens in hand.
const secretWritesPerSecond = 25

// Backends builds the backends on DynamoDB (and its stream), Secrets
// Manager, SES and EventBridge (AWS_ENDPOINT_URL points them at an
// emulator).
func Backends(ctx context.Context, cfg config.Config) (handlers.Backends, error) {
	ac, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return handlers.Backends{}, fmt.Errorf("aws config: %w", err)
	}
	return handlers.Backends{
		Store:  dynamostore.New(dynamodb.NewFromConfig(ac), cfg.TableName),
		Vault:  vault.PaceWrites(secretsvault.New(secretsmanager.NewFromConfig(ac)), secretWritesPerSecond, secretWritesPerSecond),
		Mailer: sesmail.New(ses.NewFromConfig(ac), cfg.MailFrom),
		Bus:    eventbridgebus.New(eventbridge.NewFromConfig(ac), cfg.EventBusName),
		Stream: dynamostore.AuditFromStreamRecord,
	}, nil
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
