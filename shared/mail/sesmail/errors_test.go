package sesmail

// What moto cannot show: throttling, the text body and charsets on the wire,
// and an unlimited daily quota.

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/aws/aws-sdk-go-v2/service/ses/types"
	"github.com/aws/smithy-go"

	"github.com/workplace/connections/shared/mail"
)

type fake struct {
	in    *ses.SendEmailInput
	err   error
	quota *ses.GetSendQuotaOutput
}

func (f *fake) SendEmail(_ context.Context, in *ses.SendEmailInput, _ ...func(*ses.Options)) (*ses.SendEmailOutput, error) {
	f.in = in
	if f.err != nil {
		return nil, f.err
	}
	return &ses.SendEmailOutput{MessageId: aws.String("m-1")}, nil
}

func (f *fake) GetSendQuota(context.Context, *ses.GetSendQuotaInput, ...func(*ses.Options)) (*ses.GetSendQuotaOutput, error) {
	return f.quota, f.err
}

func TestErrorMapping(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
	}{
		{&smithy.GenericAPIError{Code: "Throttling", Message: "Maximum sending rate exceeded."}, mail.ErrThrottled},
		{&smithy.GenericAPIError{Code: "Throttling", Message: "Daily message quota exceeded."}, mail.ErrThrottled},
		{&types.MessageRejected{Message: aws.String("Email address is not verified.")}, mail.ErrRejected},
		{&types.MailFromDomainNotVerifiedException{Message: aws.String("no")}, mail.ErrRejected},
		{&smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "Missing final '@domain'"}, mail.ErrRejected},
		{&types.AccountSendingPausedException{Message: aws.String("paused")}, nil},
		{errors.New("connection reset"), nil},
	} {
		m := New(&fake{err: c.err}, "noreply@connections.example")
		err := m.Send(context.Background(), mail.Message{To: []string{"a@x.example"}, Subject: "s", Text: "t"})
		if err == nil || !errors.Is(err, c.err) {
			t.Errorf("%v: got %v, want it wrapped", c.err, err)
			continue
		}
		for _, sentinel := range []error{mail.ErrThrottled, mail.ErrRejected} {
			if errors.Is(err, sentinel) != (sentinel == c.want) {
				t.Errorf("%v: errors.Is(err, %v) = %v", c.err, sentinel, !(sentinel == c.want))
			}
		}
	}
}

func TestSendsBothBodiesInUTF8(t *testing.T) {
	f := &fake{}
	m := New(f, "Zoë Connections <noreply@connections.example>")
	msg := mail.Message{To: []string{"a@x.example", "b@x.example"}, Subject: "Prêt ✓", Text: "texte", HTML: "<p>html</p>"}
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	in := f.in
	if got := aws.ToString(in.Source); got != "=?utf-8?q?Zo=C3=AB_Connections?= <noreply@connections.example>" {
		t.Errorf("Source = %q, want the display name MIME-encoded", got)
	}
	if len(in.Destination.ToAddresses) != 2 {
		t.Errorf("To = %v", in.Destination.ToAddresses)
	}
	for name, c := range map[string]*types.Content{"subject": in.Message.Subject, "text": in.Message.Body.Text, "html": in.Message.Body.Html} {
		if c == nil || aws.ToString(c.Charset) != "UTF-8" {
			t.Errorf("%s: %+v, want charset UTF-8", name, c)
		}
	}
	if aws.ToString(in.Message.Subject.Data) != msg.Subject || aws.ToString(in.Message.Body.Text.Data) != msg.Text ||
		aws.ToString(in.Message.Body.Html.Data) != msg.HTML {
		t.Errorf("message content changed on the way: %+v", in.Message)
	}

	f = &fake{}
	if err := New(f, "noreply@connections.example").Send(context.Background(), mail.Message{To: []string{"a@x.example"}, Text: "only text"}); err != nil {
		t.Fatal(err)
	}
	if f.in.Message.Body.Html != nil || aws.ToString(f.in.Message.Body.Text.Data) != "only text" {
		t.Errorf("text-only message sent as %+v", f.in.Message.Body)
	}
	if aws.ToString(f.in.Source) != "noreply@connections.example" {
		t.Errorf("plain sender rewritten to %q", aws.ToString(f.in.Source))
	}
}

func TestQuota(t *testing.T) {
	for _, c := range []struct {
		out  ses.GetSendQuotaOutput
		want mail.Quota
	}{
		{ses.GetSendQuotaOutput{MaxSendRate: 14, Max24HourSend: 50000, SentLast24Hours: 120}, mail.Quota{MaxPerSecond: 14, Remaining24h: 49880}},
		{ses.GetSendQuotaOutput{MaxSendRate: 1, Max24HourSend: 200, SentLast24Hours: 230}, mail.Quota{MaxPerSecond: 1, Remaining24h: 0}},
		{ses.GetSendQuotaOutput{MaxSendRate: 100, Max24HourSend: -1}, mail.Quota{MaxPerSecond: 100, Remaining24h: Unlimited}},
	} {
		got, err := New(&fake{quota: &c.out}, "n@x.example").Quota(context.Background())
		if err != nil || got != c.want {
			t.Errorf("Quota(%+v) = %+v, %v; want %+v", c.out, got, err, c.want)
		}
	}
}
