package kmskeys_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/keys/keystest"
	"github.com/workplace/connections/shared/keys/kmskeys"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestContract runs the key contract on KMS as moto emulates it
// (GenerateDataKey and Decrypt with an encryption context).
func TestContract(t *testing.T) {
	srv := awstest.Moto(t)
	c := kms.NewFromConfig(srv.Config(t))
	key, err := c.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String(t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	keystest.Run(t, kmskeys.New(c, aws.ToString(key.KeyMetadata.Arn)))
}
