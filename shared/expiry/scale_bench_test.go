package expiry_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/expiry"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/notices"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
)

// scanWorld is the service on embedded backends and the sandbox, with due
// Confluence connections (app and user level, over many accounts) whose
// keep-alive comes due together, and a scanner over it.
type scanWorld struct {
	clock   *sandboxtest.Clock
	store   store.Store
	scanner *expiry.Scanner
	due     int
}

// newScanWorld connects due connections through the sandbox, perAccount
// of them in each account (its app connection and perAccount-1 users).
// wrap may put decorators around the store, the vault, the mailer and the
// vendor transport the scanner uses (after the connections are made).
func newScanWorld(b *testing.B, mem *memstore.Store, due, perAccount int, wrap func(*scanPorts)) *scanWorld {
	b.Helper()
	w := &scanWorld{clock: sandboxtest.NewClock(t0), due: due}
	vlt := memvault.New()
	sb := sandboxtest.StartSandbox(b, w.clock.Now)
	svc := sandboxtest.NewService(b, sb, mem, vlt, &sandboxtest.AtlassianApp)
	made := 0
	for a := 0; made < due; a++ {
		acct := fmt.Sprintf("acct-%04d", a)
		mgr := lifecycle.Caller{Person: connection.Person{UserID: "u-admin", Email: "admin@" + acct + ".example"}, Account: acct, AppManager: true}
		sb.Connect(b, svc, mgr, "confluence", "app", "", nil)
		made++
		for u := 1; u < perAccount && made < due; u++ {
			p := lifecycle.Caller{Person: connection.Person{UserID: fmt.Sprintf("u-%04d", u), Email: fmt.Sprintf("u%04d@%s.example", u, acct)}, Account: acct}
			sb.Connect(b, svc, p, "confluence", "user", "", nil)
			made++
		}
	}

	// What the deployment's scan uses: a vendor client that keeps its
	// connections for reuse (safehttp: 64 idle per host).
	tr := sb.Server.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	ports := &scanPorts{store: mem, vault: vlt, mailer: memmail.New(memmail.WithQuota(1e6, 1e9)), transport: tr}
	if wrap != nil {
		wrap(ports)
	}
	clients := sandboxtest.NewFactory(sb, ports.store, ports.vault)
	clients.HTTP = &http.Client{Transport: ports.transport}
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	w.store = ports.store
	w.scanner = &expiry.Scanner{
		Store:   ports.store,
		Clients: clients,
		Notices: &notices.Sender{Store: ports.store, Mailer: ports.mailer, Links: notices.Links{FrontendURL: frontend},
			Clock: time.Now, Wait: func(time.Duration) {}, Log: quiet},
		Log: quiet, WarningWindow: warnWindow, OutageGrace: outageGrace, Clock: time.Now,
		Concurrency: expiry.DefaultConcurrency, // as deployed (SCAN_CONCURRENCY's default)
	}
	return w
}

// scanPorts are the scanner's dependencies, for decorators.
type scanPorts struct {
	store     store.Store
	vault     vault.Vault
	mailer    mail.Mailer
	transport http.RoundTripper
}

// keepAliveRun is the i-th run of a benchmark: Confluence keep-alives come
// due every 45 days (first at day 45) until the absolute limit at 365.
func (w *scanWorld) keepAliveRun(b *testing.B, i int) (expiry.Report, time.Duration) {
	b.Helper()
	if i >= 7 {
		b.Fatal("at most 7 keep-alive runs fit before the grants' absolute limit: use -benchtime=1x")
	}
	when := at(45 * float64(i+1))
	w.clock.Set(when)
	start := time.Now()
	rep, err := w.scanner.Run(context.Background(), when)
	elapsed := time.Since(start)
	if err != nil || !rep.Complete || rep.Failed != 0 || rep.Refreshed != w.due {
		b.Fatalf("run %d: %+v, %v; want all %d refreshed", i, rep, err, w.due)
	}
	return rep, elapsed
}

// dueReads counts the connections the scan reads from the expiry index.
type dueReads struct {
	store.Store
	n atomic.Int64
}

func (d *dueReads) Due(ctx context.Context, shard int, now time.Time, token string, limit int) ([]connection.Connection, string, error) {
	cs, next, err := d.Store.Due(ctx, shard, now, token, limit)
	d.n.Add(int64(len(cs)))
	return cs, next, err
}

// fill stores n connections that are not due for years (spread over many
// accounts and vendors), straight through Apply, 100 to a transaction.
func fill(b *testing.B, st *memstore.Store, n int) {
	b.Helper()
	vendorIDs := []string{"servicenow", "confluence", "jira", "sharepoint", "googledrive", "dropbox", "box"}
	later := t0.Add(30 * 365 * day)
	var wg sync.WaitGroup
	const workers = 4
	for w := range workers {
		wg.Go(func() {
			ops := make([]store.Op, 0, 100)
			for i := w; i < n; i += workers {
				k := connection.UserKey(fmt.Sprintf("fill-%05d", i%10000), vendorIDs[i%len(vendorIDs)], fmt.Sprintf("u-%07d", i))
				ops = append(ops, store.CreateConnection{Conn: connection.Connection{Key: k, ID: fmt.Sprint("f", i),
					CreatedAt: t0, GrantedAt: t0, NextCheckAt: later.Add(time.Duration(i) * time.Second)}})
				if len(ops) == cap(ops) || i+workers >= n {
					if err := st.Apply(context.Background(), ops...); err != nil {
						b.Error(err)
						return
					}
					ops = ops[:0]
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// BenchmarkScan1M is the scan over the embedded store holding 1,000,000
// connections of which 1% (10,000 Confluence connections over 100
// accounts) come due for their keep-alive, refreshed at the sandbox. It
// reports due/s (connections checked per second of the run) and reads/due
// (connections read from the expiry index per due one). Run it with
// -benchtime=1x (each iteration is a whole run; setup is not timed).
func BenchmarkScan1M(b *testing.B) {
	const total, due = 1_000_000, 10_000
	mem := memstore.New()
	start := time.Now()
	// Setup grows the heap to about 2 GB: collect only near a 4 GiB
	// ceiling while it does (not once per doubling, each marking all that
	// is live), then collect as usual for the timed run.
	gc, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(4<<30)
	fill(b, mem, total-due)
	filled := time.Now()
	var reads *dueReads
	w := newScanWorld(b, mem, due, 100, func(p *scanPorts) {
		reads = &dueReads{Store: p.store}
		p.store = reads
	})
	debug.SetGCPercent(gc)
	debug.SetMemoryLimit(limit)
	b.Logf("setup: %d connections stored in %v, %d connected at the sandbox in %v",
		total-due, filled.Sub(start).Round(time.Millisecond), due, time.Since(filled).Round(time.Millisecond))
	var elapsed time.Duration
	runtime.GC() // the setup's garbage is not the run's
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, d := w.keepAliveRun(b, i)
		elapsed += d
	}
	b.StopTimer()
	b.ReportMetric(float64(due*b.N)/elapsed.Seconds(), "due/s")
	b.ReportMetric(float64(reads.n.Load())/float64(due*b.N), "reads/due")
}
