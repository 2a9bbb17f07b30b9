package expiry_test

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/keys/memkeys"
	"github.com/workplace/connections/shared/logctx"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/tokenhome"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vault/sealed"
)

// BenchmarkSweepInjectedLatency: the token sweep after a switch to sealed
// mode, every AWS call (the table, Secrets Manager, the sealed items)
// taking awsLatency, moving with DefaultConcurrency at once: moves/s,
// AWS calls per move, and then a pass with nothing to move (items/s read,
// a page of DefaultSweepPage items per Scan).
func BenchmarkSweepInjectedLatency(b *testing.B) {
	const conns = 2000
	ctx := logctx.With(b.Context(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	var moves, reads, movesCalls float64
	var moveTime, readTime time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		l := &latency{}
		st := memstore.New()
		secrets := memvault.New()
		r := &vault.Router{Secrets: slowVault{l, secrets}, Sealed: slowVault{l, sealed.New(memvault.New(memvault.ForSealed()), memkeys.New())},
			Prefix: "test", Mode: vault.StoreSecrets, RecoveryDays: 7}
		for n := range conns {
			k := connection.UserKey(fmt.Sprintf("acct-%d", n%100), "confluence", fmt.Sprintf("u-%d", n))
			name := "test/tokens/" + k.Account + "/confluence/user/" + k.UserID
			version, err := vault.PutTokens(ctx, secrets, name, vault.Tokens{AccessToken: "a", RefreshToken: "r"})
			if err != nil {
				b.Fatal(err)
			}
			if err := st.Apply(ctx, store.CreateConnection{Conn: connection.Connection{Key: k, ID: k.String(), SecretName: name, SecretVersion: version, CreatedAt: t0}}); err != nil {
				b.Fatal(err)
			}
		}
		r.Mode = vault.StoreSealed
		sw := tokenhome.Sweeper{Mover: tokenhome.Mover{Store: slowStore{l, st}, Vault: r}, Pages: 1000, Concurrency: 64}
		runtime.GC()
		b.StartTimer()
		start := time.Now()
		rep, err := sw.Sweep(ctx, "bench", t0, func() bool { return false })
		moveTime += time.Since(start)
		if err != nil || rep.Moved != conns || !rep.Done {
			b.Fatalf("sweep: %+v %v", rep, err)
		}
		moves += conns
		movesCalls += float64(l.aws.Load())
		// The same table swept again in another mode's mark, nothing to
		// move: reading only.
		if err := st.PutSweepMark(ctx, store.SweepMark{Mode: "other"}); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		rep, err = sw.Sweep(ctx, "bench", t0, func() bool { return false })
		readTime += time.Since(start)
		if err != nil || rep.Moved != 0 || rep.Swept != conns {
			b.Fatalf("second sweep: %+v %v", rep, err)
		}
		reads += conns
	}
	b.ReportMetric(moves/moveTime.Seconds(), "moves/s")
	b.ReportMetric(movesCalls/moves, "aws-calls/move")
	b.ReportMetric(reads/readTime.Seconds(), "swept-home/s")
}
