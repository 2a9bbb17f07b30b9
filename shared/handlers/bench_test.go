package handlers_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
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
	"github.com/workplace/connections/shared/vault"
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

// BenchmarkTokenBroker is POST /v1/internal/token through its handler, as
// the Lambda runs it, on the embedded backends, for a user-level token
// that stays valid: body decoding, the IAM caller, one connection read,
// one secret read, the answer and the request's log line.
func BenchmarkTokenBroker(b *testing.B) {
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	d := &handlers.Deps{Config: cfg, Backends: handlers.Backends{Store: memstore.New(), Vault: memvault.New(), Mailer: memmail.New()}, HTTP: http.DefaultClient,
		Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	ctx := context.Background()
	k := connection.UserKey("a1", "confluence", "u2")
	name := vault.ConnectionSecretName(cfg.SecretPrefix, k.Account, k.Vendor, string(k.Level), k.UserID)
	version, err := vault.PutTokens(ctx, d.Vault, name, vault.Tokens{AccessToken: "access-" + strings.Repeat("x", 900), RefreshToken: "refresh-" + strings.Repeat("y", 400)})
	if err != nil {
		b.Fatal(err)
	}
	conn := connection.Connection{Key: k, ID: "c1", Instance: "https://acme.atlassian.net", SiteID: "1324a887-45db-1bf4-1e99-ef0ff456d421",
		SecretName: name, SecretVersion: version, LastRefreshedAt: now, AccessTokenExpiresAt: now.Add(time.Hour),
		RefreshTokenExpiresAt: now.Add(90 * 24 * time.Hour)}
	if err := d.Store.Apply(ctx, store.CreateConnection{Conn: conn}); err != nil {
		b.Fatal(err)
	}
	h := handlers.TokenBroker(d)
	req := apigw.Request{RouteKey: "POST /v1/internal/token", Body: `{"account":"a1","vendor":"confluence","user":"u2","minValiditySeconds":300}`}
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: "arn:aws:sts::123456789012:assumed-role/search-connector/i-0abc"},
	}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := h(ctx, req)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d, err %v: %s", resp.StatusCode, err, resp.Body)
		}
	}
}

var eventsAuthorizer = events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
	JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
		Claims: map[string]string{"sub": "u1", "account_id": "a1", "role": "appManager", "email": "ada@acme.example"},
	},
}
