package localserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/workplace/connections/infra/console"
	"github.com/workplace/connections/infra/localbackend"
	"github.com/workplace/connections/infra/sandbox"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/vault"
)

// Options build a local server.
type Options struct {
	Getenv  func(string) string
	BaseURL string // where the server is reachable, e.g. http://127.0.0.1:3000
	// HTTP is the client the service uses to call vendors (tests hand in
	// one that reaches an httptest server); default a plain client.
	HTTP *http.Client
	// Now is the real clock under the server's one clock (default
	// time.Now): POST /_local/clock sets an offset from it. The returned
	// Deps.Now is that clock, moved or not.
	Now func() time.Time
	// Log is the service's logger; default the JSON logger on stderr at
	// LOG_LEVEL. The handlers keep the logger they were built with (the
	// lifecycle service captures it), so it must be given here: replacing
	// Deps.Log afterwards misses their lines.
	Log *slog.Logger
}

// Local builds the whole local server: the API on embedded backends (or AWS
// with BACKEND=aws), vendors pointed at the sandbox, the console and tools.
func Local(ctx context.Context, o Options) (*Server, *handlers.Deps, error) {
	base := strings.TrimRight(o.BaseURL, "/")
	env := func(k string) string {
		if v := o.Getenv(k); v != "" {
			return v
		}
		switch k {
		case "OAUTH_REDIRECT_URL":
			return base + "/console/callback"
		case "FRONTEND_URL":
			return base + "/console"
		case "VENDOR_BASE_URLS":
			// Every vendor the sandbox speaks, at /_sandbox/{vendor}.
			return sandbox.BaseURLsEnv(base)
		case "PRIVATE_VENDOR_HOSTS":
			// The sandbox is this server: the vendor client may call it
			// over plain http at its loopback address.
			if u, err := url.Parse(base); err == nil {
				return u.Host
			}
		}
		return ""
	}
	cfg, err := config.FromEnv(env)
	if err != nil {
		return nil, nil, err
	}
	b, err := localbackend.FromEnv(ctx, o.Getenv, cfg)
	if err != nil {
		return nil, nil, err
	}
	hc := o.HTTP
	if hc == nil {
		hc = handlers.VendorClient(cfg)
	}
	// The one clock of every route and of the sandbox; POST /_local/clock
	// moves it.
	clock := NewClock(o.Now)
	log := o.Log
	if log == nil {
		log = handlers.NewLogger(cfg.LogLevel)
	}
	d := &handlers.Deps{Config: cfg, Backends: b.Backends, HTTP: hc, Now: clock.Now, Log: log}
	if err := seedApps(ctx, d.Vault, cfg.DeploymentSecrets); err != nil {
		return nil, nil, err
	}
	sbCfg, err := sandbox.ConfigFromEnv(o.Getenv)
	if err != nil {
		return nil, nil, err
	}
	sbCfg.Clock = clock.Now
	// The state-change events: the store's committed changes to the
	// publisher, onto the in-memory bus GET /_local/events lists.
	local := http.NewServeMux()
	local.HandleFunc("GET /_local/events", NewEvents(d, b).Tool)
	local.Handle("/_local/", Tools(d, b.Outbox, clock))
	// The console's pages, with the reconnect pages the notice emails
	// link to (FRONTEND_URL is the console in local mode).
	con, err := console.New(console.Options{
		AppReconnectPath: cfg.AppReconnectPath, UserReconnectPath: cfg.UserReconnectPath, ManagerRole: cfg.AppManagerRole,
	})
	if err != nil {
		return nil, nil, err
	}
	s := New(d, handlers.Routes, Extra{
		Sandbox:      sandbox.New(sbCfg),
		Local:        local,
		Console:      con,
		ConsolePages: con.Pages(),
		OpenAPI:      OpenAPIHandler(),
	})
	return s, d, nil
}

// seedApps stores the sandbox's client credentials of every deployment
// OAuth app the registry's vendors use (config.DeploymentSecrets: the
// Atlassian app's, and one per other app), each only where none exists:
// on BACKEND=aws a real one is kept.
func seedApps(ctx context.Context, v vault.Vault, secrets map[string]string) error {
	apps := make([]string, 0, len(secrets))
	for app := range secrets {
		apps = append(apps, app)
	}
	slices.Sort(apps)
	for _, app := range apps {
		name := secrets[app]
		_, err := v.Get(ctx, name, "")
		if err == nil {
			continue
		}
		if !errors.Is(err, vault.ErrNotFound) {
			return fmt.Errorf("read the %s app credentials: %w", app, err)
		}
		creds, _ := json.Marshal(SandboxApp(app))
		if _, err := v.Put(ctx, name, creds); err != nil {
			return fmt.Errorf("seed the sandbox %s app credentials: %w", app, err)
		}
	}
	return nil
}

// SandboxApp are the client credentials the local server seeds for a
// deployment app (by app id); the sandbox takes whatever a client id
// first presents.
func SandboxApp(app string) provider.Credentials {
	if app == "confluence" {
		// The Atlassian app, as it has always been named here.
		app = "atlassian"
	}
	return provider.Credentials{ClientID: "sandbox-" + app + "-app", ClientSecret: "sandbox-" + app + "-secret"}
}
