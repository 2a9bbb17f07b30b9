package handlers

import (
	"context"
	"net/http"

	"github.com/workplace/connections/shared/apigw"
	"github.com/workplace/connections/shared/audit"
)

// AuditTimeline serves GET /v1/account/integrations/audit: the caller's
// account's audit timeline, newest first (app managers).
func AuditTimeline(d *Deps) apigw.Handler {
	timeline := audit.Timeline{Store: d.Store}
	return d.route("audit", func(ctx context.Context, req apigw.Request, who apigw.Identity) (apigw.Response, error) {
		q := req.QueryStringParameters
		page, err := timeline.List(ctx, audit.Query{
			Account: who.Account, AppManager: who.IsAppManager,
			Vendor: q["vendor"], Limit: q["limit"], Cursor: q["cursor"],
		})
		if err != nil {
			return apigw.Response{}, err
		}
		return apigw.JSON(http.StatusOK, page), nil
	})
}
