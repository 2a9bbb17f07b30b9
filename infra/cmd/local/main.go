// Command local serves the whole API on 127.0.0.1:${PORT:-3000} with the
// sandbox vendors and embedded backends (BACKEND=aws for AWS APIs). See the
// README for what it offers.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/workplace/connections/infra/localbackend"
	"github.com/workplace/connections/infra/localserver"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, deps, err := localserver.Local(ctx, localserver.Options{Getenv: os.Getenv, BaseURL: "http://" + addr})
	if err != nil {
		slog.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	hs := &http.Server{Addr: addr, Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(shut)
	}()
	deps.Log.Info("local server listening", "url", "http://"+addr, "console", "http://"+addr+"/console", "backend", localbackend.Kind(os.Getenv))
	if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		deps.Log.Error("server stopped", "error", err.Error())
		os.Exit(1)
	}
}
