// Package expiry is the scheduled scan that keeps connections alive and
// nobody surprised: it refreshes rotating grants before they lapse from
// disuse, marks dead ones expired, and sends the expiring and disconnected
// notices. It reads only the connections that are due (a sparse, sharded
// index keyed by next-check time), so its cost grows with the work, not
// with the number of connections.
package expiry

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/health"
	"github.com/workplace/connections/shared/lifetime"
	"github.com/workplace/connections/shared/logctx"
	"github.com/workplace/connections/shared/notices"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/tokenhome"
	"github.com/workplace/connections/shared/vendors"
)

// Scanner runs the scan.
type Scanner struct {
	Store store.Store
	// Clients builds vendor clients and renews grants.
	Clients *provider.Factory
	Notices *notices.Sender
	Log     *slog.Logger

	WarningWindow time.Duration
	// IdleCheck (IDLE_CHECK_DAYS) is how long a grant that never expires
	// goes unrefreshed before the scan refreshes it, so that a revoked one
	// is found like any refused refresh (zero: lifetime.DefaultIdleCheck).
	IdleCheck time.Duration
	// OutageGrace: how long refreshes may keep failing for reasons other
	// than a refusal (vendor down, timeouts, bad client secret) before the
	// connection is flagged expired and its people told.
	OutageGrace time.Duration
	// Budget bounds a run in real time; Clock reads real time (nil:
	// time.Now). A run that reaches its budget takes no more connections:
	// the checks under way finish, the rest stay due and the next run
	// takes them.
	Budget time.Duration
	Clock  func() time.Time
	// Concurrency (SCAN_CONCURRENCY) is how many due connections a run
	// checks at once, while it reads the due index (zero:
	// DefaultConcurrency). A check is a handful of round trips that mostly
	// wait (the table, the vault, the vendor), so checks in parallel are
	// what make a run keep up.
	Concurrency int
	// PageSize of index reads.
	PageSize int
	// AuditRetention is how long the scan's audit entries are kept
	// (default connection.DefaultAuditRetention).
	AuditRetention time.Duration
	// Tokens moves the tokens of each connection visited to the store
	// USER_TOKEN_STORE names (zero: none move).
	Tokens tokenhome.Mover
	// Sweep moves, after the due work of a run and within its budget, the
	// secrets of connections and settings the scan does not visit, a few
	// pages a run (zero: no sweep).
	Sweep tokenhome.Sweeper
}

// DefaultConcurrency is how many connections a run checks at once unless
// told otherwise.
const DefaultConcurrency = 64

// Report is what a run did.
type Report struct {
	Now          time.Time `json:"now"`
	Checked      int       `json:"checked"`
	Refreshed    int       `json:"refreshed"`
	IdleChecks   int       `json:"idleChecks"` // of the refreshes, those that checked a grant that never expires
	Expired      int       `json:"expired"`
	Notices      int       `json:"notices"`
	Failed       int       `json:"failed"`
	Busy         int       `json:"busy"` // held by another run
	Complete     bool      `json:"complete"`
	StoppedEarly bool      `json:"stoppedEarly,omitempty"`
	// Swept and Moved: connections and settings the token sweep looked
	// at, and secrets it moved home.
	Swept int `json:"swept,omitempty"`
	Moved int `json:"moved,omitempty"`
}

// add counts what one connection's check did into r.
func (r *Report) add(o Report) {
	r.Checked += o.Checked
	r.Refreshed += o.Refreshed
	r.IdleChecks += o.IdleChecks
	r.Expired += o.Expired
	r.Notices += o.Notices
	r.Failed += o.Failed
	r.Busy += o.Busy
}

// leaseFor is how long a connection's lease lasts (longer than any one
// connection's work; a crashed holder's lease lapses after it).
const leaseFor = 5 * time.Minute

// Run scans every shard for connections due at now. Runs may overlap (a
// scanner may even run concurrently with itself): each run has its own
// lease and claim owner and its own notice sender.
//
// One goroutine reads the pages of each shard in turn and hands each due
// connection to a pool of Concurrency workers, each of which checks one
// connection at a time under its lease. A run checks a connection at most
// once (one the index lists again, after a check moved it to now, waits for
// the next run), and reads each account's settings of a vendor at most once
// (store.WithSettingsCache). At the budget, the deadline or a cancellation
// it hands out no more work and waits for the checks under way; what it
// did not reach stays due.
func (s *Scanner) Run(ctx context.Context, now time.Time) (Report, error) {
	now = now.UTC()
	owner := "scan-" + rand.Text()
	r := &run{s: s, now: now, owner: owner, rep: Report{Now: now}}
	if s.Notices != nil {
		r.snd = s.Notices.ForActor(owner, connection.ScanActor())
	}
	r.clock = s.Clock
	if r.clock == nil {
		r.clock = time.Now
	}
	r.started = r.clock()
	ctx = store.WithSettingsCache(ctx)

	workers := s.Concurrency
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	var err error
	if workers == 1 {
		// One at a time, in index order, on this goroutine: the same
		// calls in the same order on every run (fault injection counts
		// on it).
		err = r.feed(ctx, func(c connection.Connection) bool { r.check(ctx, c); return true })
	} else {
		jobs := make(chan connection.Connection)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for c := range jobs {
					r.check(ctx, c)
				}
			})
		}
		err = r.feed(ctx, func(c connection.Connection) bool {
			select {
			case jobs <- c:
				return true
			case <-ctx.Done():
				return false
			}
		})
		close(jobs)
		wg.Wait()
	}

	rep := r.report()
	if err != nil {
		return rep, err
	}
	if rep.StoppedEarly {
		s.log().InfoContext(ctx, "scan stopped at its budget; the rest stays due", "checked", rep.Checked)
		return rep, nil
	}
	rep.Complete = true
	// The due work done, the token sweep goes on with what time is left.
	sw, serr := s.Sweep.Sweep(logctx.With(ctx, s.log().With("action", "token-sweep")), owner, now, func() bool { return s.outOfTime(ctx, r.clock, r.started) })
	rep.Swept, rep.Moved = sw.Swept, sw.Moved
	if serr != nil {
		s.log().ErrorContext(ctx, "token sweep stopped; it goes on in the next run", "error", serr.Error())
	}
	s.log().InfoContext(ctx, "scan done", "now", now, "checked", rep.Checked, "refreshed", rep.Refreshed, "idleChecks", rep.IdleChecks,
		"expired", rep.Expired, "notices", rep.Notices, "failed", rep.Failed, "busy", rep.Busy, "swept", rep.Swept, "moved", rep.Moved)
	return rep, nil
}

// run is one Run's state, shared by its feeder and its workers.
type run struct {
	s       *Scanner
	now     time.Time
	owner   string
	snd     *notices.Sender
	clock   func() time.Time
	started time.Time

	mu      sync.Mutex
	rep     Report
	stopped bool // out of time: no connection is taken any more
}

// report is what the run did so far.
func (r *run) report() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := r.rep
	rep.StoppedEarly = r.stopped
	return rep
}

// outOfTime reports whether the run takes no more connections, and
// remembers it once it is so.
func (r *run) outOfTime(ctx context.Context) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.stopped && r.s.outOfTime(ctx, r.clock, r.started) {
		r.stopped = true
	}
	return r.stopped
}

// feed reads the pages of every shard and hands each due connection, once,
// to handle, until the index is read through or the run is out of time
// (checked before each connection is handed, as a page is always read
// when it is asked for). handle reports false when it could not take the
// connection (the run was cancelled). An index it cannot read ends the
// feed with an error.
func (r *run) feed(ctx context.Context, handle func(connection.Connection) bool) error {
	limit := r.s.PageSize
	if limit <= 0 {
		limit = 100
	}
	handed := map[connection.Key]bool{}
	for shard := 0; shard < store.DueShards; shard++ {
		token := ""
		for {
			due, next, err := r.s.Store.Due(ctx, shard, r.now, token, limit)
			if err != nil {
				return fmt.Errorf("read due connections: %w", err)
			}
			for _, c := range due {
				if handed[c.Key] {
					continue // checked by this run already: the next run looks again
				}
				if r.outOfTime(ctx) {
					return nil
				}
				handed[c.Key] = true
				if !handle(c) {
					r.outOfTime(ctx)
					return nil
				}
			}
			if next == "" {
				break
			}
			if r.outOfTime(ctx) {
				return nil
			}
			token = next
		}
	}
	return nil
}

// check handles one due connection, unless the run ran out of time while
// it waited for a worker (then it stays due).
func (r *run) check(ctx context.Context, c connection.Connection) {
	if r.outOfTime(ctx) {
		return
	}
	var rep Report
	r.s.check(ctx, c, r.now, r.owner, r.snd, &rep)
	r.mu.Lock()
	r.rep.add(rep)
	r.mu.Unlock()
}

// deadlineMargin is how much of the Lambda's time is kept for finishing the
// connection at hand and answering.
const deadlineMargin = 30 * time.Second

// outOfTime reports whether the run should stop between connections: its
// budget is used, or the invocation's deadline is near, or it was cancelled.
func (s *Scanner) outOfTime(ctx context.Context, clock func() time.Time, started time.Time) bool {
	if ctx.Err() != nil {
		return true
	}
	now := clock()
	if s.Budget > 0 && now.Sub(started) >= s.Budget {
		return true
	}
	if d, ok := ctx.Deadline(); ok && d.Sub(now) < deadlineMargin {
		return true
	}
	return false
}

// check handles one due connection under its lease, counting into rep
// (the connection's own).
func (s *Scanner) check(ctx context.Context, due connection.Connection, now time.Time, owner string, snd *notices.Sender, rep *Report) {
	log := s.log().With("account", due.Account, "vendor", due.Vendor, "flow", string(due.Level), "action", "expiry-scan")
	ctx = logctx.With(ctx, log)
	rep.Checked++
	v, ok := vendors.Lookup(due.Vendor)
	if !ok {
		log.ErrorContext(ctx, "connection of an unknown vendor")
		rep.Failed++
		return
	}
	c, err := s.Store.AcquireLease(ctx, due.Key, owner, now, now.Add(leaseFor))
	if errors.Is(err, store.ErrConflict) {
		rep.Busy++
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		return // disconnected meanwhile
	}
	if err != nil {
		log.ErrorContext(ctx, "could not take the lease", "error", err.Error())
		rep.Failed++
		return
	}
	if c.NextCheckAt.IsZero() || c.NextCheckAt.After(now) {
		// Another run handled it between our index read and our lease.
		if rerr := s.Store.ReleaseLease(ctx, c.Key, owner); rerr != nil {
			log.WarnContext(ctx, "could not release the lease; it lapses", "error", rerr.Error())
		}
		return
	}
	if err := s.work(ctx, log, v, c, now, snd, rep); err != nil {
		rep.Failed++
		log.ErrorContext(ctx, "connection check failed; it stays due", "error", err.Error())
		if rerr := s.Store.ReleaseLease(ctx, c.Key, owner); rerr != nil {
			log.WarnContext(ctx, "could not release the lease; it lapses", "error", rerr.Error())
		}
	}
}

// work is the decision for one connection, holding its lease. A dead
// grant goes the one way every finder takes (health.Reaper.Expire).
func (s *Scanner) work(ctx context.Context, log *slog.Logger, v vendors.Vendor, c connection.Connection, now time.Time, snd *notices.Sender, rep *Report) error {
	c = s.Tokens.Move(ctx, c)
	stored := c.SecretVersion
	var extra []store.Op
	// A keep-alive before an inactivity window closes, or the idle check
	// of a grant that never expires: either is a refresh, and a refusal is
	// a dead grant.
	due, idle := lifetime.RefreshDue(v, c, s.checks(), now)
	death := func(reason, message string) health.Death {
		return health.Death{Reason: reason, Message: message, DetectedBy: health.DetectedByScan, Actor: connection.ScanActor()}
	}
	switch {
	case c.Expired:
		// Already expired; only its notice may still be owed.
		return s.expire(ctx, log, c, death(health.ReasonExpired, ""), now, snd, rep)
	case c.IsExpired(now):
		log.InfoContext(ctx, "connection expired")
		return s.expire(ctx, log, c, death(health.ReasonExpired, "refresh token expired"), now, snd, rep)
	case !due:
		// Nothing to refresh.
	default:
		failingSince := c.VendorErrorSince
		_, err := s.Clients.Refresh(ctx, &c, now)
		switch {
		case errors.Is(err, provider.ErrRefused):
			log.InfoContext(ctx, "refresh refused: connection expired")
			return s.expire(ctx, log, c, death(health.ReasonRefused, "refresh refused by the vendor"), now, snd, rep)
		case err != nil:
			if c.VendorErrorSince.IsZero() {
				c.VendorErrorSince = now
			}
			if now.Sub(c.VendorErrorSince) >= s.OutageGrace {
				log.ErrorContext(ctx, "refresh keeps failing past the grace period: connection flagged expired", "since", c.VendorErrorSince, "error", err.Error())
				return s.expire(ctx, log, c, death(health.ReasonOutage, "vendor failing since "+c.VendorErrorSince.Format(time.RFC3339)), now, snd, rep)
			}
			log.WarnContext(ctx, "refresh failed; retried on the next run", "since", c.VendorErrorSince, "error", err.Error())
		default:
			rep.Refreshed++
			if idle {
				rep.IdleChecks++
				log.InfoContext(ctx, "idle check: the grant still works")
			} else {
				log.InfoContext(ctx, "kept alive", "refreshTokenExpiresAt", c.RefreshTokenExpiresAt)
			}
			if !failingSince.IsZero() {
				// Flagged for failing refreshes, and working again.
				extra = append(extra, store.AppendAudit{Entry: connection.NewAudit(c, connection.AuditRecovered, connection.ScanActor(), now,
					s.AuditRetention, map[string]string{"failingSince": failingSince.UTC().Format(time.RFC3339)})})
			}
		}
	}

	owed := true // all notices that are due have gone out
	warned := false
	if w := lifetime.WarnAt(v, c, s.WarningWindow); !w.IsZero() && !now.Before(w) {
		sent := s.notify(ctx, log, snd, v, c, connection.NoticeExpiring, now, rep)
		owed, warned = !sent, sent
	} else {
		owed = false
	}
	c.NextCheckAt = lifetime.NextCheck(v, c, s.checks(), warned)
	retry := owed || !c.VendorErrorSince.IsZero()
	if retry || (!c.NextCheckAt.IsZero() && c.NextCheckAt.Before(now)) {
		// Not done, or due already: the next run looks again.
		c.NextCheckAt = now
	}
	c.LeaseOwner, c.LeaseUntil = "", time.Time{}
	c.UpdatedAt = now
	ops := append([]store.Op{store.UpdateConnection{Conn: c}}, extra...)
	if err := s.Store.Apply(ctx, ops...); err != nil {
		if c.SecretVersion != stored {
			log.WarnContext(ctx, "rotated tokens stored but the connection not saved; the next refresh adopts them",
				"secret", c.SecretName, "version", c.SecretVersion)
		}
		return fmt.Errorf("save connection: %w", err)
	}
	s.Tokens.Settle(ctx, c, stored)
	return nil
}

// expire hands a dead grant (or an expired connection whose notice may be
// owed) to the reaper, on this run's sender, and counts what it did.
func (s *Scanner) expire(ctx context.Context, log *slog.Logger, c connection.Connection, d health.Death, now time.Time, snd *notices.Sender, rep *Report) error {
	r := (&health.Reaper{Store: s.Store, AuditRetention: s.AuditRetention}).WithSender(snd)
	out, err := r.Expire(ctx, c, d, now)
	if out.Marked {
		rep.Expired++
	}
	switch {
	case out.NoticeErr != nil:
		rep.Failed++
		log.ErrorContext(ctx, "notice not delivered; retried on the next run", "kind", string(connection.NoticeDisconnected), "error", out.NoticeErr.Error())
	case out.NoticeSent && snd != nil:
		rep.Notices++
	}
	return err
}

// notify delivers one notice; it reports whether it went out. A failure is
// logged and leaves the notice owed: the connection's own change (expired
// flag, rotated tokens, counters) is saved all the same, and the next run
// retries the notice.
func (s *Scanner) notify(ctx context.Context, log *slog.Logger, snd *notices.Sender, v vendors.Vendor, c connection.Connection, kind connection.NoticeKind, now time.Time, rep *Report) bool {
	if snd == nil {
		return true
	}
	sent, err := snd.Ensure(ctx, v, c, kind, now)
	if err != nil {
		rep.Failed++
		log.ErrorContext(ctx, "notice not delivered; retried on the next run", "kind", string(kind), "error", err.Error())
		return false
	}
	if sent {
		rep.Notices++
	}
	return sent
}

func (s *Scanner) checks() lifetime.Checks {
	return lifetime.Checks{Warning: s.WarningWindow, Idle: s.IdleCheck}
}

func (s *Scanner) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
