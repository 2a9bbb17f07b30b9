// Package localbackend picks the local server's backends (BACKEND): the
// embedded in-memory twins (memory, the default) or the AWS services
// (aws), readying an AWS API emulator when AWS_ENDPOINT_URL points at one.
// Local only: no Lambda links it.
package localbackend

import (
	"context"
	"fmt"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ses"

	"github.com/workplace/connections/shared/awsdeps"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault/memvault"
)

// Backends are the local server's backends and, on the embedded mailer,
// its outbox of the emails sent (nil on AWS).
type Backends struct {
	handlers.Backends
	Outbox *memmail.Outbox
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
		return Memory(), nil
	case "aws":
		if getenv("AWS_ENDPOINT_URL") != "" {
			// An emulator: give it the table and a verified sender.
			if err := PrepareEmulator(ctx, cfg); err != nil {
				return Backends{}, err
			}
		}
		b, err := awsdeps.Backends(ctx, cfg)
		return Backends{Backends: b}, err
	default:
		return Backends{}, fmt.Errorf("BACKEND must be memory or aws, not %q", k)
	}
}

// Memory builds the embedded backends.
func Memory() Backends {
	out := memmail.New()
	return Backends{Backends: handlers.Backends{Store: memstore.New(), Vault: memvault.New(), Mailer: out}, Outbox: out}
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
