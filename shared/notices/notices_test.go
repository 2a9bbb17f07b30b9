package notices_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/notices"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vendors"
)

const (
	account = "acct-1"
	day     = 24 * time.Hour
)

var (
	now   = time.Date(2027, 4, 1, 6, 0, 0, 0, time.UTC)
	links = notices.Links{
		FrontendURL:       "https://app.example.com/",
		UserReconnectPath: "/profile/external-apps",
		AppReconnectPath:  "manage/apps/integrations",
	}
	userLink = "https://app.example.com/profile/external-apps"
	appLink  = "https://app.example.com/manage/apps/integrations"

	ada = connection.Person{UserID: "u-ada", Email: "ada@example.org", Name: "Ada Admin"}
	bob = connection.Person{UserID: "u-bob", Email: "bob@example.org", Name: "Bob Plain"}
)

func mustVendor(t *testing.T, id string) vendors.Vendor {
	t.Helper()
	v, ok := vendors.Lookup(id)
	if !ok {
		t.Fatalf("no vendor %s", id)
	}
	return v
}

// userConn is bob's ServiceNow connection, expiring in 5 days.
func userConn() connection.Connection {
	return connection.Connection{
		Key:                   connection.UserKey(account, "servicenow", bob.UserID),
		ID:                    "c-bob",
		ConnectedBy:           bob,
		RefreshTokenExpiresAt: now.Add(5 * day),
	}
}

// appConn is the account's ServiceNow app connection, connected by ada.
func appConn() connection.Connection {
	return connection.Connection{
		Key:                   connection.AppKey(account, "servicenow"),
		ID:                    "c-app",
		ConnectedBy:           ada,
		RefreshTokenExpiresAt: now.Add(5 * day),
	}
}

func sender(st store.Store, m mail.Mailer, owner string) *notices.Sender {
	return &notices.Sender{
		Store: st, Mailer: m, Links: links, Owner: owner,
		Clock: func() time.Time { return now }, Wait: func(time.Duration) {},
	}
}

func ensure(t *testing.T, s *notices.Sender, c connection.Connection, kind connection.NoticeKind, at time.Time) bool {
	t.Helper()
	ok, err := s.Ensure(t.Context(), mustVendor(t, c.Vendor), c, kind, at)
	if err != nil {
		t.Fatalf("ensure %s %s: %v", c.Key, kind, err)
	}
	return ok
}

func notice(t *testing.T, st store.Store, c connection.Connection, kind connection.NoticeKind) connection.Notice {
	t.Helper()
	n, err := st.GetNotice(t.Context(), c.Account, c.NoticeRecipient().UserID, connection.NoticeID(c.Key, kind, c.Generation))
	if err != nil {
		t.Fatalf("notice %s of %s: %v", kind, c.Key, err)
	}
	return n
}

func listed(t *testing.T, st store.Store, userID string) []connection.Notice {
	t.Helper()
	ns, err := st.ListNotices(t.Context(), account, userID)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func wantEmails(t *testing.T, o *memmail.Outbox, n int) []mail.Message {
	t.Helper()
	msgs := o.Messages()
	if len(msgs) != n {
		t.Fatalf("%d emails sent, want %d: %+v", len(msgs), n, msgs)
	}
	return msgs
}

func TestMessages(t *testing.T) {
	sn, cf := mustVendor(t, "servicenow"), mustVendor(t, "confluence")
	if got, want := notices.Message(sn, connection.NoticeDisconnected, now),
		"ServiceNow has unexpectedly been disconnected. Please reconnect your ServiceNow account."; got != want {
		t.Errorf("disconnected message = %q, want the seed's %q", got, want)
	}
	if got, want := notices.Message(cf, connection.NoticeDisconnected, time.Time{}),
		"Confluence has unexpectedly been disconnected. Please reconnect your Confluence account."; got != want {
		t.Errorf("disconnected message = %q, want %q", got, want)
	}
	exp := notices.Message(cf, connection.NoticeExpiring, time.Date(2027, 5, 9, 23, 0, 0, 0, time.FixedZone("x", -3*3600)))
	if !strings.Contains(exp, "Confluence will be disconnected on 10 May 2027") || !strings.Contains(exp, "reconnect your Confluence account") {
		t.Errorf("expiring message = %q", exp)
	}
	if got := links.URL(connection.LevelUser); got != userLink {
		t.Errorf("user link = %q, want %q", got, userLink)
	}
	if got := links.URL(connection.LevelApp); got != appLink {
		t.Errorf("app link = %q, want %q", got, appLink)
	}
}

func TestEmail(t *testing.T) {
	sn := mustVendor(t, "servicenow")
	n := connection.Notice{Level: connection.LevelUser, Kind: connection.NoticeDisconnected, Email: bob.Email,
		Message: notices.Message(sn, connection.NoticeDisconnected, time.Time{})}
	m := notices.Email(sn, n, userLink+"?a=1&b=<2>")
	if len(m.To) != 1 || m.To[0] != bob.Email {
		t.Errorf("to = %v", m.To)
	}
	if m.Subject != "ServiceNow has been disconnected" {
		t.Errorf("subject = %q", m.Subject)
	}
	if !strings.Contains(m.Text, n.Message) || !strings.Contains(m.Text, userLink+"?a=1&b=<2>") || !strings.Contains(m.Text, "External apps") {
		t.Errorf("text = %q", m.Text)
	}
	if !strings.Contains(m.HTML, "a=1&amp;b=&lt;2&gt;") || strings.Contains(m.HTML, "<2>") {
		t.Errorf("html is not escaped: %q", m.HTML)
	}
	n.Kind, n.Level = connection.NoticeExpiring, connection.LevelApp
	m = notices.Email(sn, n, appLink)
	if m.Subject != "ServiceNow will soon be disconnected" || !strings.Contains(m.Text, "the ServiceNow integration page: "+appLink) {
		t.Errorf("app expiring email = %q / %q", m.Subject, m.Text)
	}
}

// One notice, one email, however often it is ensured; the in-app notice is
// listed for its recipient only.
func TestEnsureOnce(t *testing.T) {
	st, out := memstore.New(), memmail.New()
	s := sender(st, out, "run-1")
	u, a := userConn(), appConn()
	for i := 0; i < 3; i++ {
		if !ensure(t, s, u, connection.NoticeExpiring, now.Add(time.Duration(i)*day)) {
			t.Fatal("not delivered")
		}
		if !ensure(t, s, a, connection.NoticeExpiring, now) {
			t.Fatal("not delivered")
		}
	}
	// A later run, another owner: still nothing more.
	if !ensure(t, sender(st, out, "run-2"), u, connection.NoticeExpiring, now.Add(3*day)) {
		t.Fatal("not delivered")
	}
	msgs := wantEmails(t, out, 2)
	if msgs[0].To[0] != bob.Email || !strings.Contains(msgs[0].Text, userLink) || msgs[0].Subject != "ServiceNow will soon be disconnected" {
		t.Errorf("user email = %+v", msgs[0])
	}
	if msgs[1].To[0] != ada.Email || !strings.Contains(msgs[1].Text, appLink) {
		t.Errorf("app email = %+v", msgs[1])
	}
	ns := listed(t, st, bob.UserID)
	if len(ns) != 1 || ns[0].Kind != connection.NoticeExpiring || ns[0].Level != connection.LevelUser ||
		ns[0].Vendor != "servicenow" || !ns[0].CreatedAt.Equal(now) || ns[0].SentAt.IsZero() {
		t.Errorf("bob's notices = %+v", ns)
	}
	if !strings.Contains(ns[0].Message, "ServiceNow will be disconnected on 6 April 2027") {
		t.Errorf("message = %q", ns[0].Message)
	}
	if ns := listed(t, st, ada.UserID); len(ns) != 1 || ns[0].Level != connection.LevelApp {
		t.Errorf("ada's notices = %+v", ns)
	}
}

// Each kind and each token generation has its own notice.
func TestEnsurePerKindAndGeneration(t *testing.T) {
	st, out := memstore.New(), memmail.New()
	s := sender(st, out, "run-1")
	u := userConn()
	ensure(t, s, u, connection.NoticeExpiring, now)
	ensure(t, s, u, connection.NoticeDisconnected, now.Add(time.Hour))
	u.Generation++
	ensure(t, s, u, connection.NoticeExpiring, now.Add(2*time.Hour))
	ensure(t, s, u, connection.NoticeExpiring, now.Add(3*time.Hour))
	msgs := wantEmails(t, out, 3)
	if msgs[1].Subject != "ServiceNow has been disconnected" ||
		!strings.Contains(msgs[1].Text, "ServiceNow has unexpectedly been disconnected. Please reconnect your ServiceNow account.") {
		t.Errorf("disconnected email = %+v", msgs[1])
	}
	if ns := listed(t, st, bob.UserID); len(ns) != 3 {
		t.Errorf("%d notices, want 3", len(ns))
	}
}

// A throttled send leaves the notice recorded and unsent; the rest of the
// run sends nothing more; the next run (even at the same scan time) sends
// it, once.
func TestThrottled(t *testing.T) {
	st, out := memstore.New(), memmail.New()
	base := sender(st, out, "")
	run1 := base.ForRun("run-1")
	u, a := userConn(), appConn()
	out.ThrottleNext(1)
	if ensure(t, run1, u, connection.NoticeExpiring, now) {
		t.Fatal("reported delivered while throttled")
	}
	if ensure(t, run1, a, connection.NoticeExpiring, now) {
		t.Fatal("sent after a throttle in the same run")
	}
	wantEmails(t, out, 0)
	if n := notice(t, st, u, connection.NoticeExpiring); !n.SentAt.IsZero() {
		t.Fatal("marked sent")
	}
	if ns := listed(t, st, bob.UserID); len(ns) != 1 {
		t.Fatalf("the in-app notice is not recorded: %+v", ns)
	}

	run2 := base.ForRun("run-2")
	if !ensure(t, run2, u, connection.NoticeExpiring, now) || !ensure(t, run2, a, connection.NoticeExpiring, now) {
		t.Fatal("not retried by the next run")
	}
	run3 := base.ForRun("run-3")
	ensure(t, run3, u, connection.NoticeExpiring, now.Add(day))
	ensure(t, run3, a, connection.NoticeExpiring, now.Add(day))
	msgs := wantEmails(t, out, 2)
	if msgs[0].To[0] != bob.Email || msgs[1].To[0] != ada.Email {
		t.Errorf("emails = %+v", msgs)
	}
}

// quotaMailer reports a chosen daily allowance.
type quotaMailer struct {
	*memmail.Outbox
	mu        sync.Mutex
	perSecond float64
	remaining float64
}

func (m *quotaMailer) set(perSecond, remaining float64) {
	m.mu.Lock()
	m.perSecond, m.remaining = perSecond, remaining
	m.mu.Unlock()
}

func (m *quotaMailer) Quota(context.Context) (mail.Quota, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return mail.Quota{MaxPerSecond: m.perSecond, Remaining24h: m.remaining}, nil
}

func TestQuota(t *testing.T) {
	st := memstore.New()
	m := &quotaMailer{Outbox: memmail.New()}
	m.set(100, 1)
	base := sender(st, m, "")
	run1 := base.ForRun("run-1")
	u, a := userConn(), appConn()
	if !ensure(t, run1, u, connection.NoticeExpiring, now) {
		t.Fatal("first notice not sent")
	}
	if ensure(t, run1, a, connection.NoticeExpiring, now) {
		t.Fatal("sent past the quota")
	}
	wantEmails(t, m.Outbox, 1)

	m.set(100, 1000)
	run2 := base.ForRun("run-2")
	if !ensure(t, run2, u, connection.NoticeExpiring, now) || !ensure(t, run2, a, connection.NoticeExpiring, now) {
		t.Fatal("the rest was not sent by the next run")
	}
	msgs := wantEmails(t, m.Outbox, 2)
	if msgs[0].To[0] != bob.Email || msgs[1].To[0] != ada.Email {
		t.Errorf("emails = %+v", msgs)
	}

	m.set(100, 0)
	if ensure(t, base.ForRun("run-3"), connection.Connection{Key: connection.UserKey(account, "servicenow", "u-x"),
		ConnectedBy: connection.Person{UserID: "u-x", Email: "x@example.org"}}, connection.NoticeExpiring, now) {
		t.Fatal("sent with no quota left")
	}
}

// Sends are paced at the provider's rate.
func TestPacing(t *testing.T) {
	st := memstore.New()
	m := &quotaMailer{Outbox: memmail.New()}
	m.set(2, 1000)
	var waits []time.Duration
	s := sender(st, m, "run-1")
	s.Wait = func(d time.Duration) { waits = append(waits, d) }
	for i := 0; i < 3; i++ {
		c := userConn()
		c.Key.UserID = "u-" + string(rune('a'+i))
		c.ConnectedBy = connection.Person{UserID: c.Key.UserID, Email: c.Key.UserID + "@example.org"}
		ensure(t, s, c, connection.NoticeExpiring, now)
	}
	wantEmails(t, m.Outbox, 3)
	if len(waits) != 2 || waits[0] != 500*time.Millisecond || waits[1] != 500*time.Millisecond {
		t.Errorf("waits = %v, want two of 500ms (2 per second, on a clock that does not move)", waits)
	}
}

// gateMailer holds a send until the test lets it go.
type gateMailer struct {
	*memmail.Outbox
	entered chan struct{}
	release chan struct{}
}

func (g *gateMailer) Send(ctx context.Context, m mail.Message) error {
	g.entered <- struct{}{}
	<-g.release
	return g.Outbox.Send(ctx, m)
}

// Two senders racing on one notice: the one that claimed it sends; the
// other sends nothing, and knows it went out once it has.
func TestRacingSenders(t *testing.T) {
	st := memstore.New()
	out := memmail.New()
	gate := &gateMailer{Outbox: out, entered: make(chan struct{}), release: make(chan struct{})}
	a, b := sender(st, gate, "run-a"), sender(st, out, "run-b")
	u := userConn()

	done := make(chan bool)
	go func() {
		ok, err := a.Ensure(context.Background(), mustVendor(t, "servicenow"), u, connection.NoticeExpiring, now)
		if err != nil {
			t.Error(err)
		}
		done <- ok
	}()
	<-gate.entered // a holds the claim and is sending
	if ensure(t, b, u, connection.NoticeExpiring, now) {
		t.Error("b reports delivered while a is still sending")
	}
	close(gate.release)
	if !<-done {
		t.Fatal("a did not deliver")
	}
	if !ensure(t, b, u, connection.NoticeExpiring, now) {
		t.Error("b does not see the notice as delivered")
	}
	wantEmails(t, out, 1)
}

// Many senders at once, each with its own owner: one email.
func TestConcurrentSenders(t *testing.T) {
	st, out := memstore.New(), memmail.New()
	base := sender(st, out, "")
	u := userConn()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		s := base.ForRun("run-" + string(rune('a'+i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Ensure(context.Background(), mustVendor(t, "servicenow"), u, connection.NoticeExpiring, now); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	wantEmails(t, out, 1)
	if n := notice(t, st, u, connection.NoticeExpiring); n.SentAt.IsZero() {
		t.Error("not marked sent")
	}
}

// A sender that claimed a notice and crashed before sending holds it until
// its claim lapses; then another run sends it.
func TestCrashedClaimLapses(t *testing.T) {
	st, out := memstore.New(), memmail.New()
	u := userConn()
	n := connection.Notice{Account: account, UserID: bob.UserID, ID: connection.NoticeID(u.Key, connection.NoticeExpiring, 0),
		Vendor: "servicenow", Level: connection.LevelUser, Kind: connection.NoticeExpiring, Email: bob.Email,
		Message: "m", Connection: u.Key, CreatedAt: now}
	if _, _, err := st.CreateNotice(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	if err := st.ClaimNotice(t.Context(), account, bob.UserID, n.ID, "crashed", now, now.Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ensure(t, sender(st, out, "run-2"), u, connection.NoticeExpiring, now.Add(time.Minute)) {
		t.Fatal("delivered while another run holds the claim")
	}
	wantEmails(t, out, 0)
	if !ensure(t, sender(st, out, "run-3"), u, connection.NoticeExpiring, now.Add(day)) {
		t.Fatal("not sent after the claim lapsed")
	}
	wantEmails(t, out, 1)
}

// failingMailer fails its next sends with a provider error.
type failingMailer struct {
	*memmail.Outbox
	mu   sync.Mutex
	fail int
}

func (f *failingMailer) Send(ctx context.Context, m mail.Message) error {
	f.mu.Lock()
	fail := f.fail > 0
	if fail {
		f.fail--
	}
	f.mu.Unlock()
	if fail {
		return errors.New("provider unavailable")
	}
	return f.Outbox.Send(ctx, m)
}

// A failed send is an error, leaves the notice unsent and unclaimed: the
// next run retries it (even at the same scan time).
func TestSendFailure(t *testing.T) {
	st := memstore.New()
	m := &failingMailer{Outbox: memmail.New(), fail: 1}
	u := userConn()
	if _, err := sender(st, m, "run-1").Ensure(t.Context(), mustVendor(t, "servicenow"), u, connection.NoticeExpiring, now); err == nil {
		t.Fatal("a failed send reported no error")
	}
	if n := notice(t, st, u, connection.NoticeExpiring); !n.SentAt.IsZero() {
		t.Fatal("marked sent")
	}
	if !ensure(t, sender(st, m, "run-2"), u, connection.NoticeExpiring, now) {
		t.Fatal("not retried")
	}
	wantEmails(t, m.Outbox, 1)
}

// A rejected address will not get better: the notice counts as delivered
// (in-app only) and is not retried.
func TestRejectedAddress(t *testing.T) {
	st, out := memstore.New(), memmail.New()
	u := userConn()
	u.ConnectedBy.Email = "not an address"
	if !ensure(t, sender(st, out, "run-1"), u, connection.NoticeDisconnected, now) {
		t.Fatal("a rejected notice is retried")
	}
	wantEmails(t, out, 0)
	if n := notice(t, st, u, connection.NoticeDisconnected); n.SentAt.IsZero() {
		t.Fatal("not recorded as done")
	}
	if ns := listed(t, st, bob.UserID); len(ns) != 1 {
		t.Fatalf("in-app notice missing: %+v", ns)
	}
}

// Without an address the notice is in-app only.
func TestNoAddress(t *testing.T) {
	st, out := memstore.New(), memmail.New()
	u := userConn()
	u.ConnectedBy.Email = ""
	if !ensure(t, sender(st, out, "run-1"), u, connection.NoticeDisconnected, now) {
		t.Fatal("not delivered")
	}
	wantEmails(t, out, 0)
	if ns := listed(t, st, bob.UserID); len(ns) != 1 || ns[0].Kind != connection.NoticeDisconnected {
		t.Fatalf("in-app notice = %+v", ns)
	}
}

// A sender without a clock reads the real one instead of failing.
func TestZeroClock(t *testing.T) {
	st := memstore.New()
	m := &quotaMailer{Outbox: memmail.New()}
	m.set(0, 1000) // no rate limit: nothing to wait for
	s := &notices.Sender{Store: st, Mailer: m, Links: links, Owner: "run-1"}
	u, a := userConn(), appConn()
	if !ensure(t, s, u, connection.NoticeExpiring, now) || !ensure(t, s, a, connection.NoticeExpiring, now) {
		t.Fatal("not delivered")
	}
	wantEmails(t, m.Outbox, 2)
}

// One run's sender shared by many workers (as the scan's do), each notice
// ensured by two of them at once: every notice is emailed exactly once and
// marked sent, and the daily quota is counted across the workers.
func TestOneSenderManyWorkers(t *testing.T) {
	const conns, quota = 300, 250
	st := memstore.New()
	out := memmail.New(memmail.WithQuota(1000, quota))
	s := sender(st, out, "").ForRun("run-1")
	var cs []connection.Connection
	for i := range conns {
		c := userConn()
		c.Key.UserID = fmt.Sprintf("u-%03d", i)
		c.ConnectedBy = connection.Person{UserID: c.Key.UserID, Email: c.Key.UserID + "@example.org"}
		cs = append(cs, c, c) // each twice
	}
	work := make(chan connection.Connection)
	delivered := make([]int, 16)
	var wg sync.WaitGroup
	for w := range delivered {
		wg.Go(func() {
			for c := range work {
				ok, err := s.Ensure(context.Background(), mustVendor(t, "servicenow"), c, connection.NoticeExpiring, now)
				if err != nil {
					t.Error(err)
				}
				if ok {
					delivered[w]++
				}
			}
		})
	}
	for _, c := range cs {
		work <- c
	}
	close(work)
	wg.Wait()

	msgs := wantEmails(t, out, quota) // the quota stops the rest
	seen := map[string]bool{}
	for _, m := range msgs {
		if seen[m.To[0]] {
			t.Fatalf("%s emailed twice", m.To[0])
		}
		seen[m.To[0]] = true
	}
	sent := 0
	for i := range conns {
		n := notice(t, st, cs[2*i], connection.NoticeExpiring)
		if !n.SentAt.IsZero() {
			sent++
			if !seen[n.Email] {
				t.Errorf("%s marked sent without an email", n.Email)
			}
		}
	}
	total := 0
	for _, d := range delivered {
		total += d
	}
	// Both workers of a delivered notice report it delivered.
	if sent != quota || total != 2*quota {
		t.Fatalf("%d notices marked sent, %d deliveries reported; want %d and %d", sent, total, quota, 2*quota)
	}
}
