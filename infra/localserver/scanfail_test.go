package localserver_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/workplace/connections/infra/localserver"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/expiry"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault/memvault"
)

// unknownDue answers Due with one connection of a vendor the service does
// not know: the scan fails it.
type unknownDue struct{ store.Store }

func (unknownDue) Due(_ context.Context, shard int, _ time.Time, _ string, _ int) ([]connection.Connection, string, error) {
	if shard != 0 {
		return nil, "", nil
	}
	return []connection.Connection{{Key: connection.AppKey("a1", "no-such-vendor")}}, "", nil
}

// TestScanToolFailedRun: a run with a failed connection is the Lambda's
// error; the tool answers 500 scan_failed with the run's report.
func TestScanToolFailedRun(t *testing.T) {
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	d := &handlers.Deps{
		Config:   cfg,
		Backends: handlers.Backends{Store: unknownDue{memstore.New()}, Vault: memvault.New(), Mailer: memmail.New()},
		HTTP:     http.DefaultClient, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	rec := httptest.NewRecorder()
	localserver.ExpiryScanTool(d)(rec, httptest.NewRequest(http.MethodPost, "/_local/expiry-scan", nil))
	var body struct {
		Error  struct{ Code string }
		Report expiry.Report
	}
	if rec.Code != http.StatusInternalServerError || json.Unmarshal(rec.Body.Bytes(), &body) != nil ||
		body.Error.Code != "scan_failed" || body.Report.Failed != 1 || body.Report.Checked != 1 {
		t.Fatalf("scan tool on a failing run: %d %s", rec.Code, rec.Body)
	}
}
