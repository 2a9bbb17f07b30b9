// Package connection holds the domain of the service: connections between an
// account and a vendor, at app or user level, and the facts that hang off
// them (settings, counters, notices, authorization states).
package connection

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Level says who a connection belongs to.
type Level string

// The two levels of connection.
const (
	LevelApp  Level = "app"  // one per account and vendor, made by an app manager
	LevelUser Level = "user" // one per user and vendor, a personal grant
)

// ParseLevel parses the flow query parameter.
func ParseLevel(s string) (Level, error) {
	switch Level(s) {
	case LevelApp, LevelUser:
		return Level(s), nil
	}
	return "", errors.New("flow must be app or user")
}

// Action is what an authorization is for.
type Action string

// Actions of the OAuth flow.
const (
	ActionConnect    Action = "connect"
	ActionReconnect  Action = "reconnect"
	ActionChangeUser Action = "changeUser"
)

// ParseAction parses the optional action query parameter ("" means connect).
func ParseAction(s string) (Action, error) {
	switch Action(s) {
	case "":
		return ActionConnect, nil
	case ActionReconnect, ActionChangeUser:
		return Action(s), nil
	}
	return "", errors.New("action must be reconnect or changeUser")
}

// Status is what the list shows about a connection.
type Status string

// Connection statuses.
const (
	StatusNotConnected Status = "notConnected"
	StatusConnected    Status = "connected"
	StatusExpiring     Status = "expiring"
	StatusExpired      Status = "expired"
)

// Key names one connection.
type Key struct {
	Account string
	Vendor  string
	Level   Level
	UserID  string // user level only
}

// AppKey is the key of an account's app-level connection to a vendor.
func AppKey(account, vendor string) Key {
	return Key{Account: account, Vendor: vendor, Level: LevelApp}
}

// UserKey is the key of a user's connection to a vendor.
func UserKey(account, vendor, userID string) Key {
	return Key{Account: account, Vendor: vendor, Level: LevelUser, UserID: userID}
}

// String is a stable, log-safe name of the connection.
func (k Key) String() string {
	if k.Level == LevelApp {
		return k.Account + "/" + k.Vendor + "/app"
	}
	return k.Account + "/" + k.Vendor + "/user/" + k.UserID
}

// Identity is who the vendor says authorized the grant.
type Identity struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// Person is a user of the platform (from the caller's JWT).
type Person struct {
	UserID string
	Email  string
	Name   string
}

// Connection is one OAuth grant held for an account (app level) or one of its
// users (user level). Tokens live in the vault; the connection points at the
// secret version that holds them.
type Connection struct {
	Key
	ID       string // stable across reconnect and change of user
	Instance string // base URL of the vendor instance or site, e.g. https://acme.service-now.com
	SiteID   string // vendor's id of the site (Atlassian cloud id), if any

	ConnectedUser Identity // the vendor user who authorized
	ConnectedBy   Person   // the platform user who made or last repaired it; gets app-level notices

	SecretName    string
	SecretVersion string
	Generation    int // token generation; +1 on every reconnect or change of user

	// GrantedScope is the scope the vendor granted, space-separated as in a
	// token response (RFC 6749 §3.3): the token response's scope, else the
	// scopes requested. "" for a connection stored before scopes were
	// recorded (nothing known, so no scope drift is shown).
	GrantedScope string

	GrantedAt             time.Time // when the current grant was authorized
	AccessTokenExpiresAt  time.Time
	RefreshTokenExpiresAt time.Time // when refreshing stops working if nothing is done
	AbsoluteExpiresAt     time.Time // a limit no refresh can extend (zero: none beyond RefreshTokenExpiresAt)
	LastRefreshedAt       time.Time

	Expired          bool
	ExpiredAt        time.Time
	ExpiredReason    string
	VendorErrorSince time.Time // first of a run of vendor failures during keep-alive (zero: none)

	NextCheckAt time.Time // when the expiry scan should look at it next (zero: never)
	LeaseOwner  string
	LeaseUntil  time.Time

	Version   int64 // optimistic lock; 0 for a connection not yet stored
	CreatedAt time.Time
	UpdatedAt time.Time
}

// HardExpiry is the moment the grant dies whatever the service does: the
// refresh-token expiry when refreshing cannot extend it, else the absolute
// limit. extendable says whether a refresh moves the refresh-token expiry
// (the vendor's policy has an inactivity window). Zero: no such moment (a
// grant kept alive by refreshing with no absolute limit, or one that never
// expires).
func (c Connection) HardExpiry(extendable bool) time.Time {
	if extendable {
		return c.AbsoluteExpiresAt
	}
	return c.RefreshTokenExpiresAt
}

// IsExpired reports whether the grant no longer works at now.
func (c Connection) IsExpired(now time.Time) bool {
	if c.Expired {
		return true
	}
	return !c.RefreshTokenExpiresAt.IsZero() && !now.Before(c.RefreshTokenExpiresAt)
}

// Status is the connection's state at now, given whether a refresh extends
// its refresh token (so that inactivity expiry is moved by keep-alive) and
// the warning window.
func (c Connection) Status(now time.Time, extendable bool, warn time.Duration) Status {
	if c.IsExpired(now) {
		return StatusExpired
	}
	if h := c.HardExpiry(extendable); !h.IsZero() && h.Sub(now) <= warn {
		return StatusExpiring
	}
	return StatusConnected
}

// Settings is an account's configuration of one vendor.
type Settings struct {
	Account                  string
	Vendor                   string
	InstanceURL              string // ServiceNow instance
	ClientID                 string
	ClientSecretName         string // vault name of the client secret; the secret itself is never here
	ClientSecretVersion      string // the vault version that goes with ClientID
	RefreshTokenLifespanDays int
	SiteURL                  string // Confluence: which site to pick when a grant covers several
	Version                  int64
	UpdatedAt                time.Time
	UpdatedBy                string
}

// Counts are the user-level counters of one vendor in one account.
type Counts struct {
	Total     int // user-level connections that exist, in any state
	Connected int // of those, the ones usable now
}

// VendorSnapshot is what one round trip returns about a vendor in an account.
type VendorSnapshot struct {
	App      *Connection
	User     *Connection // the caller's own user-level connection
	Settings *Settings
	Counts   Counts
}

// NoticeKind is why a notice was sent.
type NoticeKind string

// Notice kinds.
const (
	NoticeExpiring     NoticeKind = "expiring"
	NoticeDisconnected NoticeKind = "disconnected"
)

// Notice is one in-app notice and its email (an outbox record).
type Notice struct {
	Account    string
	UserID     string // recipient
	ID         string // deterministic: one per connection, kind and generation
	Vendor     string
	Level      Level
	Kind       NoticeKind
	Message    string
	Email      string // recipient address
	Connection Key
	Generation int
	CreatedAt  time.Time
	Dismissed  bool
	SentAt     time.Time // email sent (zero: not yet)
	ClaimOwner string    // a sender holding the right to send it
	ClaimUntil time.Time
}

// AuthState is the server side of an OAuth `state` parameter.
type AuthState struct {
	Nonce     string
	Account   string
	UserID    string
	Email     string
	Name      string
	Vendor    string
	Flow      Level
	Action    Action
	Verifier  string // PKCE code verifier
	Instance  string // the instance the authorization was sent to
	CreatedAt time.Time
	ExpiresAt time.Time
}

// NoticeID is the id of the notice of a kind for a connection's token
// generation: deterministic, so that however often or concurrently the scan
// runs there is one notice (and one email) per connection, kind and generation.
func NoticeID(k Key, kind NoticeKind, generation int) string {
	// Quoted fields: no id can make two different keys hash alike.
	sum := sha256.Sum256(fmt.Appendf(nil, "%q|%q|%q|%q|%q|%d", k.Account, k.Vendor, k.Level, k.UserID, kind, generation))
	return hex.EncodeToString(sum[:12])
}

// NoticeRecipient is who hears about the connection: the user for user
// level, the app manager who connected or last repaired it for app level.
func (c Connection) NoticeRecipient() Person { return c.ConnectedBy }

// NoticeKinds are every kind of notice, for clearing them all.
var NoticeKinds = []NoticeKind{NoticeExpiring, NoticeDisconnected}
