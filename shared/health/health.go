// Package health is what happens when a connection's grant is found dead,
// whoever finds it: the expiry scan (a refused keep-alive, an expiry that
// passed, an outage past its grace), the token broker (a refused refresh)
// or the live check (a refused refresh, an identity that changed). They
// all go through Reaper.Expire, so a dead grant is marked, counted,
// audited and told about in one way.
package health

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/logctx"
	"github.com/workplace/connections/shared/metrics"
	"github.com/workplace/connections/shared/notices"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vendors"
)

// Detector is who found a grant dead: the audit entry's detectedBy.
type Detector string

// Detectors.
const (
	DetectedByScan   Detector = "scan"
	DetectedByBroker Detector = "broker"
	DetectedByCheck  Detector = "check"
)

// Reasons a grant is dead: the audit entry's reason (and the Connection
// Disconnected event's).
const (
	ReasonRefused         = "refresh_refused"  // the vendor refused a refresh: revoked, expired at the vendor, or never refreshable
	ReasonExpired         = "expired"          // its refresh token's expiry passed
	ReasonOutage          = "vendor_outage"    // refreshes kept failing past the outage grace
	ReasonIdentityChanged = "identity_changed" // the vendor says another user holds the token now
)

// Death is what was found about a grant.
type Death struct {
	Reason     string // one of the Reason constants
	Message    string // the connection's ExpiredReason, log-safe (default: Reason)
	DetectedBy Detector
	Actor      connection.Actor
}

// Outcome is what Expire did.
type Outcome struct {
	// Conn is the connection as stored at the end: expired, its lease
	// released, due again only while its notice is owed.
	Conn connection.Connection
	// Marked: this call marked it expired (false: it already was; then
	// nothing was counted or audited again).
	Marked bool
	// NoticeSent: the disconnected notice is out, by this call or before.
	NoticeSent bool
	// NoticeErr is why the notice is not out yet (the caller logs it);
	// the connection stays due and the next scan sends it.
	NoticeErr error
}

// Reaper marks dead grants. Its zero Notices sends nothing (tests).
type Reaper struct {
	Store store.Store
	// Notices is the notice sender's configuration: each Expire sends
	// through a sender of its own (ForActor), unless the Reaper was bound
	// to one with WithSender.
	Notices *notices.Sender
	// AuditRetention is how long the audit entries are kept (default
	// connection.DefaultAuditRetention).
	AuditRetention time.Duration

	run *notices.Sender
}

// WithSender is the reaper sending through snd, a run's sender (the scan's:
// its pacing and quota span the whole run).
func (r *Reaper) WithSender(snd *notices.Sender) *Reaper {
	cp := *r
	cp.run = snd
	return &cp
}

// Expire is the one path of a dead grant. c is the connection as read
// under its lease (store.AcquireLease), which the caller holds; now is the
// time of the finding (the route's clock, the scan's event time).
//
// In order:
//  1. Unless c is marked expired already, one transaction marks it
//     (Expired, ExpiredAt, ExpiredReason), moves the counters of a
//     user-level connection, appends the "disconnected" audit entry (reason,
//     detectedBy) and deletes the expiring notices of that token
//     generation; the lease is kept and the connection stays due, so that
//     a crash from here on leaves the notice to the next scan.
//  2. The disconnected notice (in-app and email) is made sure of through
//     the outbox: exactly once per connection and generation, however many
//     finders race (its noticeSent entry goes with it).
//  3. A second write releases the lease and takes the connection out of the
//     expiry index, or leaves it due when the notice is owed.
//
// Nothing is sent unless the mark is stored. An error means the connection
// is as step 1 left it (or untouched if step 1 failed); the caller releases
// its lease as after any failure.
func (r *Reaper) Expire(ctx context.Context, c connection.Connection, d Death, now time.Time) (Outcome, error) {
	out := Outcome{Conn: c}
	if c.LeaseOwner == "" || c.LeaseUntil.IsZero() {
		return out, errors.New("expire: the connection is not held under a lease")
	}
	v, ok := vendors.Lookup(c.Vendor)
	if !ok {
		return out, fmt.Errorf("expire: connection of an unknown vendor %q", c.Vendor)
	}
	now = now.UTC()
	if !c.Expired {
		msg := d.Message
		if msg == "" {
			msg = d.Reason
		}
		c.Expired, c.ExpiredAt, c.ExpiredReason = true, now, msg
		c.NextCheckAt, c.UpdatedAt = now, now
		entry := connection.NewAudit(c, connection.AuditDisconnected, d.Actor, now, r.AuditRetention,
			map[string]string{"reason": d.Reason, "detectedBy": string(d.DetectedBy)})
		ops := []store.Op{store.UpdateConnection{Conn: c}, store.AppendAudit{Entry: entry}}
		if c.Level == connection.LevelUser {
			ops = append(ops, store.AdjustCounts{Account: c.Account, Vendor: c.Vendor, Connected: -1})
		}
		// The disconnection supersedes the warning of the same generation.
		ops = append(ops, store.DeleteNotices(c, connection.NoticeExpiring)...)
		if err := r.Store.Apply(ctx, ops...); err != nil {
			return out, fmt.Errorf("mark expired: %w", err)
		}
		c.Version++
		out.Conn, out.Marked = c, true
		metrics.Log(ctx, logctx.From(ctx, nil), slog.LevelInfo, "grant found dead", map[string]string{metrics.DimVendor: c.Vendor},
			[]metrics.Value{metrics.V(metrics.DeadGrants, 1)},
			slog.String("flow", string(c.Level)), slog.String("reason", d.Reason), slog.String("detectedBy", string(d.DetectedBy)))
	}
	out.NoticeSent = true
	if snd := r.sender(d); snd != nil {
		out.NoticeSent, out.NoticeErr = snd.Ensure(ctx, v, c, connection.NoticeDisconnected, now)
	}
	if out.NoticeSent {
		c.NextCheckAt = time.Time{}
	} else {
		c.NextCheckAt = now // owed: the next scan tries again
	}
	c.LeaseOwner, c.LeaseUntil = "", time.Time{}
	c.UpdatedAt = now
	ops := []store.Op{store.UpdateConnection{Conn: c}}
	if !out.Marked {
		ops = append(ops, store.DeleteNotices(c, connection.NoticeExpiring)...)
	}
	if err := r.Store.Apply(ctx, ops...); err != nil {
		return out, fmt.Errorf("save connection: %w", err)
	}
	c.Version++
	out.Conn = c
	return out, nil
}

// sender is the sender of one Expire: the bound run's, else one of its own
// naming the finder.
func (r *Reaper) sender(d Death) *notices.Sender {
	if r.run != nil {
		return r.run
	}
	if r.Notices == nil {
		return nil
	}
	return r.Notices.ForActor(string(d.DetectedBy)+"-"+rand.Text(), d.Actor)
}
