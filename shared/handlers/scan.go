package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workplace/connections/shared/expiry"
	"github.com/workplace/connections/shared/health"
	"github.com/workplace/connections/shared/logctx"
	"github.com/workplace/connections/shared/metrics"
	"github.com/workplace/connections/shared/notices"
	"github.com/workplace/connections/shared/tokenhome"
)

// Notices is the notice sender's configuration on these dependencies;
// each run or finding takes its own sender from it (ForRun, ForActor).
func (d *Deps) Notices() *notices.Sender {
	return &notices.Sender{
		Store:  d.Store,
		Mailer: d.Mailer,
		Links: notices.Links{
			FrontendURL:       d.Config.FrontendURL,
			UserReconnectPath: d.Config.UserReconnectPath,
			AppReconnectPath:  d.Config.AppReconnectPath,
		},
		Clock:          time.Now,
		Wait:           time.Sleep,
		Log:            d.Log,
		AuditRetention: d.Config.AuditRetention,
	}
}

// Reaper is the one path of a dead grant on these dependencies: whoever
// finds one (the scan, the token broker, the live check) marks it and
// sends its notice through it.
func (d *Deps) Reaper() *health.Reaper {
	return &health.Reaper{Store: d.Store, Notices: d.Notices(), AuditRetention: d.Config.AuditRetention}
}

// ErrScanFailed is the scan's error when its run failed: some connections
// could not be checked (Report.Failed > 0) or the due index could not be
// read. Lambda then counts the invocation as an error (an alarm on the
// function's Errors sees a broken run). A run that stopped at its budget or
// deadline (StoppedEarly: the rest stays due for the next run) or found
// connections held by another run (Busy) did not fail.
var ErrScanFailed = errors.New("expiry scan failed")

// ScanFailure is the error of a failed run, with its report.
type ScanFailure struct {
	Report expiry.Report
	Err    error // the run's own error (the due index read), nil if it only had failed connections
}

func (e *ScanFailure) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%v: %v", ErrScanFailed, e.Err)
	}
	return fmt.Sprintf("%v: %d connections failed", ErrScanFailed, e.Report.Failed)
}

func (e *ScanFailure) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrScanFailed, e.Err}
	}
	return []error{ErrScanFailed}
}

// ExpiryScan serves the scheduled expiry scan. "Now" is the scheduled
// event's time, so a run is reproducible with any clock. It logs the
// run's report ("scan report", with the invocation's requestId) and
// answers it; a failed run answers a *ScanFailure (see ErrScanFailed).
func ExpiryScan(d *Deps) func(ctx context.Context, ev events.EventBridgeEvent) (expiry.Report, error) {
	return func(ctx context.Context, ev events.EventBridgeEvent) (expiry.Report, error) {
		log := d.Log.With("requestId", RequestID(ctx, ev.ID), "action", "expiry-scan")
		ctx = logctx.With(metrics.WithNamespace(ctx, d.Config.MetricsNamespace), log)
		snd := d.Notices()
		snd.Log = log
		sc := &expiry.Scanner{
			Store:          d.Store,
			Clients:        d.Clients(),
			Notices:        snd,
			Log:            log,
			WarningWindow:  d.Config.WarningWindow,
			IdleCheck:      d.Config.IdleCheck,
			OutageGrace:    d.Config.OutageGrace,
			Budget:         d.Config.ScanBudget,
			Concurrency:    d.Config.ScanConcurrency,
			Clock:          time.Now,
			AuditRetention: d.Config.AuditRetention,
			Tokens:         tokenhome.Mover{Store: d.Store, Vault: d.Vault},
			Sweep: tokenhome.Sweeper{Mover: tokenhome.Mover{Store: d.Store, Vault: d.Vault},
				Pages: d.Config.ScanSweepPages, Concurrency: d.Config.ScanConcurrency},
		}
		now := ev.Time
		if now.IsZero() {
			now = d.Now()
			log.WarnContext(ctx, "scheduled event without a time; using the clock")
		}
		rep, err := sc.Run(ctx, now)
		failed := err != nil || rep.Failed > 0
		attrs := []slog.Attr{slog.Any("report", rep), slog.Bool("runFailed", failed)}
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		lvl := slog.LevelInfo
		if failed {
			lvl = slog.LevelError
		}
		metrics.Log(ctx, log, lvl, "scan report", nil, scanMetrics(rep, failed), attrs...)
		if failed {
			return rep, &ScanFailure{Report: rep, Err: err}
		}
		return rep, nil
	}
}

// scanMetrics are a run's report as CloudWatch embedded metrics.
func scanMetrics(rep expiry.Report, failed bool) []metrics.Value {
	return []metrics.Value{
		metrics.V(metrics.ScanChecked, float64(rep.Checked)),
		metrics.V(metrics.ScanRefreshed, float64(rep.Refreshed)),
		metrics.V(metrics.ScanExpired, float64(rep.Expired)),
		metrics.V(metrics.ScanFailed, float64(rep.Failed)),
		metrics.V(metrics.ScanNotices, float64(rep.Notices)),
		metrics.V(metrics.ScanBusy, float64(rep.Busy)),
		metrics.V(metrics.ScanComplete, metrics.Bool(rep.Complete)),
		metrics.V(metrics.ScanRunFailed, metrics.Bool(failed)),
	}
}
