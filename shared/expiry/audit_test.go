package expiry_test

import (
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/store/memstore"
)

// scanEntries are the account's audit entries the scan wrote (actor scan)
// at `at`, as "action level user [details]" lines, sorted.
func (e *env) scanEntries(at time.Time) []string {
	e.t.Helper()
	es, next, err := e.store.ListAudit(e.t.Context(), account, "", "", 100)
	if err != nil || next != "" {
		e.t.Fatalf("audit: %q %v", next, err)
	}
	var out []string
	for _, en := range es {
		if en.Actor != connection.ScanActor() || !en.At.Equal(at) {
			continue
		}
		keys := make([]string, 0, len(en.Details))
		for k := range en.Details {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		line := string(en.Action) + " " + string(en.Level) + " " + en.UserID
		for _, k := range keys {
			line += " " + k + "=" + en.Details[k]
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

func (e *env) wantScanEntries(at time.Time, want ...string) {
	e.t.Helper()
	sort.Strings(want)
	if got := e.scanEntries(at); !reflect.DeepEqual(got, want) {
		e.t.Fatalf("scan's audit entries at %v:\n got %q\nwant %q", at, got, want)
	}
}

// The scan's changes are on the timeline, each once, with the scan as
// actor: the warning coming due, each notice sent, the expiry.
func TestScanAuditExpiringAndExpired(t *testing.T) {
	e := newEnv(t, memstore.New())
	e.connectApp("servicenow")
	e.connectUser(bob, "servicenow", "bob")
	e.runConcurrently(at(90))
	e.wantScanEntries(at(90),
		"expiring app  expiresAt=2027-04-14T09:00:00Z",
		"expiring user u-bob expiresAt=2027-04-14T09:00:00Z",
		"noticeSent app  kind=expiring recipients=1",
		"noticeSent user u-bob kind=expiring recipients=1",
	)
	for _, d := range []float64{90, 91} {
		e.run(at(d))
	}
	e.wantScanEntries(at(91))
	e.run(at(100))
	e.wantScanEntries(at(100),
		"disconnected app  detectedBy=scan reason=expired",
		"disconnected user u-bob detectedBy=scan reason=expired",
		"noticeSent app  kind=disconnected recipients=1",
		"noticeSent user u-bob kind=disconnected recipients=1",
	)
	e.run(at(101))
	e.wantScanEntries(at(101))

	// On the timeline, a notice comes after what it tells of: for each
	// connection, its "disconnected" notice is newer than its
	// disconnection (the two connections are checked in parallel, so
	// their entries may interleave).
	es, _, err := e.store.ListAudit(t.Context(), account, "servicenow", "", 4)
	if err != nil || len(es) != 4 {
		t.Fatal(es, err)
	}
	newest := map[string]map[connection.AuditAction]int{} // connection → action → position (0: newest)
	for i, a := range es {
		if a.ConnectionID == "" {
			t.Fatalf("entry %d (%s) names no connection", i, a.Action)
		}
		if newest[a.ConnectionID] == nil {
			newest[a.ConnectionID] = map[connection.AuditAction]int{}
		}
		newest[a.ConnectionID][a.Action] = i
	}
	if len(newest) != 2 {
		t.Fatalf("the newest 4 entries name %d connections, want 2: %+v", len(newest), es)
	}
	for id, pos := range newest {
		n, okN := pos[connection.AuditNoticeSent]
		d, okD := pos[connection.AuditDisconnected]
		if !okN || !okD || n > d {
			t.Fatalf("connection %s: notice at %d (%v), disconnection at %d (%v): want the notice above the disconnection", id, n, okN, d, okD)
		}
	}
}

// A refused keep-alive is a disconnection found by the scan; an outage is
// nothing until it passes its grace, and a connection flagged for failing
// refreshes that works again is "recovered".
func TestScanAuditRefusedOutageRecovered(t *testing.T) {
	e := newEnv(t, memstore.New())
	e.connectApp("confluence")
	e.clock.Set(at(45))
	e.sandbox.Knob(t, "confluence/outage?status=503")
	e.run(at(45))
	e.wantScanEntries(at(45))
	e.sandbox.Knob(t, "confluence/outage?status=0")
	e.run(at(46))
	e.wantScanEntries(at(46), "recovered app  failingSince=2027-02-18T09:00:00Z")
	e.run(at(47)) // nothing due
	e.wantScanEntries(at(47))

	// A long outage: flagged once past its grace.
	e.clock.Set(at(92))
	e.sandbox.Knob(t, "confluence/outage?status=503")
	for _, d := range []float64{92, 93} {
		e.run(at(d))
		e.wantScanEntries(at(d))
	}
	e.run(at(95))
	e.wantScanEntries(at(95),
		"disconnected app  detectedBy=scan reason=vendor_outage",
		"noticeSent app  kind=disconnected recipients=1",
	)

	// Revoked at the vendor: refused at the next keep-alive.
	e2 := newEnv(t, memstore.New())
	e2.connectApp("confluence")
	e2.clock.Set(at(1))
	e2.sandbox.Knob(t, "confluence/revoke?user=admin")
	e2.run(at(45))
	e2.wantScanEntries(at(45),
		"disconnected app  detectedBy=scan reason=refresh_refused",
		"noticeSent app  kind=disconnected recipients=1",
	)
}

// A notice that cannot go out yet is audited when it does, once; the
// warning coming due is audited once however often its email is retried.
func TestScanAuditNoticeRetried(t *testing.T) {
	var fm *failingMailer
	e := newEnv(t, memstore.New(), withMailer(func(o *memmail.Outbox) mail.Mailer {
		fm = &failingMailer{Outbox: o}
		return fm
	}))
	e.connectApp("servicenow")
	fm.setDown(true)
	e.clock.Set(at(90))
	if _, err := e.scanner.Run(t.Context(), at(90)); err != nil {
		t.Fatal(err)
	}
	e.wantScanEntries(at(90), "expiring app  expiresAt=2027-04-14T09:00:00Z")
	fm.setDown(false)
	e.run(at(90.5))
	e.wantScanEntries(at(90.5), "noticeSent app  kind=expiring recipients=1")
	e.wantScanEntries(at(90), "expiring app  expiresAt=2027-04-14T09:00:00Z")
}
