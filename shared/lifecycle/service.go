// Package lifecycle is the life of a connection: settings, the OAuth
// authorization URL, the callback that connects, reconnects or changes the
// user, and disconnect. Every step either completes or leaves the previous
// connection exactly as it was.
package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	// Clients builds the vendor clients.
	Clients *provider.Factory
	Now     func() time.Time
	Log     *slog.Logger

	SecretPrefix         string
	AllowedInstanceHosts []string
	PrivateVendorHosts   []string // marked private: the only instances allowed over plain http
	WarningWindow        time.Duration
	// IdleCheck is IDLE_CHECK_DAYS: when a new grant that never expires is
	// first refreshed by the scan (zero: lifetime.DefaultIdleCheck).
	IdleCheck          time.Duration
	SecretRecoveryDays int
	StateTTL           time.Duration // default 10 minutes
	// AuditRetention is how long audit entries are kept (default
	// connection.DefaultAuditRetention).
	AuditRetention time.Duration

	// LeaseWait bounds how long a callback waits, in all, for a lease on
	// the connection it repairs (the expiry scan holds one while it
	// refreshes): default 10 s, well under API Gateway's 29 s.
	LeaseWait time.Duration
	// Sleep waits d or until ctx ends (nil: a timer). Tests replace it so
	// that they never sleep.
	Sleep func(ctx context.Context, d time.Duration) error
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

// randomHex returns n random bytes, hex encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// audit is the audit entry of a change a caller made to connection c at
// `at` (with a new id: a write that is retried keeps the entry it built).
func (s *Service) audit(c connection.Connection, action connection.AuditAction, who Caller, at time.Time, details map[string]string) connection.AuditEntry {
	return connection.NewAudit(c, action, connection.UserActor(who.UserID), at, s.AuditRetention, details)
}

// identityDetails are the audit details naming the vendor user of a grant,
// under the given keys; empty values are left out.
func identityDetails(d map[string]string, nameKey, emailKey string, id connection.Identity) map[string]string {
	if d == nil {
		d = map[string]string{}
	}
	if id.Name != "" {
		d[nameKey] = id.Name
	}
	if id.Email != "" {
		d[emailKey] = id.Email
	}
	return d
}
