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
	"github.com/aws/smithy-go/tracing"

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
// emulator), untraced.
func Backends(ctx context.Context, cfg config.Config) (handlers.Backends, error) {
	return TracedBackends(ctx, cfg, noTracing)
}

// TracedBackends is Backends whose AWS SDK clients start a span of tp per
// call (the SDK's own tracing).
func TracedBackends(ctx context.Context, cfg config.Config, tp tracing.TracerProvider) (handlers.Backends, error) {
	ac, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return handlers.Backends{}, fmt.Errorf("aws config: %w", err)
	}
	tr := sdkTracer(tp, ac.Region)
	db := dynamodb.NewFromConfig(ac, func(o *dynamodb.Options) { o.TracerProvider = tr })
	return handlers.Backends{
		Store:  dynamostore.New(db, cfg.TableName),
		Vault:  Vault(cfg, secretsmanager.NewFromConfig(ac, func(o *secretsmanager.Options) { o.TracerProvider = tr }), db, kms.NewFromConfig(ac, func(o *kms.Options) { o.TracerProvider = tr })),
		Mailer: sesmail.New(ses.NewFromConfig(ac, func(o *ses.Options) { o.TracerProvider = tr }), cfg.MailFrom),
		Bus:    eventbridgebus.New(eventbridge.NewFromConfig(ac, func(o *eventbridge.Options) { o.TracerProvider = tr }), cfg.EventBusName),
		Stream: dynamostore.AuditFromStreamRecord,
	}, nil
}

// ClientSecretCache is v with the OAuth client secrets (the accounts'
// under <prefix>/clients/ and the deployment apps') kept in the container
// for SECRET_CACHE_TTL: a container reads each at most once per TTL, not
// once per connection or request. Tokens are never kept.
func ClientSecretCache(cfg config.Config, v vault.Vault) vault.Vault {
	names := make([]string, 0, len(cfg.DeploymentSecrets))
	for _, n := range cfg.DeploymentSecrets {
		names = append(names, n)
	}
	return vault.NewCache(v, cfg.SecretPrefix, names, cfg.SecretCacheTTL, nil)
}

// Vault is the deployment's vault: Secrets Manager, and every account's
// secrets (connection tokens of both levels, client secrets) sealed under
// the KMS key USER_TOKEN_KEY in the table when USER_TOKEN_STORE=sealed
// (the sealed store is wired in either mode, so that secrets sealed before
// a switch back to secrets still read and move). Each store has its own
// client-secret cache under the Router: a write or delete through the
// Router reaches the cache of the store it changes, so a settings write in
// this container is read afresh at once, in either mode.
func Vault(cfg config.Config, sm secretsvault.Client, db dynamovault.API, k kmskeys.Client) *vault.Router {
	return Router(cfg,
		ClientSecretCache(cfg, vault.PaceWrites(secretsvault.New(sm), secretWritesPerSecond, secretWritesPerSecond)),
		ClientSecretCache(cfg, sealed.New(dynamovault.New(db, cfg.TableName), kmskeys.New(k, cfg.UserTokenKey))))
}

// Router is the vault over the two stores as the configuration says:
// account secrets go to USER_TOKEN_STORE's, under SECRET_PREFIX, and a
// moved secret's old copy keeps SECRET_RECOVERY_DAYS. The Lambdas and the
// local server's embedded backends build it here alike.
func Router(cfg config.Config, secrets, sealedStore vault.Vault) *vault.Router {
	return &vault.Router{
		Secrets:      secrets,
		Sealed:       sealedStore,
		Prefix:       cfg.SecretPrefix,
		Mode:         cfg.UserTokenStore,
		RecoveryDays: cfg.SecretRecoveryDays,
	}
}

// Load builds the handlers' dependencies for a Lambda from its environment.
// It exits the process on bad configuration: a Lambda that cannot start
// should fail its init, loudly. With X-Ray active tracing (Lambda then
// sets AWS_XRAY_DAEMON_ADDRESS) every AWS SDK call and vendor HTTP call of
// a sampled invocation is a subsegment of its trace; wrap the handler in
// Traced so that they join the invocation's trace.
func Load() *handlers.Deps {
	cfg, err := config.FromEnv(os.Getenv)
	log := handlers.NewLogger(cfg.LogLevel)
	slog.SetDefault(log)
	if err != nil {
		log.Error("bad configuration", "error", err.Error())
		os.Exit(1)
	}
	tp := noTracing
	if addr := os.Getenv("AWS_XRAY_DAEMON_ADDRESS"); addr != "" {
		exp, err := newXRayExporter(addr)
		if err != nil {
			// Tracing is never a reason not to serve.
			log.Warn("tracing off", "error", err.Error())
		} else {
			tp = newTracer(exp)
		}
	}
	return deps(context.Background(), cfg, tp, log)
}

// deps builds the dependencies with tracing by tp.
func deps(ctx context.Context, cfg config.Config, tp tracing.TracerProvider, log *slog.Logger) *handlers.Deps {
	b, err := TracedBackends(ctx, cfg, tp)
	if err != nil {
		log.Error("cannot reach AWS", "error", err.Error())
		os.Exit(1)
	}
	return &handlers.Deps{Config: cfg, Backends: b, HTTP: tracedVendorClient(handlers.VendorClient(cfg), tp), Now: time.Now, Log: log}
}
