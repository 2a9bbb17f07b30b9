// Package sesmail is the Mailer on Amazon SES (API v1, SendEmail).
//
// Errors: SES's throttling ("Throttling": maximum sending rate or daily
// quota exceeded) wraps mail.ErrThrottled, so the caller retries later;
// MessageRejected, MailFromDomainNotVerifiedException and
// InvalidParameterValue (a malformed address) wrap mail.ErrRejected; both
// keep the SDK error in the chain (whose message may name the sender).
package sesmail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/aws/aws-sdk-go-v2/service/ses/types"
	"github.com/aws/smithy-go"

	"github.com/workplace/connections/shared/mail"
)

// Client is the part of *ses.Client the mailer uses.
type Client interface {
	SendEmail(context.Context, *ses.SendEmailInput, ...func(*ses.Options)) (*ses.SendEmailOutput, error)
	GetSendQuota(context.Context, *ses.GetSendQuotaInput, ...func(*ses.Options)) (*ses.GetSendQuotaOutput, error)
}

var _ Client = (*ses.Client)(nil)

// Unlimited is what Quota reports as Remaining24h when SES reports no daily
// limit (Max24HourSend = -1): large, and safe to convert to an int.
const Unlimited = 1 << 30

// Mailer sends through SES from one sender.
type Mailer struct {
	c    Client
	from string
}

var _ mail.Mailer = (*Mailer)(nil)

// New returns a Mailer sending from from, an address or identity SES has
// verified ("noreply@acme.com" or "Acme <noreply@acme.com>"; a display name
// outside ASCII is MIME-encoded, as SES requires).
func New(c Client, from string) *Mailer {
	if a, err := netmail.ParseAddress(from); err == nil && a.Name != "" {
		from = a.String() // encodes the name per RFC 2047 where needed
	}
	return &Mailer{c: c, from: from}
}

const charset = "UTF-8"

// Send sends m with its text and HTML bodies (whichever are set).
func (s *Mailer) Send(ctx context.Context, m mail.Message) error {
	if len(m.To) == 0 {
		return fmt.Errorf("sesmail: send: %w: no recipients", mail.ErrRejected)
	}
	body := &types.Body{}
	if m.Text != "" {
		body.Text = &types.Content{Data: aws.String(m.Text), Charset: aws.String(charset)}
	}
	if m.HTML != "" || m.Text == "" {
		body.Html = &types.Content{Data: aws.String(m.HTML), Charset: aws.String(charset)}
	}
	_, err := s.c.SendEmail(ctx, &ses.SendEmailInput{
		Source:      aws.String(s.from),
		Destination: &types.Destination{ToAddresses: m.To},
		Message: &types.Message{
			Subject: &types.Content{Data: aws.String(m.Subject), Charset: aws.String(charset)},
			Body:    body,
		},
	})
	if err != nil {
		return classify(fmt.Sprintf("send to %d recipient(s)", len(m.To)), err)
	}
	return nil
}

// Quota reads SES's sending quota.
func (s *Mailer) Quota(ctx context.Context) (mail.Quota, error) {
	out, err := s.c.GetSendQuota(ctx, &ses.GetSendQuotaInput{})
	if err != nil {
		return mail.Quota{}, classify("quota", err)
	}
	q := mail.Quota{MaxPerSecond: out.MaxSendRate, Remaining24h: Unlimited}
	if out.Max24HourSend >= 0 {
		q.Remaining24h = max(0, out.Max24HourSend-out.SentLast24Hours)
	}
	return q, nil
}

func classify(op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "Throttling", "ThrottlingException", "TooManyRequestsException",
			"MaxSendingRateExceeded", "DailyQuotaExceeded":
			return fmt.Errorf("sesmail: %s: %w: %w", op, mail.ErrThrottled, err)
		case "MessageRejected", "MailFromDomainNotVerifiedException", "MailFromDomainNotVerified",
			"InvalidParameterValue":
			return fmt.Errorf("sesmail: %s: %w: %w", op, mail.ErrRejected, err)
		}
	}
	return fmt.Errorf("sesmail: %s: %w", op, err)
}
