package lifecycle_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox"
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
		acct     = "bench-acct"
		inst     = "https://acme.service-now.com"
		callback = "https://app.example.com/console/callback"
	)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }

	mux := http.NewServeMux()
	mux.Handle(sandbox.Prefix, sandbox.New(sandbox.Config{Clock: now}))
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	browser := &http.Client{
		Transport:     srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	svc := &lifecycle.Service{
		Store:              memstore.New(),
		Vault:              memvault.New(),
		HTTP:               srv.Client(),
		Now:                now,
		Log:                slog.New(slog.NewTextHandler(io.Discard, nil)),
		SecretPrefix:       "bench",
		RedirectURL:        callback,
		VendorBaseURLs:     map[string]string{"servicenow.instance": srv.URL + "/_sandbox/servicenow/{name}"},
		WarningWindow:      10 * 24 * time.Hour,
		SecretRecoveryDays: 7,
	}
	who := lifecycle.Caller{
		Person:     connection.Person{UserID: "u-ada", Email: "ada@example.org", Name: "Ada Admin"},
		Account:    acct,
		AppManager: true,
	}
	ctx := context.Background()

	// round authorizes as who and completes the callback.
	round := func(action string) lifecycle.CallbackResult {
		out, err := svc.StartAuthorization(ctx, who, lifecycle.AuthURLRequest{Vendor: "servicenow", Flow: "app", Action: action})
		if err != nil {
			b.Fatalf("start %q: %v", action, err)
		}
		resp, err := browser.Get(out.URL)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			b.Fatalf("sandbox authorize answered %d", resp.StatusCode)
		}
		back, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			b.Fatal(err)
		}
		q := back.Query()
		res, err := svc.CompleteAuthorization(ctx, who, lifecycle.CallbackRequest{
			Vendor: "servicenow", State: q.Get("state"), Code: q.Get("code"),
			Error: q.Get("error"), ErrorDescription: q.Get("error_description"),
		})
		if err != nil {
			b.Fatalf("complete %q: %v", action, err)
		}
		return res
	}

	instance, clientID, secret := inst, "bench-client", "bench-secret"
	if _, err := svc.SaveSettings(ctx, who, "servicenow", lifecycle.SettingsRequest{
		InstanceURL: &instance, ClientID: &clientID, ClientSecret: &secret,
	}); err != nil {
		b.Fatal(err)
	}
	round("")

	b.ReportAllocs()
	for b.Loop() { // b.Loop times only the loop: the setup above is excluded
		if res := round("reconnect"); res.Action != connection.ActionReconnect || res.Status != connection.StatusConnected || res.UserChanged {
			b.Fatalf("reconnect answered %+v", res)
		}
	}
}
