// Package mail sends the service's emails: SES in production (sesmail), an
// in-memory outbox locally (memmail); both pass mailtest.
package mail

import (
	"context"
	"errors"
)

// Message is one email.
type Message struct {
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	Text    string   `json:"text"`
	HTML    string   `json:"html"`
}

// ErrThrottled: the provider refused for rate; try again later.
var ErrThrottled = errors.New("mail: throttled")

// ErrRejected: the provider refused this message for good (bad address,
// unverified sender).
var ErrRejected = errors.New("mail: rejected")

// Quota is the provider's sending allowance.
type Quota struct {
	MaxPerSecond float64
	Remaining24h float64 // how many more may be sent in the rolling 24 hours
}

// Mailer sends email.
type Mailer interface {
	Send(ctx context.Context, m Message) error
	Quota(ctx context.Context) (Quota, error)
}
