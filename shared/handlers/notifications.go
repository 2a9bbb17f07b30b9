package handlers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/workplace/connections/shared/apigw"
	"github.com/workplace/connections/shared/connection"
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

// Notifications serves GET /v1/me/notifications and
// POST /v1/me/notifications/{id}/dismiss: the caller's own notices only.
func Notifications(d *Deps) apigw.Handler {
	return d.route("notifications", func(ctx context.Context, req apigw.Request, who apigw.Identity) (apigw.Response, error) {
		if id, ok := req.PathParameters["id"]; ok || req.RouteKey == "POST /v1/me/notifications/{id}/dismiss" {
			if !validNoticeID(id) {
				return apigw.Response{}, apigw.Errorf(http.StatusNotFound, "not_found", "you have no such notification")
			}
			err := d.Store.DismissNotice(ctx, who.Account, who.UserID, id)
			if errors.Is(err, store.ErrNotFound) {
				return apigw.Response{}, apigw.Errorf(http.StatusNotFound, "not_found", "you have no such notification")
			}
			if err != nil {
				return apigw.Response{}, err
			}
			return apigw.NoContent(), nil
		}
		list, err := d.Store.ListNotices(ctx, who.Account, who.UserID)
		if err != nil {
			return apigw.Response{}, err
		}
		out := make([]Notification, 0, len(list))
		for _, n := range list {
			out = append(out, Notification{ID: n.ID, Vendor: n.Vendor, Level: n.Level, Kind: n.Kind, Message: n.Message, CreatedAt: n.CreatedAt})
		}
		return apigw.JSON(http.StatusOK, out), nil
	})
}

// validNoticeID accepts only the shape of ids the service makes (hex), so
// an id can never reach into another key of the table.
func validNoticeID(id string) bool {
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
