package secretsvault_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/secretsvault"
	"github.com/workplace/connections/shared/vault/vaulttest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestContract runs the vault contract on Secrets Manager as moto emulates
// it. Each subtest gets a fresh Vault, and the contract puts its names under
// a random prefix of its own, so nothing collides on the shared server.
func TestContract(t *testing.T) {
	srv := awstest.Moto(t)
	client := secretsmanager.NewFromConfig(srv.Config(t))
	vaulttest.Run(t, func(t *testing.T) vault.Vault {
		return secretsvault.New(client, secretsvault.WithTags(map[string]string{"test": t.Name()}))
	})
}
