package connection

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"time"
)

// AuditAction is what an audit entry records.
type AuditAction string

// Audit actions (DESIGN §9).
const (
	AuditSettingsChanged AuditAction = "settingsChanged" // an app manager changed the vendor's settings
	AuditConnected       AuditAction = "connected"       // a connection was made
	AuditReconnected     AuditAction = "reconnected"     // an expired or live connection was re-authorized by the same vendor user
	AuditUserChanged     AuditAction = "userChanged"     // Change User: another vendor user now holds the connection
	AuditExpiring        AuditAction = "expiring"        // the expiring notice came due (once per token generation)
	AuditDisconnected    AuditAction = "disconnected"    // the grant was found dead (refused, expired, outage past grace)
	AuditRecovered       AuditAction = "recovered"       // a connection flagged for vendor failures refreshes again
	AuditRemoved         AuditAction = "removed"         // a person disconnected it (one entry per connection removed)
	AuditNoticeSent      AuditAction = "noticeSent"      // a notice's email went out (or was recorded as done)
)

// AuditActions are every action, in the order of a connection's life.
var AuditActions = []AuditAction{
	AuditSettingsChanged, AuditConnected, AuditReconnected, AuditUserChanged, AuditExpiring,
	AuditDisconnected, AuditRecovered, AuditRemoved, AuditNoticeSent,
}

// Actor types: who made a change.
const (
	ActorUser   = "user"   // a person, through a route (ID: their user id)
	ActorScan   = "scan"   // the scheduled expiry scan
	ActorBroker = "broker" // the token broker (ID: the calling service's principal)
)

// Actor is who made a change.
type Actor struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}

// UserActor is the actor of a change a person made through a route.
func UserActor(userID string) Actor { return Actor{Type: ActorUser, ID: userID} }

// ScanActor is the actor of the expiry scan's changes.
func ScanActor() Actor { return Actor{Type: ActorScan} }

// AuditEntry is one line of an account's audit timeline. It is written in
// the same transaction as the change it records, and never holds a token or
// a secret.
type AuditEntry struct {
	Account string
	// ID is random and unique (see NewAuditID); it is also the eventId of
	// the change's event, so it is fixed before the write and kept across
	// retries of that write.
	ID     string
	At     time.Time // the time of the change: the route's clock, or the scan's event time
	Vendor string
	Level  Level
	UserID string // the user-level connection's user ("" at app level)

	ConnectionID string
	Action       AuditAction
	Actor        Actor
	// Details depend on the action: user/userEmail (connected,
	// reconnected, userChanged, with previousUser/previousUserEmail on
	// userChanged), reason and detectedBy (disconnected), kind and
	// recipients (noticeSent, expiring), changed and the new values of
	// the non-secret fields (settingsChanged).
	Details map[string]string

	ExpiresAt time.Time // retention: the entry is gone after it
}

// DefaultAuditRetention is how long audit entries are kept by default
// (AUDIT_RETENTION_DAYS).
const DefaultAuditRetention = 400 * 24 * time.Hour

// auditIDs encode ids in base32hex (0-9A-V), whose alphabet sorts like the
// bytes it encodes; no padding.
var auditIDs = base32.HexEncoding.WithPadding(base32.NoPadding)

// NewAuditID returns a new audit entry id: 29 characters of [0-9A-V], URL
// safe. It starts with the wall-clock time it was made at (nanoseconds, so
// that entries of the same change time, such as a disconnection and the
// notice sent right after it, list in the order they were written) and
// ends with 80 random bits, which make it unique.
func NewAuditID() string {
	var b [18]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixNano()))
	if _, err := rand.Read(b[8:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return auditIDs.EncodeToString(b[:8]) + auditIDs.EncodeToString(b[8:])
}

// NewAudit is the audit entry of a change of connection c (its key and id)
// at `at`, kept for retention (DefaultAuditRetention when not positive),
// with a new id.
func NewAudit(c Connection, action AuditAction, actor Actor, at time.Time, retention time.Duration, details map[string]string) AuditEntry {
	return AuditEntry{
		Account: c.Account, ID: NewAuditID(), At: at.UTC(), Vendor: c.Vendor, Level: c.Level, UserID: c.UserID,
		ConnectionID: c.ID, Action: action, Actor: actor, Details: details,
		ExpiresAt: at.UTC().Add(Retention(retention)),
	}
}

// Retention is the retention to use: r, or the default when r is not
// positive.
func Retention(r time.Duration) time.Duration {
	if r <= 0 {
		return DefaultAuditRetention
	}
	return r
}
