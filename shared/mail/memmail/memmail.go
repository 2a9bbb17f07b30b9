// Package memmail is the in-memory twin of sesmail: the mailer of local mode
// (GET /_local/outbox lists what it holds) and of tests. It refuses what SES
// refuses, so code that works here works on SES: a message without
// recipients or with more than 50, a malformed address, and, when verified
// senders are configured, a sender SES would not accept.
package memmail

import (
	"context"
	"fmt"
	netmail "net/mail"
	"slices"
	"strings"
	"sync"

	"github.com/workplace/connections/shared/mail"
)

// MaxRecipients is SES's limit of recipients per message.
const MaxRecipients = 50

// Outbox keeps sent messages in memory. It is safe for concurrent use.
type Outbox struct {
	mu       sync.Mutex
	from     string
	verified []string // SES-style identities: addresses or domains; nil = any sender
	sent     []mail.Message
	throttle int
	perSec   float64
	per24h   float64
}

var _ mail.Mailer = (*Outbox)(nil)

// Option configures an Outbox.
type Option func(*Outbox)

// From sets the sender address (what sesmail.New takes as from).
func From(addr string) Option { return func(o *Outbox) { o.from = addr } }

// VerifiedSenders restricts sending to senders covered by these identities,
// as SES does: an identity is an address ("noreply@acme.com") or a domain
// ("acme.com", covering every address at it). Sending from anything else
// fails with mail.ErrRejected. Without this option any sender is accepted.
func VerifiedSenders(identities ...string) Option {
	return func(o *Outbox) { o.verified = append(o.verified, identities...) }
}

// WithQuota sets the quota reported by Quota (the default is generous:
// 100 per second, 1,000,000 per 24 hours).
func WithQuota(perSecond, per24h float64) Option {
	return func(o *Outbox) { o.perSec, o.per24h = perSecond, per24h }
}

// New returns an empty outbox.
func New(opts ...Option) *Outbox {
	o := &Outbox{perSec: 100, per24h: 1_000_000}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// Send records m, or refuses it as SES would.
func (o *Outbox) Send(ctx context.Context, m mail.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.throttle > 0 {
		o.throttle--
		return fmt.Errorf("memmail: send: %w (simulated)", mail.ErrThrottled)
	}
	if o.verified != nil && !covered(o.verified, o.from) {
		return fmt.Errorf("memmail: send: %w: sender %q is not verified", mail.ErrRejected, o.from)
	}
	if err := checkRecipients(m.To); err != nil {
		return err
	}
	m.To = slices.Clone(m.To)
	o.sent = append(o.sent, m)
	return nil
}

func checkRecipients(to []string) error {
	switch {
	case len(to) == 0:
		return fmt.Errorf("memmail: send: %w: no recipients", mail.ErrRejected)
	case len(to) > MaxRecipients:
		return fmt.Errorf("memmail: send: %w: %d recipients, at most %d", mail.ErrRejected, len(to), MaxRecipients)
	}
	for i, a := range to {
		if _, err := netmail.ParseAddress(a); err != nil {
			return fmt.Errorf("memmail: send: %w: recipient %d: %v", mail.ErrRejected, i, err)
		}
	}
	return nil
}

func covered(identities []string, from string) bool {
	addr := from
	if a, err := netmail.ParseAddress(from); err == nil {
		addr = a.Address
	}
	_, domain, _ := strings.Cut(addr, "@")
	for _, id := range identities {
		if strings.EqualFold(id, addr) || (!strings.Contains(id, "@") && domain != "" && strings.EqualFold(id, domain)) {
			return true
		}
	}
	return false
}

// Quota reports the configured rate and what is left of the daily
// allowance after the recipients sent to so far.
func (o *Outbox) Quota(ctx context.Context) (mail.Quota, error) {
	if err := ctx.Err(); err != nil {
		return mail.Quota{}, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	sent := 0 // recipients sent to, as SES counts SentLast24Hours
	for _, m := range o.sent {
		sent += len(m.To)
	}
	return mail.Quota{MaxPerSecond: o.perSec, Remaining24h: max(0, o.per24h-float64(sent))}, nil
}

// Messages returns copies of the messages sent, oldest first.
func (o *Outbox) Messages() []mail.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]mail.Message, len(o.sent))
	for i, m := range o.sent {
		m.To = slices.Clone(m.To)
		out[i] = m
	}
	return out
}

// ThrottleNext makes the next n sends fail with mail.ErrThrottled (nothing
// is recorded for them), as SES does when the send rate is exceeded.
func (o *Outbox) ThrottleNext(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.throttle = n
}
