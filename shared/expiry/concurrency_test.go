package expiry_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/expiry"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vendors"
	"github.com/workplace/connections/shared/vendors/vendortest"
)

// users connects n people at user level to vendorID (after its app-level
// connection) and returns them with what each is emailed when it comes
// due for its expiring notice.
func (e *env) users(vendorID, vendorName string, n int) ([]lifecycle.Caller, []email) {
	e.t.Helper()
	e.connectApp(vendorID)
	want := []email{expiring(manager, vendorName, appLink)}
	var who []lifecycle.Caller
	for i := range n {
		p := person(fmt.Sprintf("u-%03d", i), fmt.Sprintf("user %d", i), false)
		e.connectUser(p, vendorID, fmt.Sprintf("login%03d", i))
		who = append(who, p)
		want = append(want, expiring(p, vendorName, userLink))
	}
	return who, want
}

// Many due connections checked by many workers, by two runs at once:
// every connection's notice is emailed exactly once, and a later run
// sends nothing more.
func TestConcurrentChecksNotifyOnce(t *testing.T) {
	e := newEnv(t, memstore.New())
	_, want := e.users("servicenow", "ServiceNow", 60)
	e.scanner.Concurrency = 16
	e.scanner.PageSize = 7

	e.clock.Set(at(90))
	reps := make([]expiry.Report, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range reps {
		wg.Go(func() { reps[i], errs[i] = e.scanner.Run(t.Context(), at(90)) })
	}
	wg.Wait()
	notices := 0
	for i, rep := range reps {
		if errs[i] != nil || !rep.Complete || rep.Failed != 0 {
			t.Fatalf("run %d: %+v, %v", i, rep, errs[i])
		}
		notices += rep.Notices
	}
	if notices != len(want) {
		t.Fatalf("the runs report %d notices sent, want %d", notices, len(want))
	}
	n := e.wantEmails(0, want...)
	if rep := e.run(at(91)); rep.Notices != 0 {
		t.Fatalf("a later run sent more: %+v", rep)
	}
	e.wantEmails(n)
}

// A run with many workers that reaches its budget finishes the checks
// under way and takes no more: each connection is either done (its notice
// sent, its next check moved on) or untouched and still due. The next run
// does exactly the rest.
func TestBudgetWithManyWorkers(t *testing.T) {
	clock := &workClock{t: time.Unix(0, 0)}
	e := newEnv(t, memstore.New(), withMailer(func(o *memmail.Outbox) mail.Mailer { return tickingMailer{o, clock} }))
	who, want := e.users("servicenow", "ServiceNow", 40)
	e.scanner.Concurrency = 8
	e.scanner.Budget = 10 * time.Second
	e.scanner.Clock = clock.Now

	e.clock.Set(at(90))
	first, err := e.scanner.Run(t.Context(), at(90))
	if err != nil || !first.StoppedEarly || first.Complete || first.Failed != 0 {
		t.Fatalf("first run = %+v, %v; want it stopped at its budget", first, err)
	}
	// The tenth email spends the budget; at most the other workers' checks
	// under way then finish.
	if first.Checked < 10 || first.Checked > 10+7 || first.Notices != first.Checked {
		t.Fatalf("first run = %+v; want 10 to 17 connections checked, each notified", first)
	}
	done := 0
	keys := []connection.Key{connection.AppKey(account, "servicenow")}
	for _, p := range who {
		keys = append(keys, connection.UserKey(account, "servicenow", p.UserID))
	}
	for _, k := range keys {
		c := e.conn(k)
		ns, err := e.store.ListNotices(t.Context(), account, c.NoticeRecipient().UserID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case c.NextCheckAt.After(at(90)) && len(ns) == 1 && !ns[0].SentAt.IsZero() && c.LeaseOwner == "":
			done++
		case !c.NextCheckAt.After(at(90)) && len(ns) == 0 && c.LeaseOwner == "":
			// untouched: still due
		default:
			t.Fatalf("%s half-made after a budget stop: next check %v, lease %q, notices %+v", k, c.NextCheckAt, c.LeaseOwner, ns)
		}
	}
	if done != first.Checked || len(e.emails()) != done {
		t.Fatalf("%d connections done, %d emails, report %+v", done, len(e.emails()), first)
	}

	e.scanner.Clock = nil
	second := e.run(at(90))
	if second.StoppedEarly || second.Checked != len(keys)-done || second.Notices != second.Checked {
		t.Fatalf("second run = %+v, want the %d left", second, len(keys)-done)
	}
	e.wantEmails(0, want...)
}

// settingsCounter counts the settings reads of a store.
type settingsCounter struct {
	store.Store
	reads atomic.Int64
}

func (s *settingsCounter) GetSettings(ctx context.Context, account, vendor string) (connection.Settings, error) {
	s.reads.Add(1)
	return s.Store.GetSettings(ctx, account, vendor)
}

// A run reads an account's settings once, however many of its
// connections it refreshes; the next run reads them again. The settings
// matter to a refresh only for a vendor whose OAuth client is the
// account's (ServiceNow): here with a keep-alive policy, so that the scan
// refreshes its grants.
func TestSettingsReadOncePerRun(t *testing.T) {
	sn := vendortest.Entry(t, "servicenow")
	sn.Refresh = vendors.RefreshPolicy{Inactivity: 90 * 24 * time.Hour, AccessTTL: 30 * time.Minute}
	vendortest.Use(t, sn)
	mem := memstore.New()
	counting := &settingsCounter{Store: mem}
	e := newEnv(t, counting)
	e.users("servicenow", "ServiceNow", 20)
	e.scanner.Concurrency = 8

	counting.reads.Store(0)
	if rep := e.run(at(45)); rep.Refreshed != 21 {
		t.Fatalf("keep-alive run = %+v, want 21 refreshed", rep)
	}
	if n := counting.reads.Load(); n != 1 {
		t.Fatalf("%d settings reads in a run over 21 connections of one account, want 1", n)
	}
	if rep := e.run(at(90)); rep.Refreshed != 21 {
		t.Fatalf("next keep-alive run = %+v, want 21 refreshed", rep)
	}
	if n := counting.reads.Load(); n != 2 {
		t.Fatalf("%d settings reads after two runs, want 2", n)
	}
}
