package broker_test

import (
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/shared/broker"
)

// BenchmarkTokenValid is a broker call for a token that stays valid long
// enough: on the embedded backends (the use case's own time) and on moto
// (AWS round trips per call, counted by SDK middleware: roundtrips/op).
func BenchmarkTokenValid(b *testing.B) {
	req := broker.TokenRequest{Account: account, Vendor: "confluence", User: bob.UserID}
	b.Run("backend=embedded", func(b *testing.B) {
		e := newEnv(b, nil, nil)
		e.connect(manager, "confluence", "app", "")
		e.connect(bob, "confluence", "user", "bob")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.token(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("backend=moto", func(b *testing.B) {
		e, rt := motoEnv(b)
		e.connect(manager, "confluence", "app", "")
		e.connect(bob, "confluence", "user", "bob")
		rt.reset()
		calls := 0
		for b.Loop() {
			if _, err := e.token(req); err != nil {
				b.Fatal(err)
			}
			calls++
		}
		n, _ := rt.take()
		b.ReportMetric(float64(n)/float64(calls), "roundtrips/op")
	})
}

// BenchmarkParallelExpired50 is one op: 50 parallel broker calls for one
// rotating (Confluence) connection whose access token has expired (the
// clock moves two hours before each op). refreshes/op is what the sandbox
// vendor received (1: one refresh, the others wait for its token);
// failed/op the calls not answered with a token (0).
func BenchmarkParallelExpired50(b *testing.B) {
	for _, backend := range []string{"embedded", "moto"} {
		b.Run("backend="+backend, func(b *testing.B) {
			var e *env
			if backend == "moto" {
				e, _ = motoEnv(b)
			} else {
				e = newEnv(b, nil, nil)
			}
			e.connect(manager, "confluence", "app", "")
			// Real timers between lease polls, as in production.
			e.broker.Sleep = nil
			req := broker.TokenRequest{Account: account, Vendor: "confluence"}
			ops, failed := 0, 0
			before := e.refreshes("confluence")
			for b.Loop() {
				b.StopTimer()
				e.clock.Advance(2 * time.Hour)
				b.StartTimer()
				var wg sync.WaitGroup
				var mu sync.Mutex
				for range 50 {
					wg.Go(func() {
						if _, err := e.token(req); err != nil {
							mu.Lock()
							failed++
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				ops++
			}
			b.ReportMetric(float64(e.refreshes("confluence")-before)/float64(ops), "refreshes/op")
			b.ReportMetric(float64(failed)/float64(ops), "failed/op")
		})
	}
}
