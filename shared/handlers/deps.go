// Package handlers turns API Gateway events into the use cases: one
// constructor per route, each returning the apigw.Handler a Lambda starts.
package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/workplace/connections/shared/apigw"
	"github.com/workplace/connections/shared/backend"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/logctx"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/safehttp"
)

// Deps is what every handler runs on.
type Deps struct {
	Config config.Config
	backend.Backends
	HTTP *http.Client     // calls to vendors
	Now  func() time.Time // the clock (tests and local mode may move it)
	Log  *slog.Logger
}

// Load builds Deps for a Lambda from its environment (AWS backends).
// It exits the process on bad configuration: a Lambda that cannot start
// should fail its init, loudly.
func Load() *Deps {
	cfg, err := config.FromEnv(os.Getenv)
	log := NewLogger(cfg.LogLevel)
	slog.SetDefault(log)
	if err != nil {
		log.Error("bad configuration", "error", err.Error())
		os.Exit(1)
	}
	b, err := backend.AWS(context.Background(), cfg)
	if err != nil {
		log.Error("cannot reach AWS", "error", err.Error())
		os.Exit(1)
	}
	return &Deps{Config: cfg, Backends: b, HTTP: VendorClient(cfg), Now: time.Now, Log: log}
}

// VendorClient is the HTTP client for vendor calls: public addresses only,
// except the hosts the deployment configured (base URL overrides, extra
// instance hosts).
func VendorClient(cfg config.Config) *http.Client {
	trusted := append([]string{}, cfg.AllowedInstanceHosts...)
	for _, u := range cfg.VendorBaseURLs {
		trusted = append(trusted, safehttp.HostsOf(u)...)
	}
	return safehttp.Client(10*time.Second, trusted)
}

// NewLogger is the service's JSON logger.
func NewLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// route wraps a use case: it reads the caller, logs one line per request
// (account, route, status; never bodies, which may carry codes or secrets)
// and turns errors into documented answers.
func (d *Deps) route(name string, fn func(ctx context.Context, req apigw.Request, who apigw.Identity) (apigw.Response, error)) apigw.Handler {
	return func(ctx context.Context, req apigw.Request) (apigw.Response, error) {
		log := d.Log.With("route", name)
		who, err := apigw.Caller(req, d.Config.Claims, d.Config.AppManagerRole)
		if err != nil {
			log.InfoContext(ctx, "request refused", "status", http.StatusUnauthorized)
			return apigw.Fail(ctx, err), nil
		}
		log = log.With("account", who.Account, "user", who.UserID)
		if v := req.PathParameters["vendor"]; v != "" {
			log = log.With("vendor", v)
		}
		ctx = logctx.With(ctx, log)
		resp, err := fn(ctx, req, who)
		if err != nil {
			var p *problem.Problem
			if !errors.As(err, &p) {
				log.ErrorContext(ctx, "internal error", "error", err.Error())
			}
			resp = apigw.Fail(ctx, err)
		}
		lvl := slog.LevelInfo
		if resp.StatusCode >= 500 {
			lvl = slog.LevelError
		}
		log.Log(ctx, lvl, "request", "status", resp.StatusCode)
		return resp, nil
	}
}
