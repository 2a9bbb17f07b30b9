package handlers

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workplace/connections/shared/expiry"
	"github.com/workplace/connections/shared/health"
	"github.com/workplace/connections/shared/notices"
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

// ExpiryScan serves the scheduled expiry scan. "Now" is the scheduled
// event's time, so a run is reproducible with any clock.
func ExpiryScan(d *Deps) func(ctx context.Context, ev events.EventBridgeEvent) (expiry.Report, error) {
	sc := &expiry.Scanner{
		Store:          d.Store,
		Clients:        d.Clients(),
		Notices:        d.Notices(),
		Log:            d.Log,
		WarningWindow:  d.Config.WarningWindow,
		IdleCheck:      d.Config.IdleCheck,
		OutageGrace:    d.Config.OutageGrace,
		Budget:         d.Config.ScanBudget,
		Clock:          time.Now,
		AuditRetention: d.Config.AuditRetention,
	}
	return func(ctx context.Context, ev events.EventBridgeEvent) (expiry.Report, error) {
		now := ev.Time
		if now.IsZero() {
			now = d.Now()
			d.Log.WarnContext(ctx, "scheduled event without a time; using the clock", "action", "expiry-scan")
		}
		return sc.Run(ctx, now)
	}
}
