package lifetime_test

import (
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/lifetime"
	"github.com/workplace/connections/shared/vendors"
)

// policyVendor is a synthetic registry entry with policy p: only the
// policy matters to package lifetime.
func policyVendor(t *testing.T, p vendors.RefreshPolicy) vendors.Vendor {
	t.Helper()
	if err := p.Check(); err != nil {
		t.Fatalf("policy %+v: %v", p, err)
	}
	return vendors.Vendor{ID: "synthetic", Refresh: p}
}

// TestPolicyShapes walks each of the five shapes a RefreshPolicy takes
// (with the numbers of DESIGN §10) through what the scan plans from it
// alone: the expiries at authorization, when it keeps the grant alive or
// checks an idle one, when it warns, and what a refresh changes.
func TestPolicyShapes(t *testing.T) {
	idle := lifetime.Checks{Warning: warnWindow, Idle: 30 * day}
	never := time.Time{}
	cases := []struct {
		name   string
		policy vendors.RefreshPolicy
		// at the authorization (now)
		refresh, absolute time.Time
		// what the scan plans for the fresh grant
		keepAlive, idleCheck, warn, next time.Time
		// after a refresh 40 days later
		refreshAfter time.Time
	}{
		{"fixed lifespan (ServiceNow)",
			vendors.RefreshPolicy{Lifespan: 100 * day, AccessTTL: time.Hour},
			now.Add(100 * day), never,
			never, never, now.Add(90 * day), now.Add(90 * day),
			now.Add(100 * day)},
		{"rotating, inactivity (SharePoint)",
			vendors.RefreshPolicy{Rotating: true, Inactivity: 90 * day, AccessTTL: time.Hour},
			now.Add(90 * day), never,
			now.Add(45 * day), never, never, now.Add(45 * day),
			now.Add(130 * day)},
		{"rotating single use, inactivity (Box)",
			vendors.RefreshPolicy{Rotating: true, SingleUse: true, Inactivity: 60 * day, AccessTTL: time.Hour},
			now.Add(60 * day), never,
			now.Add(30 * day), never, never, now.Add(30 * day),
			now.Add(100 * day)},
		{"rotating, inactivity and absolute (Atlassian)",
			vendors.RefreshPolicy{Rotating: true, Inactivity: 90 * day, Absolute: 365 * day, AccessTTL: time.Hour},
			now.Add(90 * day), now.Add(365 * day),
			now.Add(45 * day), never, now.Add(355 * day), now.Add(45 * day),
			now.Add(130 * day)},
		{"not rotating, inactivity: a refresh is a use (Google)",
			vendors.RefreshPolicy{Inactivity: 180 * day, AccessTTL: time.Hour},
			now.Add(180 * day), never,
			now.Add(90 * day), never, never, now.Add(90 * day),
			now.Add(220 * day)},
		{"never expires (Dropbox)",
			vendors.RefreshPolicy{NeverExpires: true, AccessTTL: 4 * time.Hour},
			never, never,
			never, now.Add(30 * day), never, now.Add(30 * day),
			never},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := policyVendor(t, tc.policy)
			c := connection.Connection{GrantedAt: now, LastRefreshedAt: now}
			lifetime.Authorized(v, nil, token(3600, nil), now).Apply(&c)
			sameTime(t, "refresh expiry", c.RefreshTokenExpiresAt, tc.refresh)
			sameTime(t, "absolute limit", c.AbsoluteExpiresAt, tc.absolute)
			sameTime(t, "keep-alive", lifetime.KeepAliveAt(v, c), tc.keepAlive)
			sameTime(t, "idle check", lifetime.IdleCheckAt(v, c, idle), tc.idleCheck)
			sameTime(t, "warning", lifetime.WarnAt(v, c, warnWindow), tc.warn)
			sameTime(t, "next check", lifetime.NextCheck(v, c, idle, false), tc.next)
			if st := c.Status(now.Add(400*day), v.Refresh.Extendable(), warnWindow); tc.refresh.IsZero() && tc.absolute.IsZero() && st != connection.StatusConnected {
				t.Errorf("a grant without expiry is %s 400 days on, want connected", st)
			}

			// What the scan does when it is due, and what it leaves.
			planned := tc.keepAlive
			if planned.IsZero() {
				planned = tc.idleCheck
			}
			for _, at := range []time.Time{planned.Add(-time.Second), planned} {
				due, isIdle := lifetime.RefreshDue(v, c, idle, at)
				if want := !planned.IsZero() && !at.Before(planned); due != want || isIdle != (want && !tc.idleCheck.IsZero()) {
					t.Errorf("refresh due at %v: %v (idle %v), want %v", at, due, isIdle, want)
				}
			}
			later := now.Add(40 * day)
			lifetime.Refreshed(v, c, token(3600, nil), later).Apply(&c)
			c.LastRefreshedAt = later
			sameTime(t, "refresh expiry after a refresh", c.RefreshTokenExpiresAt, tc.refreshAfter)
			sameTime(t, "absolute limit after a refresh", c.AbsoluteExpiresAt, tc.absolute)
			if !tc.idleCheck.IsZero() {
				sameTime(t, "idle check after a refresh", lifetime.IdleCheckAt(v, c, idle), later.Add(30*day))
			}
		})
	}
}

// The idle check waits IDLE_CHECK_DAYS as configured, 30 days by default.
func TestIdleCheckDays(t *testing.T) {
	v := policyVendor(t, vendors.RefreshPolicy{NeverExpires: true, AccessTTL: time.Hour})
	c := connection.Connection{GrantedAt: now}
	sameTime(t, "default", lifetime.IdleCheckAt(v, c, lifetime.Checks{}), now.Add(30*day))
	sameTime(t, "7 days", lifetime.IdleCheckAt(v, c, lifetime.Checks{Idle: 7 * day}), now.Add(7*day))
	c.LastRefreshedAt = now.Add(3 * day)
	sameTime(t, "from the last refresh", lifetime.IdleCheckAt(v, c, lifetime.Checks{Idle: 7 * day}), now.Add(10*day))
	// A vendor that does say when the refresh token expires has an expiry
	// to plan and warn about instead.
	lifetime.Authorized(v, nil, token(3600, map[string]any{"refresh_token_expires_in": float64(50 * 86400)}), now).Apply(&c)
	if at := lifetime.IdleCheckAt(v, c, lifetime.Checks{}); !at.IsZero() {
		t.Errorf("idle check of a grant with an expiry = %v, want none", at)
	}
	sameTime(t, "warning", lifetime.WarnAt(v, c, warnWindow), now.Add(40*day))
}
