// Package kmskeys is the key service on AWS KMS: one symmetric KMS key of
// the deployment issues the data keys (GenerateDataKey, AES_256) and opens
// them again (Decrypt). The encryption context travels with both calls:
// KMS binds it to the sealed data key and records it in CloudTrail.
// With automatic rotation on the KMS key, new data keys come from the
// newest key material while Decrypt still opens data keys sealed under
// earlier material (the sealed key names it).
//
// https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateDataKey.html
// https://docs.aws.amazon.com/kms/latest/developerguide/encrypt_context.html
// https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html
package kmskeys

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/workplace/connections/shared/keys"
)

// Client is the part of *kms.Client the key service uses.
type Client interface {
	GenerateDataKey(context.Context, *kms.GenerateDataKeyInput, ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(context.Context, *kms.DecryptInput, ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

var _ Client = (*kms.Client)(nil)

// Keys issues data keys under one KMS key.
type Keys struct {
	c     Client
	keyID string
}

var _ keys.Keys = (*Keys)(nil)

// New returns the key service of the KMS key keyID (id, ARN or alias).
func New(c Client, keyID string) *Keys { return &Keys{c: c, keyID: keyID} }

// NewDataKey calls GenerateDataKey for an AES-256 key.
func (k *Keys) NewDataKey(ctx context.Context, ec map[string]string) (keys.DataKey, error) {
	out, err := k.c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(k.keyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: ec,
	})
	if err != nil {
		return keys.DataKey{}, fmt.Errorf("kmskeys: generate data key: %w", err)
	}
	if len(out.Plaintext) != 32 || len(out.CiphertextBlob) == 0 {
		return keys.DataKey{}, fmt.Errorf("kmskeys: generate data key: KMS answered a %d-byte key", len(out.Plaintext))
	}
	return keys.DataKey{Plaintext: out.Plaintext, Sealed: out.CiphertextBlob}, nil
}

// Open calls Decrypt, naming the key so that a blob of another key is
// refused rather than opened.
func (k *Keys) Open(ctx context.Context, sealed []byte, ec map[string]string) ([]byte, error) {
	out, err := k.c.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    sealed,
		KeyId:             aws.String(k.keyID),
		EncryptionContext: ec,
	})
	var invalid *types.InvalidCiphertextException
	var incorrect *types.IncorrectKeyException
	switch {
	case errors.As(err, &invalid), errors.As(err, &incorrect):
		return nil, fmt.Errorf("kmskeys: decrypt: %w", keys.ErrCannotOpen)
	case err != nil:
		return nil, fmt.Errorf("kmskeys: decrypt: %w", err)
	}
	return out.Plaintext, nil
}
