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
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vendor"
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
func Message(v vendor.Vendor, kind connection.NoticeKind, expiresAt time.Time) string {
	if kind == connection.NoticeDisconnected {
		return fmt.Sprintf("%s has unexpectedly been disconnected. Please reconnect your %s account.", v.Name, v.Name)
	}
	return fmt.Sprintf("%s will be disconnected on %s. Please reconnect your %s account before then.",
		v.Name, expiresAt.UTC().Format("2 January 2006"), v.Name)
}

// Email is the email of a notice.
func Email(v vendor.Vendor, n connection.Notice, link string) mail.Message {
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
type Sender struct {
	Store  store.Store
	Mailer mail.Mailer
	Links  Links
	Owner  string           // this run's claim owner
	Clock  func() time.Time // real time, for pacing sends
	Wait   func(time.Duration)
	Log    *slog.Logger

	once     sync.Once
	interval time.Duration
	left     float64 // sends left in the 24-hour quota
	last     time.Time
	stopped  bool // throttled or out of quota: no more sends this run
}

// Ensure makes sure the notice of kind for the connection exists and its
// email went out. It reports whether the notice is fully delivered; false
// means a later run must try again (the record stays, unsent).
func (s *Sender) Ensure(ctx context.Context, v vendor.Vendor, c connection.Connection, kind connection.NoticeKind, now time.Time) (bool, error) {
	to := c.NoticeRecipient()
	n := connection.Notice{
		Account:    c.Account,
		UserID:     to.UserID,
		ID:         connection.NoticeID(c.Key, kind, c.Generation),
		Vendor:     c.Vendor,
		Level:      c.Level,
		Kind:       kind,
		Message:    Message(v, kind, c.HardExpiry(v.Refresh.Rotating)),
		Email:      to.Email,
		Connection: c.Key,
		Generation: c.Generation,
		CreatedAt:  now,
	}
	stored, _, err := s.Store.CreateNotice(ctx, n)
	if err != nil {
		return false, err
	}
	if !stored.SentAt.IsZero() {
		return true, nil
	}
	if err := s.Store.ClaimNotice(ctx, n.Account, n.UserID, n.ID, s.Owner, now, now.Add(15*time.Minute)); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return false, nil // someone else is sending it, or just did
		}
		return false, err
	}
	if stored.Email != "" {
		if !s.maySend(ctx) {
			return false, nil
		}
		err := s.Mailer.Send(ctx, Email(v, stored, s.Links.URL(stored.Level)))
		if errors.Is(err, mail.ErrThrottled) {
			s.stopped = true
			s.log().WarnContext(ctx, "mail throttled; the rest waits for the next run")
			return false, nil
		}
		if errors.Is(err, mail.ErrRejected) {
			// A bad address will not get better: record it as done, loudly.
			s.log().ErrorContext(ctx, "notice email rejected", "connection", c.Key.String(), "kind", string(kind), "error", err.Error())
		} else if err != nil {
			return false, fmt.Errorf("send notice: %w", err)
		}
	} else {
		s.log().WarnContext(ctx, "no email address for the notice; in-app only", "connection", c.Key.String(), "kind", string(kind))
	}
	if err := s.Store.MarkNoticeSent(ctx, n.Account, n.UserID, n.ID, s.Owner, now); err != nil {
		return false, err
	}
	s.log().InfoContext(ctx, "notice sent", "account", c.Account, "vendor", c.Vendor, "level", string(c.Level), "kind", string(kind))
	return true, nil
}

// maySend paces sends to the provider's rate and stops at its daily quota.
func (s *Sender) maySend(ctx context.Context) bool {
	s.once.Do(func() {
		s.left = -1
		q, err := s.Mailer.Quota(ctx)
		if err != nil {
			s.log().WarnContext(ctx, "could not read the mail quota; sending at one per second", "error", err.Error())
			s.interval = time.Second
			return
		}
		if q.MaxPerSecond > 0 {
			s.interval = time.Duration(float64(time.Second) / q.MaxPerSecond)
		}
		s.left = q.Remaining24h
	})
	if s.stopped || s.left == 0 || (s.left > 0 && s.left < 1) {
		return false
	}
	if s.interval > 0 && !s.last.IsZero() {
		if wait := s.interval - s.Clock().Sub(s.last); wait > 0 {
			s.Wait(wait)
		}
	}
	s.last = s.Clock()
	if s.left > 0 {
		s.left--
	}
	return true
}

func (s *Sender) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
