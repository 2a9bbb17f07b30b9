package expiry_test

import (
	"context"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/expiry"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
)

// TestStopsBeforeTheLambdaDeadline: with the invocation's deadline near, a
// run takes no new connection; they stay due for the next run.
func TestStopsBeforeTheLambdaDeadline(t *testing.T) {
	st := memstore.New()
	at := time.Date(2027, 5, 1, 6, 0, 0, 0, time.UTC)
	c := connection.Connection{Key: connection.AppKey("a1", "servicenow"), ID: "c1",
		RefreshTokenExpiresAt: at.Add(-time.Hour), NextCheckAt: at.Add(-time.Hour)}
	if err := st.Apply(t.Context(), store.CreateConnection{Conn: c}); err != nil {
		t.Fatal(err)
	}
	// The invocation ends in an hour of real time; the scanner's clock says
	// it is 10 seconds before that.
	deadline := time.Now().Add(time.Hour)
	wall := deadline.Add(-10 * time.Second)
	ctx, cancel := context.WithDeadline(t.Context(), deadline)
	defer cancel()
	sc := &expiry.Scanner{Store: st, Clock: func() time.Time { return wall }, WarningWindow: 240 * time.Hour}
	rep, err := sc.Run(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.StoppedEarly || rep.Checked != 0 || rep.Complete {
		t.Fatalf("report = %+v", rep)
	}
	got, err := st.GetConnection(t.Context(), c.Key)
	if err != nil || got.Expired || !got.NextCheckAt.Equal(c.NextCheckAt) {
		t.Fatalf("connection after = %+v, %v", got, err)
	}

	// With time to spare, the same run does the work.
	wall = deadline.Add(-10 * time.Minute)
	if rep, err := sc.Run(ctx, at); err != nil || rep.Checked != 1 || rep.Expired != 1 || !rep.Complete {
		t.Fatalf("report = %+v, %v", rep, err)
	}
}
