package handlers_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workplace/connections/shared/apigw"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault/memvault"
)

// BenchmarkListIntegrations is the list route on the embedded store with
// an account of n connected users: the cost per call must not grow with n.
func BenchmarkListIntegrations(b *testing.B) {
	for _, users := range []int{10, 10000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			cfg, err := config.FromEnv(func(string) string { return "" })
			if err != nil {
				b.Fatal(err)
			}
			now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
			d := &handlers.Deps{Config: cfg, Backends: handlers.Backends{Store: memstore.New(), Vault: memvault.New(), Mailer: memmail.New()}, HTTP: http.DefaultClient,
				Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
			ctx := context.Background()
			app := connection.Connection{Key: connection.AppKey("a1", "servicenow"), ID: "app", Instance: "https://acme.service-now.com",
				RefreshTokenExpiresAt: now.Add(90 * 24 * time.Hour)}
			if err := d.Store.Apply(ctx, store.CreateConnection{Conn: app}); err != nil {
				b.Fatal(err)
			}
			for i := range users {
				u := connection.Connection{Key: connection.UserKey("a1", "servicenow", fmt.Sprintf("u%d", i)), ID: fmt.Sprint(i),
					RefreshTokenExpiresAt: now.Add(90 * 24 * time.Hour)}
				if err := d.Store.Apply(ctx, store.CreateConnection{Conn: u}, store.AdjustCounts{Account: "a1", Vendor: "servicenow", Total: 1, Connected: 1}); err != nil {
					b.Fatal(err)
				}
			}
			h := handlers.ListIntegrations(d)
			req := apigw.Request{
				RouteKey:              "GET /v1/account/integrations",
				QueryStringParameters: map[string]string{"includeUserLevelConnectionData": "true"},
			}
			req.RequestContext.Authorizer = &eventsAuthorizer
			b.ReportAllocs()
			for b.Loop() {
				resp, err := h(ctx, req)
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d, err %v", resp.StatusCode, err)
				}
			}
		})
	}
}

var eventsAuthorizer = events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
	JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
		Claims: map[string]string{"sub": "u1", "account_id": "a1", "role": "appManager", "email": "ada@acme.example"},
	},
}
