package expiry_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/expiry"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/notices"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
)

// BenchmarkScanExpired is one scan run over n due ServiceNow connections
// that have passed their expiry: each is leased, marked expired with its
// counters, and gets its disconnected notice and email. Reported per
// connection.
func BenchmarkScanExpired(b *testing.B) {
	const n = 500
	granted := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	now := granted.Add(101 * 24 * time.Hour)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st := memstore.New()
		ctx := context.Background()
		for u := range n {
			c := connection.Connection{
				Key: connection.UserKey("a1", "servicenow", fmt.Sprintf("u%d", u)), ID: fmt.Sprint(u),
				ConnectedBy: connection.Person{UserID: fmt.Sprintf("u%d", u), Email: fmt.Sprintf("u%d@acme.example", u)},
				GrantedAt:   granted, RefreshTokenExpiresAt: granted.Add(100 * 24 * time.Hour),
				NextCheckAt: granted.Add(100 * 24 * time.Hour),
			}
			if err := st.Apply(ctx, store.CreateConnection{Conn: c}, store.AdjustCounts{Account: "a1", Vendor: "servicenow", Total: 1, Connected: 1}); err != nil {
				b.Fatal(err)
			}
		}
		out := memmail.New(memmail.WithQuota(1e9, 1e9))
		sc := &expiry.Scanner{
			Store: st,
			Notices: &notices.Sender{Store: st, Mailer: out, Links: notices.Links{FrontendURL: "https://app.example"},
				Clock: time.Now, Wait: func(time.Duration) {}, Log: quiet},
			Log: quiet, WarningWindow: 10 * 24 * time.Hour, OutageGrace: 72 * time.Hour, Clock: time.Now,
		}
		b.StartTimer()
		rep, err := sc.Run(ctx, now)
		if err != nil || rep.Expired != n || len(out.Messages()) != n {
			b.Fatalf("report %+v, %d emails, err %v", rep, len(out.Messages()), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/connection")
}
