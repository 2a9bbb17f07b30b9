package memmail_test

import (
	"context"
	"errors"
	"testing"

	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/mail/mailtest"
	"github.com/workplace/connections/shared/mail/memmail"
)

const sender = "noreply@connections.example"

func TestContract(t *testing.T) {
	mailtest.Run(t, func(t *testing.T, verified bool) (mail.Mailer, func() []mail.Message) {
		from := sender
		if !verified {
			from = "intruder@elsewhere.example"
		}
		o := memmail.New(memmail.From(from), memmail.VerifiedSenders(sender))
		return o, o.Messages
	})
}

func TestDomainIdentityCoversItsAddresses(t *testing.T) {
	ctx := context.Background()
	msg := mail.Message{To: []string{"ada@acme.example"}, Subject: "s", HTML: "<p>h</p>"}
	ok := memmail.New(memmail.From("Connections <alerts@connections.example>"), memmail.VerifiedSenders("connections.example"))
	if err := ok.Send(ctx, msg); err != nil {
		t.Fatalf("Send from a verified domain: %v", err)
	}
	bad := memmail.New(memmail.From("alerts@sub.connections.example"), memmail.VerifiedSenders("connections.example"))
	if err := bad.Send(ctx, msg); !errors.Is(err, mail.ErrRejected) {
		t.Fatalf("Send from another domain = %v, want ErrRejected", err)
	}
	if err := memmail.New().Send(ctx, msg); err != nil {
		t.Fatalf("Send with no verified senders configured: %v", err)
	}
}

func TestThrottleNext(t *testing.T) {
	ctx := context.Background()
	o := memmail.New()
	o.ThrottleNext(2)
	msg := mail.Message{To: []string{"ada@acme.example"}, Subject: "s", Text: "t"}
	for i := range 2 {
		if err := o.Send(ctx, msg); !errors.Is(err, mail.ErrThrottled) {
			t.Fatalf("send %d = %v, want ErrThrottled", i, err)
		}
	}
	if err := o.Send(ctx, msg); err != nil {
		t.Fatalf("send after the throttled ones: %v", err)
	}
	if got := o.Messages(); len(got) != 1 || got[0].Text != "t" {
		t.Fatalf("Messages() = %+v, want the one message that went through", got)
	}
}

func TestQuotaCountsRecipients(t *testing.T) {
	ctx := context.Background()
	o := memmail.New(memmail.WithQuota(2, 3))
	if err := o.Send(ctx, mail.Message{To: []string{"a@x.example", "b@x.example"}, Subject: "s"}); err != nil {
		t.Fatal(err)
	}
	q, _ := o.Quota(ctx)
	if q.MaxPerSecond != 2 || q.Remaining24h != 1 {
		t.Fatalf("Quota() = %+v, want 2/s and 1 left", q)
	}
}

func TestMessagesAreCopies(t *testing.T) {
	o := memmail.New()
	to := []string{"a@x.example"}
	if err := o.Send(context.Background(), mail.Message{To: to, Subject: "s"}); err != nil {
		t.Fatal(err)
	}
	to[0] = "changed@x.example"
	o.Messages()[0].To[0] = "changed@x.example"
	if got := o.Messages()[0].To[0]; got != "a@x.example" {
		t.Fatalf("stored recipient changed to %q", got)
	}
}
