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
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/logctx"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/safehttp"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
)

// Backends are the stateful services, behind the ports the use cases use:
// AWS in a Lambda (awsdeps), embedded or AWS in the local server.
type Backends struct {
	Store  store.Store
	Vault  vault.Vault
	Mailer mail.Mailer
}

// Deps is what every handler runs on.
type Deps struct {
	Config config.Config
	Backends
	HTTP *http.Client     // calls to vendors
	Now  func() time.Time // the clock (tests and local mode may move it)
	Log  *slog.Logger
}

// VendorClient is the HTTP client for vendor calls: https and public
// addresses only, except the hosts the deployment explicitly marked private
// (PRIVATE_VENDOR_HOSTS). Extra instance hosts and base URL overrides get
// no exemption from being configured.
func VendorClient(cfg config.Config) *http.Client {
	return safehttp.Client(10*time.Second, cfg.PrivateVendorHosts)
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
