// Package notices tells people about connections that are about to die or
// have died: one in-app notice and one email per connection, kind and token
// generation, through an outbox (record, claim, send, mark sent) so that
// concurrent or crashed runs neither lose nor repeat a notice.
package notices

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/logctx"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vendors"
)

// Links say where people reconnect.
type Links struct {
	FrontendURL       string
	UserReconnectPath string // the profile's External apps page
	AppReconnectPath  string // the app's integrations page
}

// URL is where the recipient of a notice about a connection reconnects.
func (l Links) URL(level connection.Level) string {
	p := l.AppReconnectPath
	if level == connection.LevelUser {
		p = l.UserReconnectPath
	}
	return strings.TrimRight(l.FrontendURL, "/") + "/" + strings.TrimLeft(p, "/")
}

// Message is the in-app text of a notice (the seed's wording for a disconnection).
func Message(v vendors.Vendor, kind connection.NoticeKind, expiresAt time.Time) string {
	if kind == connection.NoticeDisconnected {
		return fmt.Sprintf("%s has unexpectedly been disconnected. Please reconnect your %s account.", v.Name, v.Name)
	}
	return fmt.Sprintf("%s will be disconnected on %s. Please reconnect your %s account before then.",
		v.Name, expiresAt.UTC().Format("2 January 2006"), v.Name)
}

// Email is the email of a notice.
func Email(v vendors.Vendor, n connection.Notice, link string) mail.Message {
	subject := v.Name + " has been disconnected"
	if n.Kind == connection.NoticeExpiring {
		subject = v.Name + " will soon be disconnected"
	}
	where := "your profile's External apps page"
	if n.Level == connection.LevelApp {
		where = "the " + v.Name + " integration page"
	}
	text := n.Message + "\n\nReconnect on " + where + ": " + link + "\n"
	h := "<p>" + html.EscapeString(n.Message) + "</p>\n<p><a href=\"" + html.EscapeString(link) + "\">Reconnect " +
		html.EscapeString(v.Name) + "</a> on " + html.EscapeString(where) + ".</p>\n"
	return mail.Message{To: []string{n.Email}, Subject: subject, Text: text, HTML: h}
}

// Sender sends notices through the outbox, at the mail provider's pace.
// Its pacing and quota state belong to one run: each run (each scan) takes
// its own with ForRun, so that concurrent runs claim notices under distinct
// owners and a quota spent or a throttle met by one run does not silence
// the next. A run's sender is safe for concurrent use by that run's
// workers: sends are paced and counted against the quota across all of
// them, and Ensure calls for one notice take turns (the claim is the
// run's, so two of its workers could otherwise both hold it).
type Sender struct {
	Store  store.Store
	Mailer mail.Mailer
	Links  Links
	Owner  string           // this run's claim owner
	Clock  func() time.Time // real time, for pacing sends
	Wait   func(time.Duration)
	Log    *slog.Logger
	// Actor is who the audit entries of this sender's work name (the
	// expiring notice coming due, each notice sent): the scan, or whoever
	// found a grant dead. Zero: the scan.
	Actor connection.Actor
	// AuditRetention is how long those entries are kept (default
	// connection.DefaultAuditRetention).
	AuditRetention time.Duration

	once     sync.Once
	interval time.Duration
	// pace guards the pacing and quota state below; it is held across a
	// wait for the next send's turn, so sends go out one interval apart
	// whichever worker makes them.
	pace    sync.Mutex
	left    float64 // sends left in the 24-hour quota
	last    time.Time
	stopped bool // throttled or out of quota: no more sends this run

	// inFlight holds, for each notice an Ensure of this sender is working
	// on, a channel closed when it is done.
	mu       sync.Mutex
	inFlight map[string]chan struct{}
}

// ForRun returns a sender with this one's configuration, owner as its
// claim owner, and fresh pacing and quota state.
func (s *Sender) ForRun(owner string) *Sender {
	return &Sender{Store: s.Store, Mailer: s.Mailer, Links: s.Links, Owner: owner, Clock: s.Clock, Wait: s.Wait, Log: s.Log,
		Actor: s.Actor, AuditRetention: s.AuditRetention}
}

// ForActor is ForRun for a run whose audit entries name actor.
func (s *Sender) ForActor(owner string, actor connection.Actor) *Sender {
	r := s.ForRun(owner)
	r.Actor = actor
	return r
}

func (s *Sender) actor() connection.Actor {
	if s.Actor.Type == "" {
		return connection.ScanActor()
	}
	return s.Actor
}

// Ensure makes sure the notice of kind for the connection exists and its
// email went out. It reports whether the notice is fully delivered; false
// means a later run must try again (the record stays, unsent).
func (s *Sender) Ensure(ctx context.Context, v vendors.Vendor, c connection.Connection, kind connection.NoticeKind, now time.Time) (bool, error) {
	to := c.NoticeRecipient()
	n := connection.Notice{
		Account:    c.Account,
		UserID:     to.UserID,
		ID:         connection.NoticeID(c.Key, kind, c.Generation),
		Vendor:     c.Vendor,
		Level:      c.Level,
		Kind:       kind,
		Message:    Message(v, kind, c.HardExpiry(v.Refresh.Extendable())),
		Email:      to.Email,
		Connection: c.Key,
		Generation: c.Generation,
		CreatedAt:  now,
	}
	done, err := s.turn(ctx, n.Account+"\x00"+n.UserID+"\x00"+n.ID)
	if err != nil {
		return false, err
	}
	defer done()
	stored, err := s.record(ctx, v, c, n)
	if err != nil {
		return false, err
	}
	if !stored.SentAt.IsZero() {
		return true, nil
	}
	if err := s.Store.ClaimNotice(ctx, n.Account, n.UserID, n.ID, s.Owner, now, now.Add(claimFor)); err != nil {
		if errors.Is(err, store.ErrConflict) {
			// Someone else is sending it, or just did.
			cur, gerr := s.Store.GetNotice(ctx, n.Account, n.UserID, n.ID)
			return gerr == nil && !cur.SentAt.IsZero(), nil
		}
		return false, err
	}
	emailed := false
	sent := map[string]string{"kind": string(kind), "recipients": "0"}
	if stored.Email != "" {
		if !s.maySend(ctx) {
			s.release(ctx, n, now)
			return false, nil
		}
		err := s.Mailer.Send(ctx, Email(v, stored, s.Links.URL(stored.Level)))
		emailed = err == nil
		if errors.Is(err, mail.ErrThrottled) {
			s.stop()
			s.log(ctx).WarnContext(ctx, "mail throttled; the rest waits for the next run")
			s.release(ctx, n, now)
			return false, nil
		}
		if errors.Is(err, mail.ErrRejected) {
			// A bad address will not get better: record it as done, loudly.
			s.log(ctx).ErrorContext(ctx, "notice email rejected", "connection", c.Key.String(), "kind", string(kind), "error", err.Error())
			sent["emailRejected"] = "true"
		} else if err != nil {
			s.release(ctx, n, now)
			return false, fmt.Errorf("send notice: %w", err)
		} else {
			sent["recipients"] = "1"
		}
	} else {
		s.log(ctx).WarnContext(ctx, "no email address for the notice; in-app only", "connection", c.Key.String(), "kind", string(kind))
	}
	// Marked sent by the claim's owner, with its audit entry, in one
	// transaction: one noticeSent entry per notice.
	entry := connection.NewAudit(c, connection.AuditNoticeSent, s.actor(), now, s.AuditRetention, sent)
	if err := s.Store.Apply(ctx, store.NoticeSent{Account: n.Account, UserID: n.UserID, ID: n.ID, Owner: s.Owner, At: now},
		store.AppendAudit{Entry: entry}); err != nil {
		if emailed {
			// The outbox's at-least-once edge: the next run sends it again.
			return false, fmt.Errorf("email sent but not marked sent, so it may go out again: %w", err)
		}
		return false, err
	}
	s.log(ctx).InfoContext(ctx, "notice sent", "account", c.Account, "vendor", c.Vendor, "flow", string(c.Level), "kind", string(kind))
	return true, nil
}

// turn waits until no other Ensure of this sender works on the notice
// named id, and takes it; done gives it up.
func (s *Sender) turn(ctx context.Context, id string) (done func(), err error) {
	for {
		s.mu.Lock()
		busy, ok := s.inFlight[id]
		if !ok {
			if s.inFlight == nil {
				s.inFlight = map[string]chan struct{}{}
			}
			ch := make(chan struct{})
			s.inFlight[id] = ch
			s.mu.Unlock()
			return func() {
				s.mu.Lock()
				delete(s.inFlight, id)
				s.mu.Unlock()
				close(ch)
			}, nil
		}
		s.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// stop ends the sending for this run.
func (s *Sender) stop() {
	s.pace.Lock()
	s.stopped = true
	s.pace.Unlock()
}

// record stores the notice unless it exists, and returns the stored one.
// The expiring notice coming due is on the audit timeline: its entry is
// written with the notice, in one transaction, so there is one per
// connection and token generation however often the scan looks.
func (s *Sender) record(ctx context.Context, v vendors.Vendor, c connection.Connection, n connection.Notice) (connection.Notice, error) {
	if n.Kind != connection.NoticeExpiring {
		stored, _, err := s.Store.CreateNotice(ctx, n)
		return stored, err
	}
	details := map[string]string{}
	if h := c.HardExpiry(v.Refresh.Extendable()); !h.IsZero() {
		details["expiresAt"] = h.UTC().Format(time.RFC3339)
	}
	entry := connection.NewAudit(c, connection.AuditExpiring, s.actor(), n.CreatedAt, s.AuditRetention, details)
	err := s.Store.Apply(ctx, store.AddNotice{Notice: n}, store.AppendAudit{Entry: entry})
	if errors.Is(err, store.ErrConflict) {
		return s.Store.GetNotice(ctx, n.Account, n.UserID, n.ID) // recorded before
	}
	if err != nil {
		return connection.Notice{}, err
	}
	return n, nil
}

// claimFor is how long a claim to send a notice lasts (on the scan's
// clock): a sender that crashed between claim and send holds it this long.
const claimFor = 15 * time.Minute

// release gives up a claim whose email was not sent (throttled, out of
// quota, failed), so that the next run retries it even at the same scan
// time: a claim lasting only until now is free to anyone at now.
func (s *Sender) release(ctx context.Context, n connection.Notice, now time.Time) {
	if err := s.Store.ClaimNotice(ctx, n.Account, n.UserID, n.ID, s.Owner, now, now); err != nil {
		s.log(ctx).WarnContext(ctx, "could not release the notice claim; it lapses", "error", err.Error())
	}
}

// maySend paces sends to the provider's rate and stops at its daily quota.
func (s *Sender) maySend(ctx context.Context) bool {
	s.once.Do(func() {
		s.left = -1
		q, err := s.Mailer.Quota(ctx)
		if err != nil {
			s.log(ctx).WarnContext(ctx, "could not read the mail quota; sending at one per second", "error", err.Error())
			s.interval = time.Second
			return
		}
		if q.MaxPerSecond > 0 {
			s.interval = time.Duration(float64(time.Second) / q.MaxPerSecond)
		}
		s.left = q.Remaining24h
	})
	s.pace.Lock()
	defer s.pace.Unlock()
	if s.stopped || s.left == 0 || (s.left > 0 && s.left < 1) {
		return false
	}
	clock, wait := s.Clock, s.Wait
	if clock == nil {
		clock = time.Now
	}
	if wait == nil {
		wait = time.Sleep
	}
	if s.interval > 0 && !s.last.IsZero() {
		if d := s.interval - clock().Sub(s.last); d > 0 {
			wait(d)
		}
	}
	s.last = clock()
	if s.left > 0 {
		s.left--
	}
	return true
}

// log is the request's logger (logctx: its lines carry the request id and
// whose request it is), else the sender's own.
func (s *Sender) log(ctx context.Context) *slog.Logger {
	return logctx.From(ctx, s.Log)
}
