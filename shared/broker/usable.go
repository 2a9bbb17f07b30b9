// Package broker hands out usable access tokens: to the platform's own
// services (the token broker, POST /v1/internal/token) and to the live
// check (POST /v1/account/integrations/{vendor}/check), which shows the
// token to the vendor's identity endpoint. Both get a token the same way:
//
//   - the stored one while it stays valid long enough: one read of the
//     connection and one of its secret version, nothing else;
//   - otherwise one refreshed under the connection's lease, the one the
//     expiry scan takes. Whoever meets the lease held waits (bounded) and
//     reads again, and takes the token the holder stored; so however many
//     broker calls, checks and scans run at once, one refresh reaches the
//     vendor, and its rotated tokens are stored (provider.Factory.Refresh)
//     and the connection saved before any access token from it is handed
//     out.
//
// A grant found dead (the vendor refused the refresh, or its expiry passed)
// goes the one way every finder takes, health.Reaper.Expire: marked expired,
// counted, audited, and its disconnected notice sent at once. A vendor that
// is down or slow marks nothing.
package broker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/health"
	"github.com/workplace/connections/shared/lease"
	"github.com/workplace/connections/shared/logctx"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vendors"
)

// Service hands out usable access tokens.
type Service struct {
	Store store.Store
	Vault vault.Vault
	// Clients builds vendor clients and refreshes grants.
	Clients *provider.Factory
	// Reaper is the one path of a dead grant.
	Reaper *health.Reaper
	Now    func() time.Time
	Log    *slog.Logger

	// WarningWindow is the list's warning window (the check's status).
	WarningWindow time.Duration
	// AuditRetention is how long the audit entries written here are kept
	// (default connection.DefaultAuditRetention).
	AuditRetention time.Duration

	// LeaseFor is how long a refresh holds the connection's lease (default
	// DefaultLeaseFor): longer than any request, so a holder that crashed
	// keeps it only this long.
	LeaseFor time.Duration
	// LeaseWait bounds how long a request waits, in all, for a lease that
	// another refresher (a broker call, a check, the scan) holds (default
	// DefaultLeaseWait).
	LeaseWait time.Duration
	// Sleep waits d or until ctx ends (nil: a timer). Tests replace it so
	// that they never sleep.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Defaults of the lease.
const (
	DefaultLeaseFor  = time.Minute
	DefaultLeaseWait = 8 * time.Second
	// leaseReserve is what a wait always leaves of the request's deadline:
	// time to refresh at the vendor after the holder gave up.
	leaseReserve = 5 * time.Second
	// The first wait for a held lease, doubled up to the longest: a
	// refresh at a vendor usually takes a few hundred milliseconds.
	leasePoll    = 50 * time.Millisecond
	leaseMaxPoll = 500 * time.Millisecond
)

// finder is who asks for a token, and who is named when it finds the grant
// dead.
type finder struct {
	detectedBy health.Detector
	actor      connection.Actor
}

// usable is a connection as stored and the tokens of its current version.
type usable struct {
	conn      connection.Connection
	tokens    vault.Tokens
	refreshed bool // this request refreshed the grant
}

// notConnected: nothing at that level.
type notConnected struct{ level connection.Level }

func (e *notConnected) Error() string { return "no " + string(e.level) + "-level connection" }

// deadGrant: the connection is expired, or its grant was found dead just
// now (and marked, through the reaper).
type deadGrant struct {
	level  connection.Level
	reason string // a health.Reason* constant
	conn   connection.Connection
}

func (e *deadGrant) Error() string {
	return "the " + string(e.level) + "-level grant is dead (" + e.reason + ")"
}

// vendorDown: the vendor did not refresh (outage, timeout), or another
// refresher held the lease past the wait. Nothing was marked.
type vendorDown struct{ cause error }

func (e *vendorDown) Error() string { return "vendor unavailable: " + e.cause.Error() }
func (e *vendorDown) Unwrap() error { return e.cause }

// vendorUnavailable is 503 vendor_unavailable (the route adds Retry-After).
func vendorUnavailable(v vendors.Vendor) error {
	return problem.New(http.StatusServiceUnavailable, "vendor_unavailable",
		"%s did not answer in time; nothing was changed, try again shortly", v.Name)
}

func (s *Service) now() time.Time { return s.Now().UTC() }

func (s *Service) log(ctx context.Context) *slog.Logger { return logctx.From(ctx, s.Log) }

// good reports whether c's stored access token may be handed out at now to
// someone who needs it valid for need: it is not the version known to be
// refused (stale), and it stays valid that long. A vendor whose tokens live
// shorter than need cannot do better by refreshing: for it a token is good
// while at least half of its lifetime is left (then it is refreshed, and
// its real expiresAt tells the caller how long it lives).
func good(c connection.Connection, now time.Time, need time.Duration, stale string) bool {
	if c.SecretVersion == "" || c.SecretVersion == stale {
		return false
	}
	left := c.AccessTokenExpiresAt.Sub(now)
	if left <= 0 {
		return false
	}
	if life := c.AccessTokenExpiresAt.Sub(c.LastRefreshedAt); !c.LastRefreshedAt.IsZero() && life > 0 {
		need = min(need, life/2)
	}
	return left >= need
}

// usable returns the connection at k with an access token valid for need
// (not the version stale, "" for none), refreshing its grant if it must.
// Its errors are *notConnected, *deadGrant, *vendorDown, a *problem.Problem
// of the factory (not_configured), or any other failure.
func (s *Service) usable(ctx context.Context, k connection.Key, need time.Duration, stale string, f finder) (usable, error) {
	c, err := s.Store.GetConnection(ctx, k)
	if errors.Is(err, store.ErrNotFound) {
		return usable{}, &notConnected{k.Level}
	}
	if err != nil {
		return usable{}, err
	}
	if c.Expired {
		return usable{}, &deadGrant{level: k.Level, reason: health.ReasonExpired, conn: c}
	}
	if now := s.now(); !c.IsExpired(now) && good(c, now, need, stale) {
		toks, err := vault.GetTokens(ctx, s.Vault, c.SecretName, c.SecretVersion)
		if err == nil {
			return usable{conn: c, tokens: toks}, nil
		}
		if !errors.Is(err, vault.ErrNotFound) {
			return usable{}, fmt.Errorf("read tokens: %w", err)
		}
		// Removed meanwhile, most likely: read again under the lease.
	}
	return s.renew(ctx, k, need, stale, f)
}

// waiter is one request's budget of waiting for a held lease.
func (s *Service) waiter(ctx context.Context) *lease.Waiter {
	budget := s.LeaseWait
	if budget <= 0 {
		budget = DefaultLeaseWait
	}
	return lease.NewWaiter(ctx, lease.Options{Budget: budget, Reserve: leaseReserve, Poll: leasePoll, MaxPoll: leaseMaxPoll, Sleep: s.Sleep})
}

// hold takes the lease of the connection at k for owner, waiting (bounded)
// while someone else holds it. While it waits it reads the connection
// again: when the holder left it expired, or in a state that ready (if
// not nil) accepts at now, that is the answer, with its tokens (held
// false). Otherwise it returns the connection as stored under owner's
// lease (held true).
func (s *Service) hold(ctx context.Context, k connection.Key, owner string, ready func(connection.Connection, time.Time) bool) (c connection.Connection, toks vault.Tokens, held bool, err error) {
	lw := s.waiter(ctx)
	defer func() {
		if lw.Waited() > 0 {
			s.log(ctx).InfoContext(ctx, "waited for the lease of the connection", "waited", lw.Waited().String(), "flow", string(k.Level))
		}
	}()
	leaseFor := s.LeaseFor
	if leaseFor <= 0 {
		leaseFor = DefaultLeaseFor
	}
	for {
		now := s.now()
		c, err = s.Store.AcquireLease(ctx, k, owner, now, now.Add(leaseFor))
		switch {
		case err == nil:
			return c, vault.Tokens{}, true, nil
		case errors.Is(err, store.ErrNotFound):
			return c, toks, false, &notConnected{k.Level}
		case !errors.Is(err, store.ErrConflict):
			return c, toks, false, err
		}
		// Held by another refresher: wait for it, then take what it left.
		if !lw.Wait(ctx) {
			return c, toks, false, &vendorDown{errors.New("the connection's lease stayed held past the wait")}
		}
		c, err = s.Store.GetConnection(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			return c, toks, false, &notConnected{k.Level}
		}
		if err != nil {
			return c, toks, false, err
		}
		if c.Expired {
			return c, toks, false, &deadGrant{level: k.Level, reason: health.ReasonExpired, conn: c}
		}
		if ready != nil && ready(c, s.now()) {
			toks, err = vault.GetTokens(ctx, s.Vault, c.SecretName, c.SecretVersion)
			if err == nil {
				return c, toks, false, nil
			}
			if !errors.Is(err, vault.ErrNotFound) {
				return c, toks, false, fmt.Errorf("read tokens: %w", err)
			}
		}
	}
}

// renew refreshes the grant of the connection at k under its lease, unless
// someone else did meanwhile.
func (s *Service) renew(ctx context.Context, k connection.Key, need time.Duration, stale string, f finder) (usable, error) {
	owner := string(f.detectedBy) + "-" + rand.Text()
	c, toks, held, err := s.hold(ctx, k, owner, func(c connection.Connection, now time.Time) bool {
		return !c.IsExpired(now) && good(c, now, need, stale)
	})
	if err != nil || !held {
		return usable{conn: c, tokens: toks}, err
	}
	log := s.log(ctx).With("flow", string(k.Level))
	release := func() {
		if err := s.Store.ReleaseLease(ctx, k, owner); err != nil {
			log.WarnContext(ctx, "could not release the lease; it lapses", "error", err.Error())
		}
	}
	now := s.now()
	switch {
	case c.Expired:
		release()
		return usable{}, &deadGrant{level: k.Level, reason: health.ReasonExpired, conn: c}
	case c.IsExpired(now):
		log.InfoContext(ctx, "refresh token expired: connection expired")
		return usable{}, s.expire(ctx, c, health.Death{Reason: health.ReasonExpired, Message: "refresh token expired", DetectedBy: f.detectedBy, Actor: f.actor}, now, release)
	case good(c, now, need, stale):
		// Refreshed by someone else between our read and our lease.
		release()
		toks, err := vault.GetTokens(ctx, s.Vault, c.SecretName, c.SecretVersion)
		if err != nil {
			return usable{}, fmt.Errorf("read tokens: %w", err)
		}
		return usable{conn: c, tokens: toks}, nil
	}
	failingSince := c.VendorErrorSince
	stored := c.SecretVersion
	toks, err = s.Clients.Refresh(ctx, &c, now)
	switch {
	case errors.Is(err, provider.ErrRefused):
		log.InfoContext(ctx, "refresh refused: connection expired")
		return usable{}, s.expire(ctx, c, health.Death{Reason: health.ReasonRefused, Message: "refresh refused by the vendor", DetectedBy: f.detectedBy, Actor: f.actor}, now, release)
	case err != nil:
		release()
		var ve *provider.VendorError
		if errors.As(err, &ve) {
			// An outage or a timeout marks nothing: the scan's grace
			// period is for those.
			log.WarnContext(ctx, "refresh failed at the vendor; nothing marked", "error", err.Error())
			return usable{}, &vendorDown{err}
		}
		return usable{}, err
	}
	c.LeaseOwner, c.LeaseUntil = "", time.Time{}
	c.UpdatedAt = now
	// NextCheckAt stays: a refresh never brings the next check earlier, and
	// the scan computes the next one when it looks.
	ops := []store.Op{store.UpdateConnection{Conn: c}}
	if !failingSince.IsZero() {
		// Flagged by the scan for failing refreshes, and working again.
		ops = append(ops, store.AppendAudit{Entry: connection.NewAudit(c, connection.AuditRecovered, f.actor, now, s.AuditRetention,
			map[string]string{"failingSince": failingSince.UTC().Format(time.RFC3339)})})
	}
	if err := s.Store.Apply(ctx, ops...); err != nil && !s.saved(ctx, c) {
		release()
		log.WarnContext(ctx, "rotated tokens stored but the connection not saved; the next refresh adopts them",
			"secret", c.SecretName, "version", c.SecretVersion, "previous", stored, "error", err.Error())
		return usable{}, fmt.Errorf("save connection: %w", err)
	}
	c.Version++
	log.InfoContext(ctx, "grant refreshed", "accessTokenExpiresAt", c.AccessTokenExpiresAt)
	return usable{conn: c, tokens: toks, refreshed: true}, nil
}

// saved reports whether a save whose answer was an error happened all the
// same (its answer lost): the stored connection points at the secret
// version only this refresh wrote, with its lease released.
func (s *Service) saved(ctx context.Context, c connection.Connection) bool {
	cur, err := s.Store.GetConnection(ctx, c.Key)
	return err == nil && cur.SecretVersion == c.SecretVersion && cur.LeaseOwner == ""
}

// expire hands a dead grant, held under its lease, to the reaper, and
// answers the deadGrant error. A reaper that failed is logged and the
// lease released: the grant is dead all the same, and the next finder
// (the scan at the latest) marks it.
func (s *Service) expire(ctx context.Context, c connection.Connection, d health.Death, now time.Time, release func()) error {
	log := s.log(ctx).With("flow", string(c.Level))
	out, err := s.Reaper.Expire(ctx, c, d, now)
	if err != nil {
		log.ErrorContext(ctx, "dead grant not marked; the next finder marks it", "reason", d.Reason, "error", err.Error())
		release()
	} else if out.NoticeErr != nil {
		log.ErrorContext(ctx, "disconnected notice not delivered; the scan retries it", "error", out.NoticeErr.Error())
	}
	if out.Marked {
		log.InfoContext(ctx, "connection marked expired", "reason", d.Reason, "detectedBy", string(d.DetectedBy))
	}
	return &deadGrant{level: c.Level, reason: d.Reason, conn: out.Conn}
}

// kill marks the connection at k dead for d, under its lease, unless it
// is no longer the grant that was found dead (generation): a repair
// meanwhile made a new one.
func (s *Service) kill(ctx context.Context, k connection.Key, generation int, d health.Death) error {
	owner := string(d.DetectedBy) + "-" + rand.Text()
	c, _, held, err := s.hold(ctx, k, owner, nil)
	if err != nil || !held {
		return err
	}
	release := func() {
		if err := s.Store.ReleaseLease(ctx, k, owner); err != nil {
			s.log(ctx).WarnContext(ctx, "could not release the lease; it lapses", "error", err.Error())
		}
	}
	if c.Generation != generation {
		release()
		return nil
	}
	return s.expire(ctx, c, d, s.now(), release)
}
