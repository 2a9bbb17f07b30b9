// Package secretsvault is the Vault on AWS Secrets Manager.
//
// Each name is one secret whose versions are Secrets Manager versions: Put
// adds a version and moves AWSCURRENT to it, so earlier versions stay
// readable by id (Secrets Manager keeps up to about 100 unlabelled
// versions). Values are stored as SecretString (they are JSON); a value
// that is not valid UTF-8 goes to SecretBinary instead. No error returned
// from here contains a secret value.
package secretsvault

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/workplace/connections/shared/vault"
)

// Client is the part of *secretsmanager.Client the vault uses.
type Client interface {
	CreateSecret(context.Context, *secretsmanager.CreateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	RestoreSecret(context.Context, *secretsmanager.RestoreSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.RestoreSecretOutput, error)
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	DeleteSecret(context.Context, *secretsmanager.DeleteSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
}

var _ Client = (*secretsmanager.Client)(nil)

// Vault stores secrets in Secrets Manager.
type Vault struct {
	c           Client
	kmsKeyID    string
	description string
	tags        []types.Tag
}

var _ vault.Vault = (*Vault)(nil)

// Option configures a Vault.
type Option func(*Vault)

// WithKMSKey encrypts secrets the vault creates with this KMS key (id, ARN
// or alias) instead of the account's aws/secretsmanager key.
func WithKMSKey(id string) Option { return func(v *Vault) { v.kmsKeyID = id } }

// WithDescription sets the description of secrets the vault creates.
func WithDescription(d string) Option { return func(v *Vault) { v.description = d } }

// WithTags tags the secrets the vault creates (for IAM conditions, cost
// allocation).
func WithTags(tags map[string]string) Option {
	return func(v *Vault) {
		for k, val := range tags {
			v.tags = append(v.tags, types.Tag{Key: aws.String(k), Value: aws.String(val)})
		}
	}
}

// New returns a Vault over c (usually secretsmanager.NewFromConfig(cfg)).
func New(c Client, opts ...Option) *Vault {
	v := &Vault{c: c}
	for _, o := range opts {
		o(v)
	}
	return v
}

// maxAttempts bounds Put's retries when the secret changes state under it
// (created, deleted or restored by someone else between two calls).
const maxAttempts = 4

// Put writes value as the new current version of name: it creates the
// secret if it is missing and restores it if it is scheduled for deletion.
// One fresh ClientRequestToken serves every call of one Put, so the SDK's
// retries, and ours, never write the value twice; it becomes the version id.
//
// A write to a secret that exists (every token write but a connection's
// first) is one PutSecretValue: the secret's state is learned from its
// typed errors, never asked for first. PutSecretValue answers
// ResourceNotFoundException for a missing secret (then CreateSecret) and
// InvalidRequestException for one scheduled for deletion (then
// RestoreSecret and PutSecretValue again); CreateSecret answers
// ResourceExistsException for a name created meanwhile and
// InvalidRequestException for a name scheduled for deletion
// (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html,
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html).
// This used to call DescribeSecret before every write because moto (5.2.1,
// checked again: its put_secret_value never looks at the deletion date)
// accepts PutSecretValue on a secret scheduled for deletion silently and
// leaves it deleted. The tests' moto server now refuses it as AWS does
// (awstest), so the emulator no longer costs every write a round trip.
func (v *Vault) Put(ctx context.Context, name string, value []byte) (string, error) {
	if err := vault.CheckName(name); err != nil {
		return "", fmt.Errorf("secretsvault: put: %w", err)
	}
	if err := vault.CheckValue(value); err != nil {
		return "", fmt.Errorf("secretsvault: put %s: %w", name, err)
	}
	token := vault.NewVersionID()
	var str *string
	var bin []byte
	if utf8.Valid(value) {
		str = aws.String(string(value))
	} else {
		bin = value
	}
	var last error
	restore := false
	for range maxAttempts {
		if restore {
			restore = false
			if _, err := v.c.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String(name)}); err != nil {
				// Gone for good meanwhile (then it is created), or restored
				// by someone else meanwhile: write again.
				if !isNotFound(err) && !isInvalidRequest(err) {
					return "", v.fail("restore", name, err, value)
				}
			}
		}
		out, err := v.c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId:           aws.String(name),
			SecretString:       str,
			SecretBinary:       bin,
			ClientRequestToken: aws.String(token),
		})
		switch {
		case err == nil:
			return versionOr(out.VersionId, token), nil
		case isInvalidRequest(err): // scheduled for deletion
			last, restore = err, true
			continue
		case !isNotFound(err):
			return "", v.fail("put", name, err, value)
		}
		created, err := v.c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name:               aws.String(name),
			SecretString:       str,
			SecretBinary:       bin,
			ClientRequestToken: aws.String(token),
			KmsKeyId:           optional(v.kmsKeyID),
			Description:        optional(v.description),
			Tags:               v.tags,
		})
		switch {
		case err == nil:
			return versionOr(created.VersionId, token), nil
		case isExists(err): // created meanwhile: write a version
			last = err
		case isInvalidRequest(err): // the name is scheduled for deletion
			last, restore = err, true
		default:
			return "", v.fail("put", name, err, value)
		}
	}
	return "", v.fail("put", name, fmt.Errorf("secret kept changing state: %w", last), value)
}

// Get reads a version of name ("" for AWSCURRENT). A missing secret, a
// missing version and a secret scheduled for deletion are vault.ErrNotFound.
func (v *Vault) Get(ctx context.Context, name, version string) ([]byte, error) {
	if vault.CheckName(name) != nil {
		return nil, vault.ErrNotFound // no secret can have that name
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)}
	if version == "" {
		in.VersionStage = aws.String("AWSCURRENT")
	} else {
		if len(version) < 32 || len(version) > 64 {
			return nil, vault.ErrNotFound // not the shape of a version id
		}
		in.VersionId = aws.String(version)
	}
	out, err := v.c.GetSecretValue(ctx, in)
	if err != nil {
		if isNotFound(err) || isMarkedDeleted(err) {
			return nil, vault.ErrNotFound
		}
		return nil, v.fail("get", name, err, nil)
	}
	if out.SecretString != nil {
		return []byte(*out.SecretString), nil
	}
	if out.SecretBinary != nil {
		return out.SecretBinary, nil
	}
	return nil, vault.ErrNotFound
}

// Delete schedules name for deletion after recoveryDays, clamped to the 7 to
// 30 days Secrets Manager accepts. A missing secret, or one already
// scheduled, is not an error.
func (v *Vault) Delete(ctx context.Context, name string, recoveryDays int) error {
	if vault.CheckName(name) != nil {
		return nil // no secret can have that name
	}
	recoveryDays = min(max(recoveryDays, 7), 30)
	_, err := v.c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
		SecretId:             aws.String(name),
		RecoveryWindowInDays: aws.Int64(int64(recoveryDays)),
	})
	if err == nil || isNotFound(err) || isMarkedDeleted(err) {
		return nil
	}
	return v.fail("delete", name, err, nil)
}

// fail wraps err with the operation and the secret name. If the error text
// somehow carries the value (it should not: AWS does not echo it), only the
// API error code is kept.
func (v *Vault) fail(op, name string, err error, value []byte) error {
	if len(value) > 0 && leaks(err.Error(), value) {
		code := "unknown"
		var ae smithy.APIError
		if errors.As(err, &ae) {
			code = ae.ErrorCode()
		}
		return &redactedError{op: op, name: name, code: code}
	}
	return fmt.Errorf("secretsvault: %s %s: %w", op, name, err)
}

// leaks reports whether msg contains the value, or any long run of it (a
// service may quote a truncated value).
func leaks(msg string, value []byte) bool {
	const run = 16
	s := string(value)
	if len(s) <= run {
		return strings.Contains(msg, s)
	}
	for i := 0; i+run <= len(s); i++ {
		if strings.Contains(msg, s[i:i+run]) {
			return true
		}
	}
	return false
}

type redactedError struct{ op, name, code string }

func (e *redactedError) Error() string {
	return fmt.Sprintf("secretsvault: %s %s: %s (message withheld: it quoted the secret)", e.op, e.name, e.code)
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

// isInvalidRequest is InvalidRequestException: for PutSecretValue and
// CreateSecret on this vault's secrets, a secret (or name) scheduled for
// deletion (its other causes, rotation and secrets managed by another
// service, never apply to them).
func isInvalidRequest(err error) bool {
	var ir *types.InvalidRequestException
	return errors.As(err, &ir)
}

func isExists(err error) bool {
	var ex *types.ResourceExistsException
	return errors.As(err, &ex)
}

// isMarkedDeleted recognises the InvalidRequestException Secrets Manager
// answers for a secret scheduled for deletion ("…because it was marked for
// deletion", "…is already scheduled for deletion" from CreateSecret, or
// moto's "…currently marked deleted").
func isMarkedDeleted(err error) bool {
	var ir *types.InvalidRequestException
	if !errors.As(err, &ir) {
		return false
	}
	m := strings.ToLower(ir.ErrorMessage())
	return strings.Contains(m, "marked for deletion") || strings.Contains(m, "marked deleted") ||
		strings.Contains(m, "scheduled for deletion")
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func versionOr(id *string, token string) string {
	if id != nil && *id != "" {
		return *id
	}
	return token
}
