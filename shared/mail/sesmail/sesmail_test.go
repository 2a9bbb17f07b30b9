package sesmail_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ses"

	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/mail/mailtest"
	"github.com/workplace/connections/shared/mail/sesmail"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestContract runs the mail contract on SES as moto emulates it. Each
// subtest sends from a sender of its own, verified unless the contract asks
// for an unverified one, and reads back only the messages from that sender.
func TestContract(t *testing.T) {
	srv := awstest.Moto(t)
	client := ses.NewFromConfig(srv.Config(t))
	mailtest.Run(t, func(t *testing.T, verified bool) (mail.Mailer, func() []mail.Message) {
		from := awstest.Unique("sender") + "@connections.example"
		if verified {
			if _, err := client.VerifyEmailIdentity(context.Background(),
				&ses.VerifyEmailIdentityInput{EmailAddress: aws.String(from)}); err != nil {
				t.Fatalf("VerifyEmailIdentity: %v", err)
			}
		}
		return sesmail.New(client, from), func() []mail.Message { return motoSent(t, srv, from) }
	})
}

// motoSent lists what moto's SES accepted from sender, oldest first. moto
// keeps only one body per message, the HTML one when both are sent, so the
// messages come back with To, Subject and HTML and an empty Text.
func motoSent(t *testing.T, srv *awstest.Server, sender string) []mail.Message {
	t.Helper()
	resp, err := http.Get(srv.URL + "/moto-api/data.json")
	if err != nil {
		t.Fatalf("moto data: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("moto data: %s", resp.Status)
	}
	var data struct {
		SES struct {
			Message []struct {
				Source       string              `json:"source"`
				Subject      string              `json:"subject"`
				Body         string              `json:"body"`
				Destinations map[string][]string `json:"destinations"`
			} `json:"Message"`
		} `json:"ses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&data); err != nil {
		t.Fatalf("moto data: %v", err)
	}
	var out []mail.Message
	for _, m := range data.SES.Message {
		if m.Source == sender {
			out = append(out, mail.Message{To: m.Destinations["ToAddresses"], Subject: m.Subject, HTML: m.Body})
		}
	}
	return out
}
