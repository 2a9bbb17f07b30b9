// Package integrations answers "what is connected?": the list route's
// elements, built from one store snapshot per call.
package integrations

import (
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/vendors"
)

// View is one element of GET /v1/account/integrations (and the
// "connection" of a successful callback). It never holds a token.
type View struct {
	Vendor                string            `json:"vendor"`
	Name                  string            `json:"name"`
	Type                  vendors.Type      `json:"type"`
	Configured            bool              `json:"configured"`
	Integrated            bool              `json:"integrated"`
	RefreshTokenExpired   bool              `json:"refreshTokenExpired"`
	Status                connection.Status `json:"status"`
	RefreshTokenExpiresAt *time.Time        `json:"refreshTokenExpiresAt,omitempty"`
	Instance              string            `json:"instance,omitempty"`
	ConnectedUser         *ConnectedUser    `json:"connectedUser,omitempty"`
	// ReauthorizationRequired and MissingScopes: the app-level connection
	// lacks scopes the registry requires now (scope drift); a reconnect
	// (action=reconnect, allowed on a live connection) asks for them.
	ReauthorizationRequired bool            `json:"reauthorizationRequired,omitempty"`
	MissingScopes           []string        `json:"missingScopes,omitempty"`
	ConnectionDetails       *Details        `json:"connectionDetails,omitempty"`
	UserConnection          *UserConnection `json:"userConnection,omitempty"`
}

// ConnectedUser is the vendor user behind the app-level connection.
type ConnectedUser struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Details are the account's user-level counters.
type Details struct {
	Total     int `json:"total"`
	Connected int `json:"connected"`
}

// UserConnection is the caller's own user-level connection.
type UserConnection struct {
	Connected             bool              `json:"connected"`
	RefreshTokenExpired   bool              `json:"refreshTokenExpired"`
	Status                connection.Status `json:"status"`
	RefreshTokenExpiresAt *time.Time        `json:"refreshTokenExpiresAt,omitempty"`
	ConnectedUser         *ConnectedUser    `json:"connectedUser,omitempty"`
	// The same as the app level's, for the caller's own connection.
	ReauthorizationRequired bool     `json:"reauthorizationRequired,omitempty"`
	MissingScopes           []string `json:"missingScopes,omitempty"`
}

// Options say what a view may show.
type Options struct {
	Now           time.Time
	WarningWindow time.Duration
	AppManager    bool // connectedUser is shown to app managers only
	UserLevel     bool // includeUserLevelConnectionData
}

// Build makes the view of one vendor from its snapshot.
func Build(v vendors.Vendor, s connection.VendorSnapshot, o Options) View {
	out := View{
		Vendor:     v.ID,
		Name:       v.Name,
		Type:       v.Type,
		Configured: !v.NeedsSettings() || s.Settings != nil,
		Status:     connection.StatusNotConnected,
	}
	if c := s.App; c != nil {
		out.Integrated = true
		out.Status = c.Status(o.Now, v.Refresh.Extendable(), o.WarningWindow)
		out.RefreshTokenExpired = out.Status == connection.StatusExpired
		out.RefreshTokenExpiresAt = timePtr(c.RefreshTokenExpiresAt)
		out.Instance = c.Instance
		out.MissingScopes = missingScopes(v, *c)
		out.ReauthorizationRequired = len(out.MissingScopes) > 0
		if o.AppManager {
			out.ConnectedUser = &ConnectedUser{Name: c.ConnectedUser.Name, Email: c.ConnectedUser.Email}
		}
	} else if s.Settings != nil && s.Settings.InstanceURL != "" {
		out.Instance = s.Settings.InstanceURL
	}
	if !o.UserLevel {
		return out
	}
	out.ConnectionDetails = &Details{Total: max(s.Counts.Total, 0), Connected: max(s.Counts.Connected, 0)}
	uc := &UserConnection{Status: connection.StatusNotConnected}
	if c := s.User; c != nil {
		uc.Status = c.Status(o.Now, v.Refresh.Extendable(), o.WarningWindow)
		uc.RefreshTokenExpired = uc.Status == connection.StatusExpired
		uc.Connected = !uc.RefreshTokenExpired
		uc.RefreshTokenExpiresAt = timePtr(c.RefreshTokenExpiresAt)
		uc.ConnectedUser = &ConnectedUser{Name: c.ConnectedUser.Name, Email: c.ConnectedUser.Email}
		uc.MissingScopes = missingScopes(v, *c)
		uc.ReauthorizationRequired = len(uc.MissingScopes) > 0
	}
	out.UserConnection = uc
	return out
}

// missingScopes are the scopes v requires now that c was not granted; none
// for a connection stored before its scopes were recorded (nothing is
// known of it) — from the item alone, so the list reads nothing more.
func missingScopes(v vendors.Vendor, c connection.Connection) []string {
	if c.GrantedScope == "" {
		return nil
	}
	return v.MissingScopes(c.GrantedScope)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
