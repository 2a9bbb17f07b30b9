package broker

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/health"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/vendors"
)

// Caller is a person asking for a live check (from the JWT).
type Caller struct {
	Account    string
	UserID     string
	AppManager bool
}

// CheckRequest is POST /v1/account/integrations/{vendor}/check?flow=.
type CheckRequest struct {
	Vendor string
	Flow   string
}

// CheckResult is the answer of a live check.
type CheckResult struct {
	Vendor    string            `json:"vendor"`
	Flow      connection.Level  `json:"flow"`
	Valid     bool              `json:"valid"`
	Status    connection.Status `json:"status"`
	CheckedAt time.Time         `json:"checkedAt"`
	// Reason, when not valid: refresh_refused (the vendor refused the
	// refresh), expired (the connection is expired, or the vendor refuses
	// its access tokens) or identity_changed (another vendor user, or a
	// grant that no longer covers the connection's site).
	Reason string `json:"reason,omitempty"`
}

// checkValidity is how long the check needs its token: one identity lookup.
const checkValidity = time.Minute

// Check asks the vendor, with the connection's access token (refreshed if
// needed), who holds the grant. A grant found dead, or held by another
// vendor user now, is marked expired with its notice; the answer says
// why. A vendor that does not answer changes nothing (503
// vendor_unavailable).
func (s *Service) Check(ctx context.Context, who Caller, r CheckRequest) (CheckResult, error) {
	v, ok := vendors.Lookup(r.Vendor)
	if !ok {
		return CheckResult{}, problem.New(http.StatusNotFound, "unknown_vendor", "there is no integration called %q", r.Vendor)
	}
	level, err := connection.ParseLevel(r.Flow)
	if err != nil {
		return CheckResult{}, problem.New(http.StatusBadRequest, "invalid_flow", "flow must be app or user")
	}
	if level == connection.LevelApp && !who.AppManager {
		return CheckResult{}, problem.New(http.StatusForbidden, "forbidden", "only app managers can check the %s connection of the account", v.Name)
	}
	k := connection.AppKey(who.Account, v.ID)
	if level == connection.LevelUser {
		k = connection.UserKey(who.Account, v.ID, who.UserID)
	}
	f := finder{detectedBy: health.DetectedByCheck, actor: connection.UserActor(who.UserID)}
	res := CheckResult{Vendor: v.ID, Flow: level}
	invalid := func(reason string) (CheckResult, error) {
		res.Valid, res.Status, res.Reason, res.CheckedAt = false, connection.StatusExpired, reason, s.now()
		s.log(ctx).InfoContext(ctx, "live check: connection not valid", "flow", string(level), "reason", reason)
		return res, nil
	}
	refused := func(err error) (CheckResult, error) {
		var nc *notConnected
		var dg *deadGrant
		var vd *vendorDown
		switch {
		case errors.As(err, &nc):
			return CheckResult{}, problem.New(http.StatusNotFound, "not_connected", "%s has no %s-level connection to check", v.Name, level)
		case errors.As(err, &dg):
			return invalid(dg.reason)
		case errors.As(err, &vd):
			return CheckResult{}, vendorUnavailable(v)
		}
		return CheckResult{}, err
	}

	u, err := s.usable(ctx, k, checkValidity, "", f)
	if err != nil {
		return refused(err)
	}
	client, err := s.Clients.APIClient(u.conn)
	if err != nil {
		return CheckResult{}, err
	}
	who2, err := client.Identify(ctx, &oauth2.Token{AccessToken: u.tokens.AccessToken, TokenType: "Bearer"})
	if tokenRefused(err) {
		// The vendor refuses this access token: it may only be this one
		// (revoked alone, or dead early). A fresh one, refreshed under
		// the lease unless someone did meanwhile, tells the grant's state.
		u, err = s.usable(ctx, k, checkValidity, u.conn.SecretVersion, f)
		if err != nil {
			return refused(err)
		}
		who2, err = client.Identify(ctx, &oauth2.Token{AccessToken: u.tokens.AccessToken, TokenType: "Bearer"})
		if tokenRefused(err) {
			s.log(ctx).WarnContext(ctx, "the vendor refuses even a fresh access token: connection expired")
			return s.dead(ctx, u.conn, health.Death{Reason: health.ReasonExpired, Message: "the vendor refuses its access tokens", DetectedBy: f.detectedBy, Actor: f.actor}, invalid, refused)
		}
	}
	if err != nil {
		s.log(ctx).WarnContext(ctx, "identity lookup failed; nothing marked", "error", err.Error())
		return CheckResult{}, vendorUnavailable(v)
	}
	c := u.conn
	if who2.User.ID != c.ConnectedUser.ID || !coversSite(v, c, who2) {
		s.log(ctx).WarnContext(ctx, "the vendor names another user or site for the grant: connection expired")
		return s.dead(ctx, c, health.Death{Reason: health.ReasonIdentityChanged, Message: "the vendor names another user or site for the grant", DetectedBy: f.detectedBy, Actor: f.actor}, invalid, refused)
	}
	now := s.now()
	res.Valid, res.Status, res.CheckedAt = true, c.Status(now, v.Refresh.Extendable(), s.WarningWindow), now
	s.log(ctx).InfoContext(ctx, "live check: connection valid", "flow", string(level), "refreshed", u.refreshed)
	return res, nil
}

// dead marks c dead for d and answers invalid(d.Reason).
func (s *Service) dead(ctx context.Context, c connection.Connection, d health.Death, invalid func(string) (CheckResult, error), refused func(error) (CheckResult, error)) (CheckResult, error) {
	err := s.kill(ctx, c.Key, c.Generation, d)
	var dg *deadGrant
	if err != nil && !errors.As(err, &dg) {
		return refused(err)
	}
	return invalid(d.Reason)
}

// tokenRefused reports whether a vendor API answered 401: the access token
// does not work (RFC 6750 section 3.1, invalid_token).
func tokenRefused(err error) bool {
	var ve *provider.VendorError
	return errors.As(err, &ve) && ve.Status == http.StatusUnauthorized
}

// coversSite reports whether the grant still covers the connection's site
// (vendors whose grants may cover several).
func coversSite(v vendors.Vendor, c connection.Connection, w provider.Who) bool {
	if !v.SiteChoice || c.SiteID == "" {
		return true
	}
	for _, s := range w.Sites {
		if s.ID == c.SiteID || strings.EqualFold(s.URL, strings.TrimRight(c.Instance, "/")) {
			return true
		}
	}
	return false
}
