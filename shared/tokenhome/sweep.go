package tokenhome

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/workplace/connections/shared/logctx"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
)

// DefaultSweepPage is how many items of the table one sweep page reads.
const DefaultSweepPage = 1000

// DefaultSweepLease is how long the sweep holds a connection's lease
// (longer than one move).
const DefaultSweepLease = 5 * time.Minute

// Sweeper moves, a few pages per scan run, the secrets of every
// connection and settings item of the table to the store the mode names,
// so that a change of USER_TOKEN_STORE completes even for the connections
// the scan does not visit. Its mark (store.SweepMark) keeps where it
// stands across runs: a run goes on from it, a change of mode starts
// over, and once a whole pass moved every secret it found elsewhere the
// sweep is done in this mode (a run then costs one read of the mark). A
// pass in which a secret could not be moved or its old copy deleted (the
// vault or the table failed, a connection was held or changed meanwhile)
// is followed by another, which also deletes, in sealed mode, the
// Secrets Manager copy of every secret home already (Forget; "not found"
// once it is gone).
//
// Each connection whose tokens are elsewhere is moved under its lease,
// as the scan moves it (Mover.Move's order: copy home, save the
// connection pointing at the copy with its version as condition, then
// schedule the old copy for deletion); settings are moved under their
// version. A failure at any step leaves the secret readable where it was.
type Sweeper struct {
	// Mover moves; its Vault's home store (USER_TOKEN_STORE) is the mode
	// the mark is kept for.
	Mover Mover
	// Pages (SCAN_SWEEP_PAGES) bounds the pages a run sweeps; 0: none.
	Pages int
	// Concurrency is how many items are moved at once (0: one).
	Concurrency int
	// PageSize is how many items of the table a page reads (0:
	// DefaultSweepPage).
	PageSize int
	// LeaseFor is how long a connection's lease is taken for (0:
	// DefaultSweepLease).
	LeaseFor time.Duration
}

// SweepReport is what one run of the sweep did.
type SweepReport struct {
	Swept int  // connections and settings looked at
	Moved int  // secrets moved home
	Done  bool // the whole table is swept in this mode
}

// Sweep carries the sweep on from its mark for up to Pages pages, until
// stop reports true (asked between items), and saves the mark. owner and
// now take the connections' leases. An error is a mark or a page that
// could not be read or saved; what was moved stays moved.
func (w Sweeper) Sweep(ctx context.Context, owner string, now time.Time, stop func() bool) (SweepReport, error) {
	var rep SweepReport
	mv, ok := w.Mover.Vault.(vault.Mover)
	if w.Pages <= 0 || !ok || w.Mover.Store == nil {
		return rep, nil
	}
	mode := mv.HomeStore()
	st := w.Mover.Store
	mark, err := st.GetSweepMark(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return rep, fmt.Errorf("read the sweep mark: %w", err)
	}
	if mark.Mode != mode {
		mark = store.SweepMark{Mode: mode} // a new mode: start over
	}
	if mark.Done {
		rep.Done = true
		return rep, nil
	}
	limit := w.PageSize
	if limit <= 0 {
		limit = DefaultSweepPage
	}
	start := mark
	var perr error
	for range w.Pages {
		if stop() {
			break
		}
		items, next, err := st.Sweep(ctx, mark.Cursor, limit)
		if errors.Is(err, store.ErrBadCursor) && mark.Cursor != "" {
			// A saved cursor the store no longer takes (its format
			// changed, or the item was edited): start the pass over
			// rather than fail every run from now on. Moves already made
			// cost nothing to look at again.
			logctx.From(ctx, nil).WarnContext(ctx, "token sweep: the saved cursor is refused; starting the pass over", "error", err.Error())
			mark.Cursor = ""
			items, next, err = st.Sweep(ctx, mark.Cursor, limit)
		}
		if err != nil {
			perr = fmt.Errorf("read a sweep page: %w", err)
			break
		}
		done := w.page(ctx, mv, items, owner, now, stop, &rep, &mark)
		if done < len(items) {
			break // out of time: the next run goes on after the last item done
		}
		mark.Cursor = next
		if next != "" {
			continue
		}
		if mark.Missed == 0 {
			mark.Done = true
			break
		}
		// Some secret stayed where it was: another pass.
		logctx.From(ctx, nil).WarnContext(ctx, "token sweep pass done with secrets not moved; sweeping again", "missed", mark.Missed)
		mark.Missed = 0
		mark.Pass++
	}
	rep.Done = mark.Done
	if mark != start {
		mark.UpdatedAt = now
		if err := st.PutSweepMark(ctx, mark); err != nil {
			return rep, errors.Join(perr, fmt.Errorf("save the sweep mark: %w", err))
		}
	}
	return rep, perr
}

// page moves the secrets of a page's items, Concurrency at a time, in
// page order, until stop reports true, counting into rep and mark. It
// returns how many items from the page's start are done (all before them
// too), and moves mark's cursor after the last of them: an item done after
// one left out is looked at again by the next run (already home, it costs
// nothing more).
func (w Sweeper) page(ctx context.Context, mv vault.Mover, items []store.SweepItem, owner string, now time.Time, stop func() bool, rep *SweepReport, mark *store.SweepMark) int {
	type result struct{ ran, moved, home bool }
	retry := mark.Pass > 0
	results := make([]result, len(items))
	var (
		next    atomic.Int64
		stopped atomic.Bool
		stopMu  sync.Mutex
		wg      sync.WaitGroup
	)
	halt := func() bool {
		stopMu.Lock()
		defer stopMu.Unlock()
		if !stopped.Load() && stop() {
			stopped.Store(true)
		}
		return stopped.Load()
	}
	for range max(1, min(w.Concurrency, len(items))) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(items) || halt() {
					return
				}
				moved, home := w.item(ctx, mv, items[i], owner, now, retry)
				results[i] = result{true, moved, home}
			}
		})
	}
	wg.Wait()
	done := len(items)
	for i, r := range results {
		if !r.ran {
			done = min(done, i)
			continue
		}
		rep.Swept++
		if r.moved {
			rep.Moved++
		}
		if !r.home && i < done {
			mark.Missed++
		}
	}
	if done > 0 {
		mark.Cursor = items[done-1].After
	}
	return done
}

// item moves one swept item's secret home; it reports whether it moved
// one and whether the item's secret is home now.
// In a pass after the first (retry) it deletes old copies left behind.
func (w Sweeper) item(ctx context.Context, mv vault.Mover, it store.SweepItem, owner string, now time.Time, retry bool) (moved, home bool) {
	if it.Settings != nil {
		return w.Mover.moveSettings(ctx, mv, *it.Settings, retry)
	}
	if it.Conn == nil {
		return false, true
	}
	if !mv.Misplaced(it.Conn.SecretName, it.Conn.SecretVersion) {
		if retry && mv.Lingering(it.Conn.SecretName, it.Conn.SecretVersion) {
			// Nothing points at the old copy: the connection reads its
			// home version, and every write goes home.
			if err := mv.Forget(ctx, it.Conn.SecretName); err != nil {
				logctx.From(ctx, nil).WarnContext(ctx, "the old copy of tokens not scheduled for deletion", "secret", it.Conn.SecretName, "error", err.Error())
				return false, false
			}
		}
		return false, true
	}
	log := logctx.From(ctx, nil).With("account", it.Conn.Account, "vendor", it.Conn.Vendor, "flow", string(it.Conn.Level), "action", "token-sweep")
	ctx = logctx.With(ctx, log)
	st := w.Mover.Store
	lease := w.LeaseFor
	if lease <= 0 {
		lease = DefaultSweepLease
	}
	c, err := st.AcquireLease(ctx, it.Conn.Key, owner, now, now.Add(lease))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, true // disconnected meanwhile
	case err != nil:
		// Held by a check or a refresh (or the table failed): a later pass
		// looks again.
		log.InfoContext(ctx, "connection not swept now; looked at again in a later pass", "error", err.Error())
		return false, false
	}
	defer func() {
		if err := st.ReleaseLease(ctx, c.Key, owner); err != nil {
			log.WarnContext(ctx, "could not release the lease; it lapses", "error", err.Error())
		}
	}()
	was := c.SecretVersion
	c, home = w.Mover.moveTokens(ctx, mv, c)
	return c.SecretVersion != was, home
}
