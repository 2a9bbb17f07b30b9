package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault/memvault"
)

// BenchmarkConnectReconnect is one full reconnect of a ServiceNow app
// connection per iteration: the authorization URL (state stored), the
// sandbox's approval over HTTP (the redirect read, not followed), and the
// callback (state consumed, code exchanged, identity looked up, a new token
// version written and the connection updated).
func BenchmarkConnectReconnect(b *testing.B) {
	const (
		acct = "bench-acct"
		inst = "https://acme.service-now.com"
	)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	sb := sandboxtest.StartSandbox(b, func() time.Time { return at })
	svc := sandboxtest.NewService(b, sb, memstore.New(), memvault.New(), nil)
	who := lifecycle.Caller{
		Person:     connection.Person{UserID: "u-ada", Email: "ada@example.org", Name: "Ada Admin"},
		Account:    acct,
		AppManager: true,
	}
	ctx := context.Background()

	instance, clientID, secret := inst, "bench-client", "bench-secret"
	if _, err := svc.SaveSettings(ctx, who, "servicenow", lifecycle.SettingsRequest{
		InstanceURL: &instance, ClientID: &clientID, ClientSecret: &secret,
	}); err != nil {
		b.Fatal(err)
	}
	sb.Connect(b, svc, who, "servicenow", "app", "", nil)

	b.ReportAllocs()
	for b.Loop() { // b.Loop times only the loop: the setup above is excluded
		if res := sb.Connect(b, svc, who, "servicenow", "app", "reconnect", nil); res.Action != connection.ActionReconnect || res.Status != connection.StatusConnected || res.UserChanged {
			b.Fatalf("reconnect answered %+v", res)
		}
	}
}
