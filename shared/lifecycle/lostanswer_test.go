package lifecycle_test

import (
	"context"
	"errors"
	"testing"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
)

// TestDisconnectAnswerLost: a disconnect whose delete was stored but whose
// answer was lost (a timeout after the commit, or the SDK's retry meeting
// its own first attempt) still revokes the grant and schedules the secret
// for deletion; nothing would later, the connection being gone.
func TestDisconnectAnswerLost(t *testing.T) {
	for name, answer := range map[string]error{
		"timeout after the commit":  errors.New("dynamodb: injected timeout after the commit"),
		"retry meets its own write": store.ErrConflict,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.connectApp("servicenow", nil)
			c := e.connectUser(carol, "servicenow", "carol")
			tok := e.tokens(c)
			e.store.setApply(func(ctx context.Context, ops []store.Op) error {
				if err := e.mem.Apply(ctx, ops...); err != nil {
					return err
				}
				return answer
			})
			err := e.svc.Disconnect(t.Context(), carol, lifecycle.DisconnectRequest{Vendor: "servicenow", Flow: "user"})
			e.store.setApply(nil)
			if err != nil {
				t.Fatalf("disconnect: %v", err)
			}
			e.noConn(connection.UserKey(account, "servicenow", carol.UserID))
			if _, err := e.vault.Vault.Get(t.Context(), c.SecretName, ""); !errors.Is(err, vault.ErrNotFound) {
				t.Fatalf("the secret is not scheduled for deletion: %v", err)
			}
			if err := e.refresh(c, tok.RefreshToken); !errors.Is(err, provider.ErrRefused) {
				t.Fatalf("the grant was not revoked: %v", err)
			}
			if got := e.counts("servicenow"); got.Total != 0 || got.Connected != 0 {
				t.Fatalf("counts %+v", got)
			}
		})
	}
}
