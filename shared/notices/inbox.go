package notices

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/store"
)

// Notification is one in-app notice as the API shows it.
type Notification struct {
	ID        string                `json:"id"`
	Vendor    string                `json:"vendor"`
	Level     connection.Level      `json:"level"`
	Kind      connection.NoticeKind `json:"kind"`
	Message   string                `json:"message"`
	CreatedAt time.Time             `json:"createdAt"`
}

// Inbox is a person's in-app notices: only their own are listed or
// dismissed.
type Inbox struct {
	Store store.Store
}

// errNoSuchNotice is the answer for an id the person has no notice under.
func errNoSuchNotice() error {
	return problem.New(http.StatusNotFound, "not_found", "you have no such notification")
}

// List is a person's undismissed notices, newest first.
func (in Inbox) List(ctx context.Context, account, userID string) ([]Notification, error) {
	list, err := in.Store.ListNotices(ctx, account, userID)
	if err != nil {
		return nil, err
	}
	out := make([]Notification, 0, len(list))
	for _, n := range list {
		out = append(out, Notification{ID: n.ID, Vendor: n.Vendor, Level: n.Level, Kind: n.Kind, Message: n.Message, CreatedAt: n.CreatedAt})
	}
	return out, nil
}

// Dismiss hides one of a person's notices; an id they have no notice under
// is 404 not_found.
func (in Inbox) Dismiss(ctx context.Context, account, userID, id string) error {
	if !validID(id) {
		return errNoSuchNotice()
	}
	err := in.Store.DismissNotice(ctx, account, userID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errNoSuchNotice()
	}
	return err
}

// validID accepts only the shape of ids the service makes (hex), so an id
// can never reach into another key of the table.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
