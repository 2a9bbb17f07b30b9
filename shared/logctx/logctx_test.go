package logctx_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/workplace/connections/shared/logctx"
)

type otherKey struct{}

func TestFrom(t *testing.T) {
	var reqBuf, fbBuf bytes.Buffer
	req := slog.New(slog.NewTextHandler(&reqBuf, nil)).With("account", "acct-1")
	fallback := slog.New(slog.NewTextHandler(&fbBuf, nil))
	cases := []struct {
		name     string
		ctx      context.Context
		fallback *slog.Logger
		want     *slog.Logger
	}{
		{"the context's logger", logctx.With(context.Background(), req), fallback, req},
		{"the context's logger without fallback", logctx.With(context.Background(), req), nil, req},
		{"survives derived contexts", context.WithValue(logctx.With(context.Background(), req), otherKey{}, 1), fallback, req},
		{"innermost wins", logctx.With(logctx.With(context.Background(), fallback), req), nil, req},
		{"fallback when none", context.Background(), fallback, fallback},
		{"fallback when nil was stored", logctx.With(context.Background(), nil), fallback, fallback},
		{"default when nothing", context.Background(), nil, slog.Default()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := logctx.From(tc.ctx, tc.fallback); got != tc.want {
				t.Fatalf("From returned another logger")
			}
		})
	}
	logctx.From(logctx.With(context.Background(), req), fallback).Info("hello")
	if !strings.Contains(reqBuf.String(), "account=acct-1") || fbBuf.Len() != 0 {
		t.Fatalf("request log %q, fallback log %q", reqBuf.String(), fbBuf.String())
	}
}
