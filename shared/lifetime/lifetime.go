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

// Authorized is the expiry of a grant just authorized at now, from the
// vendor's policy (and the account's lifespan setting), unless the token
// response says when its refresh token expires.
func Authorized(v vendors.Vendor, s *connection.Settings, tok *oauth2.Token, now time.Time) Expiries {
	p := v.Refresh
	e := Expiries{Access: accessExpiry(v, tok, now)}
	if p.Absolute > 0 {
		e.Absolute = now.Add(p.Absolute)
	}
	switch {
	case p.NeverExpires:
		// No expiry: Refresh stays zero.
	case p.Extendable():
		e.Refresh = now.Add(p.Inactivity)
	default:
		e.Refresh = now.Add(lifespan(v, s))
	}
	if d, ok := refreshExpiresIn(tok); ok {
		e.Refresh = now.Add(d)
	}
	e.Refresh = capAt(e.Refresh, e.Absolute)
	return e
}

// Refreshed is the expiry after a successful refresh at now of a connection.
// A refresh is a use: where the policy has an inactivity window it restarts
// (rotating or not), never past the absolute limit; a lifespan, and a grant
// that never expires, stay as they were.
func Refreshed(v vendors.Vendor, c connection.Connection, tok *oauth2.Token, now time.Time) Expiries {
	e := Expiries{Access: accessExpiry(v, tok, now), Refresh: c.RefreshTokenExpiresAt, Absolute: c.AbsoluteExpiresAt}
	if v.Refresh.Extendable() {
		e.Refresh = now.Add(v.Refresh.Inactivity)
		if d, ok := refreshExpiresIn(tok); ok {
			e.Refresh = now.Add(d)
		}
		e.Refresh = capAt(e.Refresh, e.Absolute)
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

// Checks are the scan's windows, from the configuration.
type Checks struct {
	// Warning is how long before an expiry no refresh can move the
	// expiring notice is due (WARNING_DAYS).
	Warning time.Duration
	// Idle is how long a grant that never expires goes without a refresh
	// before the scan refreshes it to learn whether it still works
	// (IDLE_CHECK_DAYS; zero: DefaultIdleCheck).
	Idle time.Duration
}

// DefaultIdleCheck is IDLE_CHECK_DAYS's default.
const DefaultIdleCheck = 30 * 24 * time.Hour

func (k Checks) idle() time.Duration {
	if k.Idle > 0 {
		return k.Idle
	}
	return DefaultIdleCheck
}

// KeepAliveAt is when a grant with an inactivity window should be
// refreshed (rotating or not: a refresh is a use): once half of the window
// has passed, so that a scan at least every half window (30 days for a
// 60-day window) renews it in time. Zero when there is nothing to extend:
// no inactivity window, or the refresh token already lives up to the
// absolute limit, which no refresh can move.
func KeepAliveAt(v vendors.Vendor, c connection.Connection) time.Time {
	if !v.Refresh.Extendable() || c.RefreshTokenExpiresAt.IsZero() {
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

// IdleCheckAt is when a grant that never expires should be refreshed to
// learn whether it still works: k.Idle after its last refresh (or its
// authorization). Zero for every other policy, whose refreshes or expiry
// the scan plans anyway.
func IdleCheckAt(v vendors.Vendor, c connection.Connection, k Checks) time.Time {
	if !v.Refresh.NeverExpires || !c.RefreshTokenExpiresAt.IsZero() {
		return time.Time{}
	}
	last := c.LastRefreshedAt
	if c.GrantedAt.After(last) {
		last = c.GrantedAt
	}
	if last.IsZero() {
		last = c.CreatedAt
	}
	return last.Add(k.idle())
}

// RefreshDue reports whether the scan should refresh the grant at now: a
// keep-alive before its inactivity window closes, or the idle check of a
// grant that never expires. idle says which.
func RefreshDue(v vendors.Vendor, c connection.Connection, k Checks, now time.Time) (due, idle bool) {
	if KeepAliveDue(v, c, now) {
		return true, false
	}
	at := IdleCheckAt(v, c, k)
	if !at.IsZero() && !at.After(now) {
		return true, true
	}
	return false, false
}

// WarnAt is when the expiring notice is due: the warning window before the
// expiry no refresh can extend. Zero when there is none.
func WarnAt(v vendors.Vendor, c connection.Connection, warn time.Duration) time.Time {
	h := c.HardExpiry(v.Refresh.Extendable())
	if h.IsZero() {
		return time.Time{}
	}
	return h.Add(-warn)
}

// NextCheck is when the scan should next look at the connection: the first of
// keep-alive, the idle check, the warning (unless already given) and the
// expiry. Zero means never (an expired connection whose notice is out waits
// for a reconnect).
func NextCheck(v vendors.Vendor, c connection.Connection, k Checks, warned bool) time.Time {
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
	consider(IdleCheckAt(v, c, k))
	if !warned {
		consider(WarnAt(v, c, k.Warning))
	}
	consider(c.RefreshTokenExpiresAt)
	consider(c.HardExpiry(v.Refresh.Extendable()))
	return next
}

// capAt is t, but never past limit (a zero t or limit is no time).
func capAt(t, limit time.Time) time.Time {
	if t.IsZero() || limit.IsZero() {
		return t
	}
	return minTime(t, limit)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
