package handlers

import (
	"context"
	"net/http"

	"github.com/workplace/connections/shared/apigw"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/provider"
)

// Clients is the vendor-client factory on these dependencies.
func (d *Deps) Clients() *provider.Factory {
	return &provider.Factory{
		Store: d.Store, Vault: d.Vault, HTTP: d.HTTP,
		RedirectURL:       d.Config.RedirectURL,
		VendorBaseURLs:    d.Config.VendorBaseURLs,
		DeploymentSecrets: d.deploymentSecrets(),
	}
}

// deploymentSecrets are the deployment apps' secret names: the
// configuration's, or for a Config not read from the environment (tests),
// the same names made from its prefix.
func (d *Deps) deploymentSecrets() map[string]string {
	if d.Config.DeploymentSecrets != nil {
		return d.Config.DeploymentSecrets
	}
	return config.DeploymentSecrets(d.Config.SecretPrefix, d.Config.AtlassianClientSecretName)
}

// Lifecycle is the connection lifecycle service on these dependencies.
func (d *Deps) Lifecycle() *lifecycle.Service {
	return &lifecycle.Service{
		Store: d.Store, Vault: d.Vault, Clients: d.Clients(), Now: d.Now, Log: d.Log,
		SecretPrefix:         d.Config.SecretPrefix,
		AllowedInstanceHosts: d.Config.AllowedInstanceHosts,
		PrivateVendorHosts:   d.Config.PrivateVendorHosts,
		WarningWindow:        d.Config.WarningWindow,
		IdleCheck:            d.Config.IdleCheck,
		SecretRecoveryDays:   d.Config.SecretRecoveryDays,
		AuditRetention:       d.Config.AuditRetention,
	}
}

func caller(who apigw.Identity) lifecycle.Caller {
	return lifecycle.Caller{
		Person:     connection.Person{UserID: who.UserID, Email: who.Email, Name: who.Name},
		Account:    who.Account,
		AppManager: who.IsAppManager,
	}
}

// IntegrationSettings serves PUT /v1/account/integrations/{vendor}/settings.
func IntegrationSettings(d *Deps) apigw.Handler {
	svc := d.Lifecycle()
	return d.route("integration-settings", func(ctx context.Context, req apigw.Request, who apigw.Identity) (apigw.Response, error) {
		var body lifecycle.SettingsRequest
		// Strict, unlike the callback: our own frontend composes this body,
		// and a misspelt field ("clientSecert") ignored would leave the
		// caller believing a secret or setting saved that was not.
		if err := apigw.DecodeBody(req, &body); err != nil {
			return apigw.Response{}, err
		}
		view, err := svc.SaveSettings(ctx, caller(who), req.PathParameters["vendor"], body)
		if err != nil {
			return apigw.Response{}, err
		}
		return apigw.JSON(http.StatusOK, view), nil
	})
}

// OAuthURL serves GET /v1/account/integrations/{vendor}/oauth2/url.
func OAuthURL(d *Deps) apigw.Handler {
	svc := d.Lifecycle()
	return d.route("oauth-url", func(ctx context.Context, req apigw.Request, who apigw.Identity) (apigw.Response, error) {
		q := req.QueryStringParameters
		out, err := svc.StartAuthorization(ctx, caller(who), lifecycle.AuthURLRequest{
			Vendor: req.PathParameters["vendor"], Flow: q["flow"], Action: q["action"],
		})
		if err != nil {
			return apigw.Response{}, err
		}
		return apigw.JSON(http.StatusOK, out), nil
	})
}

// OAuthCallback serves POST /v1/account/integrations/{vendor}/oauth2/callback.
func OAuthCallback(d *Deps) apigw.Handler {
	svc := d.Lifecycle()
	return d.route("oauth-callback", func(ctx context.Context, req apigw.Request, who apigw.Identity) (apigw.Response, error) {
		var body lifecycle.CallbackRequest
		// Tolerant: the callback page forwards every query parameter the
		// vendor sent (iss, session_state, …); what the service does not
		// know is ignored, and iss is checked when present.
		if err := apigw.DecodeTolerantBody(req, &body); err != nil {
			return apigw.Response{}, err
		}
		body.Vendor = req.PathParameters["vendor"]
		out, err := svc.CompleteAuthorization(ctx, caller(who), body)
		if err != nil {
			return apigw.Response{}, err
		}
		return apigw.JSON(http.StatusOK, out), nil
	})
}

// Disconnect serves DELETE /v1/account/integrations/{vendor}.
func Disconnect(d *Deps) apigw.Handler {
	svc := d.Lifecycle()
	return d.route("disconnect", func(ctx context.Context, req apigw.Request, who apigw.Identity) (apigw.Response, error) {
		q := req.QueryStringParameters
		cascade := false
		switch q["cascade"] {
		case "", "false":
		case "true":
			cascade = true
		default:
			return apigw.Response{}, apigw.Errorf(http.StatusBadRequest, "invalid_parameter", "cascade must be true or false")
		}
		err := svc.Disconnect(ctx, caller(who), lifecycle.DisconnectRequest{Vendor: req.PathParameters["vendor"], Flow: q["flow"], Cascade: cascade})
		if err != nil {
			return apigw.Response{}, err
		}
		return apigw.NoContent(), nil
	})
}
