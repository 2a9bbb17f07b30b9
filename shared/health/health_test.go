package health_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/health"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/mail/memmail"
	"github.com/workplace/connections/shared/notices"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
)

const account = "acct-1"

var (
	t0     = time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)
	bob    = connection.Person{UserID: "u-bob", Email: "bob@example.org", Name: "Bob"}
	broker = connection.Actor{Type: connection.ActorBroker, ID: "arn:aws:iam::123456789012:role/search-connector"}
)

// world is a store with bob's live ServiceNow user connection (and the
// app connection above it), a mail outbox and a reaper over them.
type world struct {
	t      *testing.T
	st     *memstore.Store
	outbox *memmail.Outbox
	reaper *health.Reaper
	key    connection.Key
}

func newWorld(t *testing.T, m func(*memmail.Outbox) mail.Mailer) *world {
	t.Helper()
	w := &world{t: t, st: memstore.New(), outbox: memmail.New(), key: connection.UserKey(account, "servicenow", bob.UserID)}
	var mailer mail.Mailer = w.outbox
	if m != nil {
		mailer = m(w.outbox)
	}
	w.reaper = &health.Reaper{Store: w.st, Notices: &notices.Sender{
		Store: w.st, Mailer: mailer, Links: notices.Links{FrontendURL: "https://app.example.com", UserReconnectPath: "/me", AppReconnectPath: "/apps"},
		Clock: time.Now, Wait: func(time.Duration) {},
	}}
	app := connection.Connection{Key: connection.AppKey(account, "servicenow"), ID: "c-app", ConnectedBy: bob}
	user := connection.Connection{Key: w.key, ID: "c-bob", ConnectedBy: bob, Generation: 2,
		RefreshTokenExpiresAt: t0.Add(5 * 24 * time.Hour), NextCheckAt: t0.Add(24 * time.Hour), CreatedAt: t0.Add(-90 * 24 * time.Hour)}
	err := w.st.Apply(t.Context(), store.CreateConnection{Conn: app}, store.CreateConnection{Conn: user},
		store.AdjustCounts{Account: account, Vendor: "servicenow", Total: 1, Connected: 1})
	if err != nil {
		t.Fatal(err)
	}
	// The warning of this generation was sent already.
	warning := connection.Notice{Account: account, UserID: bob.UserID, ID: connection.NoticeID(w.key, connection.NoticeExpiring, 2),
		Vendor: "servicenow", Level: connection.LevelUser, Kind: connection.NoticeExpiring, Connection: w.key, Generation: 2, CreatedAt: t0.Add(-time.Hour)}
	if _, _, err := w.st.CreateNotice(t.Context(), warning); err != nil {
		t.Fatal(err)
	}
	return w
}

// leased takes the connection's lease as a finder does.
func (w *world) leased(owner string) connection.Connection {
	w.t.Helper()
	c, err := w.st.AcquireLease(w.t.Context(), w.key, owner, t0, t0.Add(5*time.Minute))
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) conn() connection.Connection {
	w.t.Helper()
	c, err := w.st.GetConnection(w.t.Context(), w.key)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) counts() connection.Counts {
	w.t.Helper()
	snap, err := w.st.Snapshot(w.t.Context(), account, "", []string{"servicenow"})
	if err != nil {
		w.t.Fatal(err)
	}
	return snap["servicenow"].Counts
}

func (w *world) audit() []connection.AuditEntry {
	w.t.Helper()
	es, _, err := w.st.ListAudit(w.t.Context(), account, "", "", 100)
	if err != nil {
		w.t.Fatal(err)
	}
	return es
}

func (w *world) notices() []connection.NoticeKind {
	w.t.Helper()
	ns, err := w.st.ListNotices(w.t.Context(), account, bob.UserID)
	if err != nil {
		w.t.Fatal(err)
	}
	var kinds []connection.NoticeKind
	for _, n := range ns {
		kinds = append(kinds, n.Kind)
	}
	return kinds
}

var refused = health.Death{Reason: health.ReasonRefused, Message: "refresh refused by the vendor", DetectedBy: health.DetectedByBroker, Actor: broker}

// A grant the broker finds dead: marked, counted, audited with who found
// it and why, its warning superseded, its person told once — and a second
// finder changes nothing more.
func TestExpire(t *testing.T) {
	w := newWorld(t, nil)
	held := w.leased("broker-1")
	out, err := w.reaper.Expire(t.Context(), held, refused, t0)
	if err != nil {
		t.Fatal(err)
	}
	c := w.conn()
	if !out.Marked || !out.NoticeSent || out.NoticeErr != nil || !reflect.DeepEqual(out.Conn, c) {
		t.Fatalf("outcome %+v (stored %+v)", out, c)
	}
	if !c.Expired || !c.ExpiredAt.Equal(t0) || c.ExpiredReason != "refresh refused by the vendor" || !c.NextCheckAt.IsZero() ||
		c.LeaseOwner != "" || !c.LeaseUntil.IsZero() || !c.UpdatedAt.Equal(t0) {
		t.Fatalf("stored connection %+v", c)
	}
	if got := w.counts(); got != (connection.Counts{Total: 1, Connected: 0}) {
		t.Errorf("counts %+v", got)
	}
	if got := w.notices(); !reflect.DeepEqual(got, []connection.NoticeKind{connection.NoticeDisconnected}) {
		t.Errorf("notices %v: the warning is superseded by the disconnection", got)
	}
	msgs := w.outbox.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != bob.Email || msgs[0].Subject != "ServiceNow has been disconnected" {
		t.Fatalf("emails %+v", msgs)
	}
	es := w.audit()
	if len(es) != 2 {
		t.Fatalf("audit %+v", es)
	}
	sent, dead := es[0], es[1]
	if dead.Action != connection.AuditDisconnected || dead.Actor != broker || !dead.At.Equal(t0) || dead.Level != connection.LevelUser ||
		dead.UserID != bob.UserID || dead.ConnectionID != "c-bob" ||
		!reflect.DeepEqual(dead.Details, map[string]string{"reason": "refresh_refused", "detectedBy": "broker"}) {
		t.Errorf("disconnected entry %+v", dead)
	}
	if sent.Action != connection.AuditNoticeSent || sent.Actor != broker || !sent.At.Equal(t0) ||
		!reflect.DeepEqual(sent.Details, map[string]string{"kind": "disconnected", "recipients": "1"}) {
		t.Errorf("noticeSent entry %+v", sent)
	}

	// Found dead again (another finder, later): nothing more.
	again, err := w.reaper.Expire(t.Context(), w.leased("check-1"), health.Death{Reason: health.ReasonRefused, DetectedBy: health.DetectedByCheck,
		Actor: connection.UserActor(bob.UserID)}, t0.Add(time.Minute))
	if err != nil || again.Marked || !again.NoticeSent {
		t.Fatalf("second finding: %+v, %v", again, err)
	}
	if c := w.conn(); !c.ExpiredAt.Equal(t0) || c.LeaseOwner != "" || !c.NextCheckAt.IsZero() {
		t.Errorf("after the second finding: %+v", c)
	}
	if got := w.counts(); got.Connected != 0 {
		t.Errorf("counts moved twice: %+v", got)
	}
	if n := len(w.outbox.Messages()); n != 1 {
		t.Errorf("%d emails after the second finding", n)
	}
	if n := len(w.audit()); n != 2 {
		t.Errorf("%d audit entries after the second finding", n)
	}
}

// Only a connection held under its lease is expired.
func TestExpireNeedsTheLease(t *testing.T) {
	w := newWorld(t, nil)
	before := w.conn()
	if _, err := w.reaper.Expire(t.Context(), before, refused, t0); err == nil {
		t.Fatal("expired a connection nobody holds")
	}
	if got := w.conn(); !reflect.DeepEqual(got, before) || len(w.audit()) != 0 || len(w.outbox.Messages()) != 0 {
		t.Fatalf("changed: %+v", got)
	}
}

// A mark that cannot be stored (the connection moved) sends nothing and
// records nothing.
func TestExpireMarkFails(t *testing.T) {
	w := newWorld(t, nil)
	held := w.leased("broker-1")
	held.Version-- // someone else's write came first
	_, err := w.reaper.Expire(t.Context(), held, refused, t0)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("err %v, want a conflict", err)
	}
	if c := w.conn(); c.Expired || c.LeaseOwner != "broker-1" {
		t.Fatalf("after a failed mark: %+v", c)
	}
	if len(w.audit()) != 0 || len(w.outbox.Messages()) != 0 || w.counts().Connected != 1 {
		t.Fatal("a failed mark left traces")
	}
}

// downMailer fails every send.
type downMailer struct{ *memmail.Outbox }

func (downMailer) Send(context.Context, mail.Message) error { return errors.New("mail provider down") }

// A notice that cannot go out does not hold up the mark: the connection is
// expired and stays due for the scan to send it.
func TestExpireMailDown(t *testing.T) {
	w := newWorld(t, func(o *memmail.Outbox) mail.Mailer { return downMailer{o} })
	out, err := w.reaper.Expire(t.Context(), w.leased("broker-1"), refused, t0)
	if err != nil || !out.Marked || out.NoticeSent || out.NoticeErr == nil {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	c := w.conn()
	if !c.Expired || !c.NextCheckAt.Equal(t0) || c.LeaseOwner != "" {
		t.Fatalf("stored %+v: want expired, due now, lease released", c)
	}
	if es := w.audit(); len(es) != 1 || es[0].Action != connection.AuditDisconnected {
		t.Fatalf("audit %+v", es)
	}
}

// However many finders race one dead connection (each taking the lease in
// turn), it is marked once and its person gets one email.
func TestExpireRacingFinders(t *testing.T) {
	w := newWorld(t, nil)
	var wg sync.WaitGroup
	marked := make([]bool, 8)
	for i := range marked {
		wg.Go(func() {
			c, err := w.st.AcquireLease(t.Context(), w.key, fmt.Sprintf("finder-%d", i), t0, t0.Add(5*time.Minute))
			if errors.Is(err, store.ErrConflict) {
				return // held by another finder
			}
			if err != nil {
				t.Error(err)
				return
			}
			out, err := w.reaper.Expire(t.Context(), c, refused, t0)
			if err != nil {
				t.Error(err)
			}
			marked[i] = out.Marked
		})
	}
	wg.Wait()
	n := 0
	for _, m := range marked {
		if m {
			n++
		}
	}
	if n != 1 || len(w.outbox.Messages()) != 1 || len(w.audit()) != 2 || w.counts().Connected != 0 {
		t.Fatalf("marked %d times, %d emails, %d entries, counts %+v", n, len(w.outbox.Messages()), len(w.audit()), w.counts())
	}
}
