package handlers_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/workplace/connections/shared/awsdeps"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vendors"
)

// TestSettingsRouteRefreshesTheClientSecretCache: in a container whose
// vault keeps client secrets (the Lambdas' wiring), a client secret the
// settings route writes is the one the next vendor client uses, at once.
func TestSettingsRouteRefreshesTheClientSecretCache(t *testing.T) {
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SecretCacheTTL <= 0 {
		t.Fatal("the default configuration keeps no client secrets")
	}
	d := &handlers.Deps{
		Config:   cfg,
		Backends: handlers.Backends{Store: memstore.New(), Vault: awsdeps.ClientSecretCache(cfg, memvault.New()), Mailer: memmail.New()},
		Now:      func() time.Time { return time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC) },
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	settings := handlers.IntegrationSettings(d)
	ada := jwtCaller{"a1", "u1", "appManager"}
	v, _ := vendors.Lookup("servicenow")
	for _, secret := range []string{"first-secret", "second-secret"} {
		_, req := routeEvent(t, ada, "PUT", "/v1/account/integrations/servicenow/settings", "",
			`{"instanceUrl":"https://acme.service-now.com","clientId":"c1","clientSecret":"`+secret+`"}`)
		resp, err := settings(t.Context(), req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("settings: %d %s %v", resp.StatusCode, resp.Body, err)
		}
		set, err := store.SettingsOf(t.Context(), d.Store, "a1", "servicenow")
		if err != nil || set == nil {
			t.Fatalf("settings: %v %v", set, err)
		}
		for range 2 { // the second from the cache
			c, err := d.Clients().Client(t.Context(), v, set, "")
			if err != nil {
				t.Fatal(err)
			}
			if c.OAuth.ClientSecret != secret {
				t.Fatalf("the client uses %q after the settings route wrote %q", c.OAuth.ClientSecret, secret)
			}
		}
	}
}
