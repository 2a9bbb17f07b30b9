package memvault_test

import (
	"testing"

	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vault/vaulttest"
)

func TestContract(t *testing.T) {
	vaulttest.Run(t, func(t *testing.T) vault.Vault { return memvault.New() })
}

// One vault shared by all subtests: the contract's names must not collide.
func TestContractShared(t *testing.T) {
	v := memvault.New()
	vaulttest.Run(t, func(t *testing.T) vault.Vault { return v })
}
