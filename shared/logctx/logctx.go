// Package logctx carries the request's logger (with its account, user,
// route and vendor) through a context, so that every line a use case logs
// says whose request it belongs to.
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

// With returns a context carrying l.
func With(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, key{}, l)
}

// From is the context's logger, else fallback, else slog.Default().
func From(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(key{}).(*slog.Logger); ok && l != nil {
		return l
	}
	if fallback != nil {
		return fallback
	}
	return slog.Default()
}
