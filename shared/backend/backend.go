// Package backend builds the storage, vault and mailer the handlers run on:
// the AWS services (from the standard AWS environment, so AWS_ENDPOINT_URL
// points them at an emulator) or the embedded in-memory twins.
package backend

import (
	"context"
	"fmt"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ses"

	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/mail/sesmail"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vault/secretsvault"
)

// Backends are the stateful services.
type Backends struct {
	Store  store.Store
	Vault  vault.Vault
	Mailer mail.Mailer
	// Outbox is the in-memory mailer when running embedded (nil on AWS).
	Outbox *memmail.Outbox
}

// AWS builds the backends on DynamoDB, Secrets Manager and SES.
func AWS(ctx context.Context, cfg config.Config) (Backends, error) {
	ac, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return Backends{}, fmt.Errorf("aws config: %w", err)
	}
	return Backends{
		Store:  dynamostore.New(dynamodb.NewFromConfig(ac), cfg.TableName),
		Vault:  secretsvault.New(secretsmanager.NewFromConfig(ac)),
		Mailer: sesmail.New(ses.NewFromConfig(ac), cfg.MailFrom),
	}, nil
}

// Memory builds the embedded backends (local mode and tests).
func Memory() Backends {
	out := memmail.New()
	return Backends{Store: memstore.New(), Vault: memvault.New(), Mailer: out, Outbox: out}
}

// PrepareEmulator readies an AWS API emulator (moto) for the service: it
// creates the table as the template does (or waits for an existing one) and
// verifies the sender address with SES. Only for local work against an
// emulator; a real deployment gets both from template.yaml and the operator.
func PrepareEmulator(ctx context.Context, cfg config.Config) error {
	ac, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	if err := dynamostore.CreateTable(ctx, dynamodb.NewFromConfig(ac), cfg.TableName); err != nil {
		return fmt.Errorf("create table %s: %w", cfg.TableName, err)
	}
	if _, err := ses.NewFromConfig(ac).VerifyEmailIdentity(ctx, &ses.VerifyEmailIdentityInput{EmailAddress: &cfg.MailFrom}); err != nil {
		return fmt.Errorf("verify sender %s: %w", cfg.MailFrom, err)
	}
	return nil
}
