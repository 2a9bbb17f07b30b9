package handlers

import (
	"context"
	"net/http"

	"github.com/workplace/connections/shared/apigw"
	"github.com/workplace/connections/shared/notices"
)

// Notifications serves GET /v1/me/notifications and
// POST /v1/me/notifications/{id}/dismiss: the caller's own notices only.
func Notifications(d *Deps) apigw.Handler {
	inbox := notices.Inbox{Store: d.Store}
	return d.route("notifications", func(ctx context.Context, req apigw.Request, who apigw.Identity) (apigw.Response, error) {
		if id, ok := req.PathParameters["id"]; ok || req.RouteKey == "POST /v1/me/notifications/{id}/dismiss" {
			if err := inbox.Dismiss(ctx, who.Account, who.UserID, id); err != nil {
				return apigw.Response{}, err
			}
			return apigw.NoContent(), nil
		}
		list, err := inbox.List(ctx, who.Account, who.UserID)
		if err != nil {
			return apigw.Response{}, err
		}
		return apigw.JSON(http.StatusOK, list), nil
	})
}
