package vault

import (
	"context"
	"fmt"

	"golang.org/x/time/rate"
)

// PaceWrites returns v with its writes (Put) kept to perSecond on average,
// burst at once; reads and deletes go straight through. A write waits its
// turn, or fails with the context's error (writing nothing) when the
// context ends first. It keeps a process's writes under a backend's write
// quota (Secrets Manager: PutSecretValue, 50 per second per Region, not
// adjustable) when many are made at once, as a scan run's parallel
// refreshes do: a refresh whose rotated tokens are throttled past the
// SDK's retries would have to be redone at the vendor.
func PaceWrites(v Vault, perSecond float64, burst int) Vault {
	return &pacedVault{Vault: v, lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

type pacedVault struct {
	Vault
	lim *rate.Limiter
}

func (p *pacedVault) Put(ctx context.Context, name string, value []byte) (string, error) {
	if err := p.lim.Wait(ctx); err != nil {
		return "", fmt.Errorf("vault: put %s: waiting for a write slot: %w", name, err)
	}
	return p.Vault.Put(ctx, name, value)
}
