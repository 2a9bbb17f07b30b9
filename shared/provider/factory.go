package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vendors"
)

// Factory builds vendor clients: the registry entry, the account's
// settings and instance, and the OAuth client credentials (the account's
// own client secret from the vault, or this deployment's app). It is the
// one place a use case gets a Client from, and with Refresh the one place
// a grant is renewed.
type Factory struct {
	Store store.Store // the accounts' settings
	Vault vault.Vault // client secrets and connection tokens
	HTTP  *http.Client

	RedirectURL string
	// VendorBaseURLs are base URL overrides ("vendor.base" → URL), used to
	// point vendors at the local sandbox.
	VendorBaseURLs map[string]string
	// DeploymentSecrets names, by app id (vendors.Vendor.AppID), the secret
	// holding the client id and secret of each OAuth app that belongs to
	// this deployment (config.DeploymentSecrets): vendors that share an
	// app (Jira and Confluence) read the same one.
	DeploymentSecrets map[string]string
}

// NotConfigured is 409 not_configured: the account has no usable OAuth
// client for v yet.
func NotConfigured(v vendors.Vendor) error {
	return problem.New(http.StatusConflict, "not_configured", "%s needs its settings (instance and OAuth client) before it can be connected", v.Name)
}

// noDeploymentApp is 409 not_configured: this deployment has no
// credentials (no secret, or its empty placeholder) for v's OAuth app.
func noDeploymentApp(v vendors.Vendor) error {
	return problem.New(http.StatusConflict, "not_configured", "this deployment has no %s app credentials", v.Name)
}

// Client builds the client of v for an account whose settings are set (nil
// when it has none), at instance ("" for the settings' instance). The
// client secret is read from the vault; without one the answer is 409
// not_configured.
func (f *Factory) Client(ctx context.Context, v vendors.Vendor, set *connection.Settings, instance string) (*Client, error) {
	var creds Credentials
	switch v.Credentials {
	case vendors.PerAccount:
		if set == nil || set.ClientID == "" || set.ClientSecretName == "" {
			return nil, NotConfigured(v)
		}
		secret, err := f.Vault.Get(ctx, set.ClientSecretName, set.ClientSecretVersion)
		if errors.Is(err, vault.ErrNotFound) {
			return nil, NotConfigured(v)
		}
		if err != nil {
			return nil, fmt.Errorf("read client secret: %w", err)
		}
		creds = Credentials{ClientID: set.ClientID, ClientSecret: string(secret)}
		if instance == "" {
			instance = set.InstanceURL
		}
	default:
		name := f.DeploymentSecrets[v.AppID()]
		if name == "" {
			return nil, noDeploymentApp(v)
		}
		raw, err := f.Vault.Get(ctx, name, "")
		if errors.Is(err, vault.ErrNotFound) {
			return nil, noDeploymentApp(v)
		}
		if err != nil {
			return nil, fmt.Errorf("read deployment client secret: %w", err)
		}
		if err := json.Unmarshal(raw, &creds); err != nil {
			return nil, fmt.Errorf("deployment client secret of %s is not {client_id, client_secret}", v.ID)
		}
		// The stack creates each deployment secret with an empty
		// placeholder until the operator puts the app's credentials in it:
		// that is the same as no secret at all.
		if creds.ClientID == "" {
			return nil, noDeploymentApp(v)
		}
		instance = ""
	}
	return New(v, instance, creds, f.RedirectURL, f.VendorBaseURLs, f.HTTP), nil
}

// ForConnection is the client of an existing connection: the account's
// current settings and the connection's own instance. Only a vendor whose
// OAuth client is the account's own reads the settings; the others' client
// is the deployment's app, which no setting changes.
func (f *Factory) ForConnection(ctx context.Context, c connection.Connection) (*Client, error) {
	v, ok := vendors.Lookup(c.Vendor)
	if !ok {
		return nil, problem.New(http.StatusNotFound, "unknown_vendor", "there is no integration called %q", c.Vendor)
	}
	var set *connection.Settings
	if v.Credentials == vendors.PerAccount {
		var err error
		if set, err = store.SettingsOf(ctx, f.Store, c.Account, c.Vendor); err != nil {
			return nil, err
		}
	}
	return f.Client(ctx, v, set, c.Instance)
}

// APIClient is a client for calls to the vendor's API with the access
// token of connection c (the live check's identity lookup). Such calls
// need no OAuth client credentials, so it reads no secret.
func (f *Factory) APIClient(c connection.Connection) (*Client, error) {
	v, ok := vendors.Lookup(c.Vendor)
	if !ok {
		return nil, problem.New(http.StatusNotFound, "unknown_vendor", "there is no integration called %q", c.Vendor)
	}
	instance := c.Instance
	if v.Credentials != vendors.PerAccount {
		instance = "" // the deployment's vendors are reached through their bases
	}
	return New(v, instance, Credentials{}, f.RedirectURL, f.VendorBaseURLs, f.HTTP), nil
}
