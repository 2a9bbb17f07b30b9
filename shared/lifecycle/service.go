// Package lifecycle is the life of a connection: settings, the OAuth
// authorization URL, the callback that connects, reconnects or changes the
// user, and disconnect. Every step either completes or leaves the previous
// connection exactly as it was.
package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/logctx"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vendors"
)

// Service runs the lifecycle of connections.
type Service struct {
	Store store.Store
	Vault vault.Vault
	HTTP  *http.Client
	Now   func() time.Time
	Log   *slog.Logger

	SecretPrefix         string
	RedirectURL          string
	VendorBaseURLs       map[string]string
	AllowedInstanceHosts []string
	// DeploymentSecrets names the secret with the client id and secret of
	// vendors whose OAuth app belongs to this deployment (by vendor id);
	// default <prefix>/deployment/<vendor>/client.
	DeploymentSecrets  map[string]string
	WarningWindow      time.Duration
	SecretRecoveryDays int
	StateTTL           time.Duration // default 10 minutes
}

// Caller is who is asking.
type Caller struct {
	connection.Person
	Account    string
	AppManager bool
}

// log is the request's logger (account, user, route, vendor), else the service's.
func (s *Service) log(ctx context.Context) *slog.Logger {
	return logctx.From(ctx, s.Log)
}

// lookupVendor finds a vendor or answers 404 unknown_vendor.
func lookupVendor(id string) (vendors.Vendor, error) {
	v, ok := vendors.Lookup(id)
	if !ok {
		return v, problem.New(http.StatusNotFound, "unknown_vendor", "there is no integration called %q", id)
	}
	return v, nil
}

// settings reads an account's settings of a vendor (nil when none).
func (s *Service) settings(ctx context.Context, account, vendorID string) (*connection.Settings, error) {
	st, err := s.Store.GetSettings(ctx, account, vendorID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &st, nil
}

func errNotConfigured(v vendors.Vendor) error {
	return problem.New(http.StatusConflict, "not_configured", "%s needs its settings (instance and OAuth client) before it can be connected", v.Name)
}

// Client builds the vendor client for an account, reading the client
// secret from the vault.
func (s *Service) Client(ctx context.Context, v vendors.Vendor, set *connection.Settings, instance string) (*provider.Client, error) {
	var creds provider.Credentials
	switch v.Credentials {
	case vendors.PerAccount:
		if set == nil || set.ClientID == "" || set.ClientSecretName == "" {
			return nil, errNotConfigured(v)
		}
		secret, err := s.Vault.Get(ctx, set.ClientSecretName, set.ClientSecretVersion)
		if errors.Is(err, vault.ErrNotFound) {
			return nil, errNotConfigured(v)
		}
		if err != nil {
			return nil, fmt.Errorf("read client secret: %w", err)
		}
		creds = provider.Credentials{ClientID: set.ClientID, ClientSecret: string(secret)}
		if instance == "" {
			instance = set.InstanceURL
		}
	default:
		name := s.DeploymentSecrets[v.ID]
		if name == "" {
			name = s.SecretPrefix + "/deployment/" + v.ID + "/client"
		}
		raw, err := s.Vault.Get(ctx, name, "")
		if errors.Is(err, vault.ErrNotFound) {
			return nil, problem.New(http.StatusConflict, "not_configured", "this deployment has no %s app credentials", v.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("read deployment client secret: %w", err)
		}
		if err := json.Unmarshal(raw, &creds); err != nil || creds.ClientID == "" {
			return nil, fmt.Errorf("deployment client secret of %s is not {client_id, client_secret}", v.ID)
		}
		instance = ""
	}
	return provider.New(v, instance, creds, s.RedirectURL, s.VendorBaseURLs, s.HTTP), nil
}

// ConnectionClient is the vendor client of an existing connection: the
// account's current settings and the connection's instance.
func (s *Service) ConnectionClient(ctx context.Context, c connection.Connection) (*provider.Client, error) {
	v, err := lookupVendor(c.Vendor)
	if err != nil {
		return nil, err
	}
	set, err := s.settings(ctx, c.Account, c.Vendor)
	if err != nil {
		return nil, err
	}
	return s.Client(ctx, v, set, c.Instance)
}

// randomHex returns n random bytes, hex encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

func (s *Service) now() time.Time { return s.Now().UTC() }
