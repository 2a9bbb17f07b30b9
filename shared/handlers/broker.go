package handlers

import (
	"context"
	"net/http"

	"github.com/workplace/connections/shared/apigw"
	"github.com/workplace/connections/shared/broker"
)

// Broker hands out usable access tokens on these dependencies: the token
// broker's and the live check's.
func (d *Deps) Broker() *broker.Service {
	return &broker.Service{
		Store: d.Store, Vault: d.Vault, Clients: d.Clients(), Reaper: d.Reaper(), Now: d.Now, Log: d.Log,
		WarningWindow:  d.Config.WarningWindow,
		AuditRetention: d.Config.AuditRetention,
	}
}

// TokenBroker serves POST /v1/internal/token: a platform service, signed
// in by IAM, gets a usable access token of a connection.
func TokenBroker(d *Deps) apigw.Handler {
	svc := d.Broker()
	return d.internalRoute("token-broker", func(ctx context.Context, req apigw.Request, principal string) (apigw.Response, error) {
		var body broker.TokenRequest
		if err := apigw.DecodeBody(req, &body); err != nil {
			return apigw.Response{}, err
		}
		tok, err := svc.Token(ctx, principal, body)
		if err != nil {
			return apigw.Response{}, err
		}
		return apigw.JSON(http.StatusOK, tok), nil
	})
}

// ConnectionCheck serves POST /v1/account/integrations/{vendor}/check.
func ConnectionCheck(d *Deps) apigw.Handler {
	svc := d.Broker()
	return d.route("connection-check", func(ctx context.Context, req apigw.Request, who apigw.Identity) (apigw.Response, error) {
		res, err := svc.Check(ctx, broker.Caller{Account: who.Account, UserID: who.UserID, AppManager: who.IsAppManager},
			broker.CheckRequest{Vendor: req.PathParameters["vendor"], Flow: req.QueryStringParameters["flow"]})
		if err != nil {
			return apigw.Response{}, err
		}
		return apigw.JSON(http.StatusOK, res), nil
	})
}
