// Package mailtest is the contract every mail.Mailer must meet. Run it
// against each implementation (memmail, sesmail on moto) so that the
// in-memory twin and the real adapter cannot drift apart.
package mailtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/workplace/connections/shared/mail"
)

// Factory returns a fresh Mailer for one subtest, and a function listing
// the messages that Mailer delivered, oldest first. verifiedSender says
// whether the Mailer's sender must be one the provider accepts (with SES:
// a verified identity); with false, every Send must fail with
// mail.ErrRejected. Mailers from different calls must not see each other's
// messages (with SES on one server: use a unique sender per call).
type Factory func(t *testing.T, verifiedSender bool) (m mail.Mailer, delivered func() []mail.Message)

// Run runs the contract as subtests.
//
// Delivered messages are compared on To, Subject and HTML. Text is compared
// only when the backend reports it: moto's SES keeps only the HTML body of a
// message that has both, so its delivered list has no Text (the text body's
// sending is covered by sesmail's own tests).
func Run(t *testing.T, newMailer Factory) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newMailer) })
	}
}

// Cases is the number of subtests Run runs.
func Cases() int { return len(cases) }

var cases = []struct {
	name string
	fn   func(*testing.T, Factory)
}{
	{"MessageArrives", messageArrives},
	{"MultipleRecipients", multipleRecipients},
	{"MessagesInOrder", messagesInOrder},
	{"QuotaHasPositiveRate", quotaHasPositiveRate},
	{"UnverifiedSenderRejected", unverifiedSenderRejected},
	{"NoRecipientsRejected", noRecipientsRejected},
	{"MalformedRecipientRejected", malformedRecipientRejected},
	{"TooManyRecipientsRejected", tooManyRecipientsRejected},
}

func notice(to ...string) mail.Message {
	return mail.Message{
		To:      to,
		Subject: "ServiceNow expires soon — reconnect ✓",
		Text:    "Your ServiceNow connection expires on 30 January.\nReconnect: https://app.example.com/profile/external-apps",
		HTML:    `<p>Your ServiceNow connection expires on 30 January. <a href="https://app.example.com/profile/external-apps">Reconnect</a> — ✓</p>`,
	}
}

func messageArrives(t *testing.T, f Factory) {
	m, delivered := f(t, true)
	want := notice("ada@acme.example")
	send(t, m, want)
	expectDelivered(t, delivered(), want)
}

func multipleRecipients(t *testing.T, f Factory) {
	m, delivered := f(t, true)
	want := notice("ada@acme.example", "Bob Builder <bob@acme.example>", "carol@other.example")
	send(t, m, want)
	expectDelivered(t, delivered(), want)
}

func messagesInOrder(t *testing.T, f Factory) {
	m, delivered := f(t, true)
	first, second := notice("ada@acme.example"), notice("bob@acme.example")
	second.Subject = "Confluence has unexpectedly been disconnected"
	second.HTML = "<p>Please reconnect your Confluence account.</p>"
	send(t, m, first)
	send(t, m, second)
	expectDelivered(t, delivered(), first, second)
}

func quotaHasPositiveRate(t *testing.T, f Factory) {
	m, _ := f(t, true)
	q, err := m.Quota(context.Background())
	if err != nil {
		t.Fatalf("Quota: %v", err)
	}
	if q.MaxPerSecond <= 0 {
		t.Errorf("Quota().MaxPerSecond = %v, want > 0", q.MaxPerSecond)
	}
	if q.Remaining24h < 0 {
		t.Errorf("Quota().Remaining24h = %v, want >= 0", q.Remaining24h)
	}
}

func unverifiedSenderRejected(t *testing.T, f Factory) {
	m, delivered := f(t, false)
	expectRejected(t, m, notice("ada@acme.example"))
	expectDelivered(t, delivered())
}

func noRecipientsRejected(t *testing.T, f Factory) {
	m, delivered := f(t, true)
	expectRejected(t, m, notice())
	expectDelivered(t, delivered())
}

func malformedRecipientRejected(t *testing.T, f Factory) {
	m, delivered := f(t, true)
	expectRejected(t, m, notice("ada@acme.example", "not-an-address"))
	expectDelivered(t, delivered())
}

func tooManyRecipientsRejected(t *testing.T, f Factory) {
	m, delivered := f(t, true)
	var to []string
	for i := range 51 { // SES takes at most 50 per message
		to = append(to, fmt.Sprintf("user%d@acme.example", i))
	}
	expectRejected(t, m, notice(to...))
	expectDelivered(t, delivered())
}

func send(t *testing.T, m mail.Mailer, msg mail.Message) {
	t.Helper()
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send(%q to %v): %v", msg.Subject, msg.To, err)
	}
}

func expectRejected(t *testing.T, m mail.Mailer, msg mail.Message) {
	t.Helper()
	err := m.Send(context.Background(), msg)
	if !errors.Is(err, mail.ErrRejected) || errors.Is(err, mail.ErrThrottled) {
		t.Fatalf("Send(to %d recipients) = %v, want mail.ErrRejected", len(msg.To), err)
	}
}

func expectDelivered(t *testing.T, got []mail.Message, want ...mail.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("delivered %d messages %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !slices.Equal(g.To, w.To) {
			t.Errorf("message %d: To = %q, want %q", i, g.To, w.To)
		}
		if g.Subject != w.Subject {
			t.Errorf("message %d: Subject = %q, want %q", i, g.Subject, w.Subject)
		}
		if g.HTML != w.HTML {
			t.Errorf("message %d: HTML = %q, want %q", i, g.HTML, w.HTML)
		}
		if g.Text != "" && g.Text != w.Text {
			t.Errorf("message %d: Text = %q, want %q", i, g.Text, w.Text)
		}
	}
}
