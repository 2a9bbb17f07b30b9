// Package lifetime knows how long a grant lives: it turns a token response
// and the vendor's policy into expiry times, and says when the expiry scan
// should look at a connection next.
package lifetime

import (
	"math"
	"time"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vendors"
)

// Expiries of a grant.
type Expiries struct {
	Access   time.Time
	Refresh  time.Time // when the refresh token stops working if nothing is done
	Absolute time.Time // a limit no refresh extends (rotating vendors)
}

// lifespan is the refresh-token lifespan of a non-rotating vendor, from the
// account's settings when set.
func lifespan(v vendors.Vendor, s *connection.Settings) time.Duration {
	if s != nil && s.RefreshTokenLifespanDays > 0 {
		return time.Duration(s.RefreshTokenLifespanDays) * 24 * time.Hour
	}
	return v.Refresh.Lifespan
}

// refreshExpiresIn reads refresh_token_expires_in from a token response.
func refreshExpiresIn(tok *oauth2.Token) (time.Duration, bool) {
	return secondsExtra(tok, "refresh_token_expires_in")
}

// secondsExtra reads a positive number of seconds from a token response
// field (a JSON number, or an integer in a form-encoded response).
func secondsExtra(tok *oauth2.Token, key string) (time.Duration, bool) {
	switch x := tok.Extra(key).(type) {
	case float64:
		if !(x > 0) { // also NaN
			return 0, false
		}
		return seconds(int64(min(x, float64(maxSeconds)))), true
	case int64:
		return seconds(x), x > 0
	case int:
		return seconds(int64(x)), x > 0
	}
	return 0, false
}

// maxSeconds is the longest time.Duration in whole seconds (about 292
// years). A vendor may send more (a form-encoded expires_in is any int64,
// a JSON number any float): that is "as good as never", and converting it
// as it is would overflow into an expiry in the past.
const maxSeconds = math.MaxInt64 / int64(time.Second)

// seconds is n seconds, at most maxSeconds.
func seconds(n int64) time.Duration {
	return time.Duration(min(n, maxSeconds)) * time.Second
}

// accessExpiry is when the access token dies: expires_in counted from now
// (the caller's clock, e.g. the scan's event time), not from the wall clock
// x/oauth2 used to fill tok.Expiry, so that expiries are reproducible.
func accessExpiry(v vendors.Vendor, tok *oauth2.Token, now time.Time) time.Time {
	if tok.ExpiresIn > 0 {
		return now.Add(seconds(tok.ExpiresIn))
	}
	if d, ok := secondsExtra(tok, "expires_in"); ok {
		return now.Add(d)
	}
	if !tok.Expiry.IsZero() {
		return tok.Expiry.UTC()
	}
	return now.Add(v.Refresh.AccessTTL)
}

// Authorized is the expiry of a grant just authorized at now.
func Authorized(v vendors.Vendor, s *connection.Settings, tok *oauth2.Token, now time.Time) Expiries {
	e := Expiries{Access: accessExpiry(v, tok, now)}
	if v.Refresh.Rotating {
		e.Absolute = now.Add(v.Refresh.Absolute)
		e.Refresh = minTime(now.Add(v.Refresh.Inactivity), e.Absolute)
	} else {
		e.Refresh = now.Add(lifespan(v, s))
	}
	if d, ok := refreshExpiresIn(tok); ok {
		e.Refresh = now.Add(d)
		if !e.Absolute.IsZero() {
			e.Refresh = minTime(e.Refresh, e.Absolute)
		}
	}
	return e
}

// Refreshed is the expiry after a successful refresh at now of a connection.
// Non-rotating vendors keep their refresh expiry; rotating ones restart the
// inactivity window, never past the absolute limit.
func Refreshed(v vendors.Vendor, c connection.Connection, tok *oauth2.Token, now time.Time) Expiries {
	e := Expiries{Access: accessExpiry(v, tok, now), Refresh: c.RefreshTokenExpiresAt, Absolute: c.AbsoluteExpiresAt}
	if v.Refresh.Rotating {
		e.Refresh = now.Add(v.Refresh.Inactivity)
		if d, ok := refreshExpiresIn(tok); ok {
			e.Refresh = now.Add(d)
		}
		if !e.Absolute.IsZero() {
			e.Refresh = minTime(e.Refresh, e.Absolute)
		}
	}
	return e
}

// Apply writes expiries onto a connection.
func (e Expiries) Apply(c *connection.Connection) {
	c.AccessTokenExpiresAt = e.Access
	c.RefreshTokenExpiresAt = e.Refresh
	c.AbsoluteExpiresAt = e.Absolute
}

// Tokens is what the vault keeps of a token response with these expiries.
func (e Expiries) Tokens(tok *oauth2.Token) vault.Tokens {
	t := vault.Tokens{
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: tok.TokenType,
		AccessTokenExpiresAt: e.Access, RefreshTokenExpiresAt: e.Refresh,
	}
	if sc, ok := tok.Extra("scope").(string); ok {
		t.Scope = sc
	}
	return t
}

// KeepAliveAt is when a rotating grant should be refreshed: once half of its
// inactivity window has passed, so that even a monthly scan renews it in time.
// Zero when there is nothing to extend: the refresh token already lives up
// to the absolute limit, which no refresh can move.
func KeepAliveAt(v vendors.Vendor, c connection.Connection) time.Time {
	if !v.Refresh.Rotating || c.RefreshTokenExpiresAt.IsZero() {
		return time.Time{}
	}
	if !c.AbsoluteExpiresAt.IsZero() && !c.RefreshTokenExpiresAt.Before(c.AbsoluteExpiresAt) {
		return time.Time{}
	}
	return c.RefreshTokenExpiresAt.Add(-v.Refresh.Inactivity / 2)
}

// KeepAliveDue reports whether a refresh of the grant is due at now.
func KeepAliveDue(v vendors.Vendor, c connection.Connection, now time.Time) bool {
	at := KeepAliveAt(v, c)
	return !at.IsZero() && !at.After(now)
}

// WarnAt is when the expiring notice is due: the warning window before the
// expiry no refresh can extend.
func WarnAt(v vendors.Vendor, c connection.Connection, warn time.Duration) time.Time {
	h := c.HardExpiry(v.Refresh.Rotating)
	if h.IsZero() {
		return time.Time{}
	}
	return h.Add(-warn)
}

// NextCheck is when the scan should next look at the connection: the first of
// keep-alive, the warning (unless already given) and the expiry. Zero means
// never (an expired connection whose notice is out waits for a reconnect).
func NextCheck(v vendors.Vendor, c connection.Connection, warn time.Duration, warned bool) time.Time {
	if c.Expired {
		return time.Time{}
	}
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	consider(KeepAliveAt(v, c))
	if !warned {
		consider(WarnAt(v, c, warn))
	}
	consider(c.RefreshTokenExpiresAt)
	if h := c.HardExpiry(v.Refresh.Rotating); !h.IsZero() {
		consider(h)
	}
	return next
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
