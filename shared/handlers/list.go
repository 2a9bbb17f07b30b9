package handlers

import (
	"context"
	"net/http"

	"github.com/workplace/connections/shared/apigw"
	"github.com/workplace/connections/shared/integrations"
	"github.com/workplace/connections/shared/vendors"
)

// ListIntegrations serves GET /v1/account/integrations.
func ListIntegrations(d *Deps) apigw.Handler {
	lister := integrations.Lister{Store: d.Store, Now: d.Now, WarningWindow: d.Config.WarningWindow}
	return d.route("list-integrations", func(ctx context.Context, req apigw.Request, who apigw.Identity) (apigw.Response, error) {
		q := integrations.Query{Account: who.Account, UserID: who.UserID, AppManager: who.IsAppManager}
		if t, ok := req.QueryStringParameters["type"]; ok {
			typ, valid := vendors.ParseType(t)
			if !valid {
				return apigw.Response{}, apigw.Errorf(http.StatusBadRequest, "invalid_type", "type must be supportAndTicketing, knowledge or fileStorage")
			}
			q.Type = typ
		}
		switch req.QueryStringParameters["includeUserLevelConnectionData"] {
		case "", "false":
		case "true":
			q.UserLevel = true
		default:
			return apigw.Response{}, apigw.Errorf(http.StatusBadRequest, "invalid_parameter", "includeUserLevelConnectionData must be true or false")
		}
		views, err := lister.List(ctx, q)
		if err != nil {
			return apigw.Response{}, err
		}
		return apigw.JSON(http.StatusOK, views), nil
	})
}
