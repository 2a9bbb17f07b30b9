package lifetime_test

import (
	"math"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/lifetime"
	"github.com/workplace/connections/shared/vendors"
)

const day = 24 * time.Hour

var (
	now        = time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)
	wallClock  = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC) // what x/oauth2 would have put in Expiry
	warnWindow = 10 * day
)

func mustVendor(t *testing.T, id string) vendors.Vendor {
	t.Helper()
	v, ok := vendors.Lookup(id)
	if !ok {
		t.Fatalf("no vendor %s", id)
	}
	return v
}

// token is a token response as x/oauth2 returns it from a JSON answer:
// ExpiresIn from the wire, Expiry computed from the wall clock, the raw
// fields as Extra.
func token(expiresIn int64, extra map[string]any) *oauth2.Token {
	tok := &oauth2.Token{AccessToken: "a", RefreshToken: "r", ExpiresIn: expiresIn}
	if expiresIn > 0 {
		tok.Expiry = wallClock.Add(time.Duration(expiresIn) * time.Second)
	}
	raw := map[string]any{"access_token": "a", "refresh_token": "r"}
	if expiresIn > 0 {
		raw["expires_in"] = float64(expiresIn)
	}
	for k, v := range extra {
		raw[k] = v
	}
	return tok.WithExtra(raw)
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestAuthorizedServiceNow(t *testing.T) {
	sn := mustVendor(t, "servicenow")
	t.Run("vendor policy: 100 days from the authorization, no absolute limit", func(t *testing.T) {
		e := lifetime.Authorized(sn, nil, token(1799, nil), now)
		sameTime(t, "access", e.Access, now.Add(1799*time.Second))
		sameTime(t, "refresh", e.Refresh, now.Add(100*day))
		sameTime(t, "absolute", e.Absolute, time.Time{})
	})
	t.Run("the settings lifespan wins over the vendor default", func(t *testing.T) {
		set := &connection.Settings{RefreshTokenLifespanDays: 30}
		e := lifetime.Authorized(sn, set, token(1799, nil), now)
		sameTime(t, "refresh", e.Refresh, now.Add(30*day))
	})
	t.Run("settings without a lifespan keep the vendor default", func(t *testing.T) {
		e := lifetime.Authorized(sn, &connection.Settings{}, token(1799, nil), now)
		sameTime(t, "refresh", e.Refresh, now.Add(100*day))
	})
	t.Run("refresh_token_expires_in wins over the settings lifespan", func(t *testing.T) {
		set := &connection.Settings{RefreshTokenLifespanDays: 30}
		e := lifetime.Authorized(sn, set, token(1799, map[string]any{"refresh_token_expires_in": float64(7 * 86400)}), now)
		sameTime(t, "refresh", e.Refresh, now.Add(7*day))
	})
	t.Run("refresh_token_expires_in of a form-encoded answer", func(t *testing.T) {
		tok := (&oauth2.Token{AccessToken: "a"}).WithExtra(url.Values{
			"access_token": {"a"}, "expires_in": {"1799"}, "refresh_token_expires_in": {"86400"},
		})
		e := lifetime.Authorized(sn, nil, tok, now)
		sameTime(t, "refresh", e.Refresh, now.Add(day))
		sameTime(t, "access", e.Access, now.Add(1799*time.Second))
	})
	t.Run("zero or missing refresh_token_expires_in is ignored", func(t *testing.T) {
		e := lifetime.Authorized(sn, nil, token(1799, map[string]any{"refresh_token_expires_in": float64(0)}), now)
		sameTime(t, "refresh", e.Refresh, now.Add(100*day))
	})
}

func TestAuthorizedConfluence(t *testing.T) {
	cf := mustVendor(t, "confluence")
	t.Run("vendor policy: 90 days of inactivity within 365 days", func(t *testing.T) {
		e := lifetime.Authorized(cf, nil, token(3600, nil), now)
		sameTime(t, "access", e.Access, now.Add(time.Hour))
		sameTime(t, "refresh", e.Refresh, now.Add(90*day))
		sameTime(t, "absolute", e.Absolute, now.Add(365*day))
	})
	t.Run("refresh_token_expires_in is used", func(t *testing.T) {
		e := lifetime.Authorized(cf, nil, token(3600, map[string]any{"refresh_token_expires_in": float64(30 * 86400)}), now)
		sameTime(t, "refresh", e.Refresh, now.Add(30*day))
		sameTime(t, "absolute", e.Absolute, now.Add(365*day))
	})
	t.Run("refresh_token_expires_in never passes the absolute limit", func(t *testing.T) {
		e := lifetime.Authorized(cf, nil, token(3600, map[string]any{"refresh_token_expires_in": float64(400 * 86400)}), now)
		sameTime(t, "refresh", e.Refresh, now.Add(365*day))
	})
	t.Run("a settings lifespan does not apply to a rotating vendor", func(t *testing.T) {
		e := lifetime.Authorized(cf, &connection.Settings{RefreshTokenLifespanDays: 5}, token(3600, nil), now)
		sameTime(t, "refresh", e.Refresh, now.Add(90*day))
	})
}

// The access-token expiry counts expires_in from the given time (the scan's
// event time), not from the wall clock x/oauth2 filled Expiry with.
func TestAccessExpiry(t *testing.T) {
	cf := mustVendor(t, "confluence")
	sameTime(t, "from expires_in", lifetime.Authorized(cf, nil, token(600, nil), now).Access, now.Add(10*time.Minute))
	onlyExpiry := &oauth2.Token{AccessToken: "a", Expiry: now.Add(5 * time.Minute)}
	sameTime(t, "from Expiry when there is no expires_in", lifetime.Authorized(cf, nil, onlyExpiry, now).Access, now.Add(5*time.Minute))
	sameTime(t, "vendor default when the answer says nothing", lifetime.Authorized(cf, nil, &oauth2.Token{AccessToken: "a"}, now).Access, now.Add(time.Hour))
	sn := mustVendor(t, "servicenow")
	sameTime(t, "ServiceNow default", lifetime.Authorized(sn, nil, &oauth2.Token{AccessToken: "a"}, now).Access, now.Add(30*time.Minute))
}

// TestHugeLifetimes: a lifetime longer than a time.Duration holds (found
// by FuzzExpiries) is "as good as never", not an overflow into an expiry
// in the past that would mark a fresh connection expired at once.
func TestHugeLifetimes(t *testing.T) {
	sn := mustVendor(t, "servicenow")
	cf := mustVendor(t, "confluence")
	longest := now.Add(time.Duration(math.MaxInt64 / int64(time.Second) * int64(time.Second)))
	t.Run("JSON refresh_token_expires_in of 1e10 seconds", func(t *testing.T) {
		e := lifetime.Authorized(sn, nil, token(1800, map[string]any{"refresh_token_expires_in": 1e10}), now)
		sameTime(t, "refresh", e.Refresh, longest)
		// Rotating grants stop at their absolute limit however long.
		e = lifetime.Authorized(cf, nil, token(3600, map[string]any{"refresh_token_expires_in": 1e300}), now)
		sameTime(t, "Confluence refresh", e.Refresh, now.Add(365*day))
	})
	t.Run("form-encoded expires_in beyond int64 nanoseconds", func(t *testing.T) {
		tok := (&oauth2.Token{AccessToken: "a"}).WithExtra(url.Values{
			"expires_in": {"99999999999999999"}, "refresh_token_expires_in": {"9223372036854775807"},
		})
		e := lifetime.Authorized(sn, nil, tok, now)
		sameTime(t, "access", e.Access, longest)
		sameTime(t, "refresh", e.Refresh, longest)
	})
}

func TestRefreshed(t *testing.T) {
	granted := now.Add(-40 * day)
	t.Run("ServiceNow keeps its refresh expiry: refreshing does not extend it", func(t *testing.T) {
		sn := mustVendor(t, "servicenow")
		c := connection.Connection{RefreshTokenExpiresAt: granted.Add(100 * day)}
		e := lifetime.Refreshed(sn, c, token(1799, map[string]any{"refresh_token_expires_in": float64(500 * 86400)}), now)
		sameTime(t, "access", e.Access, now.Add(1799*time.Second))
		sameTime(t, "refresh", e.Refresh, granted.Add(100*day))
		sameTime(t, "absolute", e.Absolute, time.Time{})
	})
	cf := mustVendor(t, "confluence")
	c := connection.Connection{RefreshTokenExpiresAt: granted.Add(90 * day), AbsoluteExpiresAt: granted.Add(365 * day)}
	t.Run("Confluence restarts the inactivity window", func(t *testing.T) {
		e := lifetime.Refreshed(cf, c, token(3600, nil), now)
		sameTime(t, "access", e.Access, now.Add(time.Hour))
		sameTime(t, "refresh", e.Refresh, now.Add(90*day))
		sameTime(t, "absolute", e.Absolute, granted.Add(365*day))
	})
	t.Run("Confluence takes refresh_token_expires_in", func(t *testing.T) {
		e := lifetime.Refreshed(cf, c, token(3600, map[string]any{"refresh_token_expires_in": float64(20 * 86400)}), now)
		sameTime(t, "refresh", e.Refresh, now.Add(20*day))
	})
	t.Run("never past the absolute limit", func(t *testing.T) {
		late := now.Add(300 * day)
		e := lifetime.Refreshed(cf, c, token(3600, nil), late)
		sameTime(t, "refresh", e.Refresh, granted.Add(365*day))
	})
	t.Run("Apply writes the expiries onto the connection", func(t *testing.T) {
		e := lifetime.Refreshed(cf, c, token(3600, nil), now)
		got := c
		e.Apply(&got)
		sameTime(t, "AccessTokenExpiresAt", got.AccessTokenExpiresAt, e.Access)
		sameTime(t, "RefreshTokenExpiresAt", got.RefreshTokenExpiresAt, e.Refresh)
		sameTime(t, "AbsoluteExpiresAt", got.AbsoluteExpiresAt, e.Absolute)
	})
}

func TestKeepAliveAt(t *testing.T) {
	sn, cf := mustVendor(t, "servicenow"), mustVendor(t, "confluence")
	if k := lifetime.KeepAliveAt(sn, connection.Connection{RefreshTokenExpiresAt: now.Add(100 * day)}); !k.IsZero() {
		t.Errorf("ServiceNow keep-alive = %v, want none: refreshing extends nothing", k)
	}
	fresh := connection.Connection{RefreshTokenExpiresAt: now.Add(90 * day), AbsoluteExpiresAt: now.Add(365 * day)}
	sameTime(t, "keep-alive half way through the inactivity window", lifetime.KeepAliveAt(cf, fresh), now.Add(45*day))
	if k := lifetime.KeepAliveAt(cf, connection.Connection{}); !k.IsZero() {
		t.Errorf("keep-alive of a connection without expiry = %v, want none", k)
	}
	// Once the inactivity window reaches the absolute limit a refresh can
	// extend nothing: no keep-alive (before the fix, every run from then on
	// refreshed, and the connection never left the due index).
	capped := connection.Connection{RefreshTokenExpiresAt: now.Add(20 * day), AbsoluteExpiresAt: now.Add(20 * day)}
	if k := lifetime.KeepAliveAt(cf, capped); !k.IsZero() {
		t.Errorf("keep-alive at the absolute limit = %v, want none", k)
	}
	// A window that still ends before the limit is kept alive.
	almost := connection.Connection{RefreshTokenExpiresAt: now.Add(60 * day), AbsoluteExpiresAt: now.Add(70 * day)}
	sameTime(t, "keep-alive short of the limit", lifetime.KeepAliveAt(cf, almost), now.Add(15*day))
}

// A monthly scan keeps a rotating grant alive: from any refresh, the next
// keep-alive falls within 90 days of it even when the scan comes 30 days
// late, and the grant lives until the absolute limit.
func TestKeepAliveMonthly(t *testing.T) {
	cf := mustVendor(t, "confluence")
	c := connection.Connection{}
	lifetime.Authorized(cf, nil, token(3600, nil), now).Apply(&c)
	refreshes := 0
	for scan := now; scan.Before(c.AbsoluteExpiresAt); scan = scan.Add(30 * day) {
		if c.IsExpired(scan) {
			t.Fatalf("expired at day %v", scan.Sub(now)/day)
		}
		if k := lifetime.KeepAliveAt(cf, c); !k.IsZero() && !scan.Before(k) {
			lifetime.Refreshed(cf, c, token(3600, nil), scan).Apply(&c)
			refreshes++
		}
	}
	if c.IsExpired(now.Add(364 * day)) {
		t.Fatal("expired before the absolute limit")
	}
	if !c.IsExpired(now.Add(365 * day)) {
		t.Fatal("alive after the absolute limit")
	}
	if refreshes != 5 { // days 60, 120, 180, 240, 300
		t.Errorf("refreshed %d times, want 5", refreshes)
	}
}

func TestWarnAt(t *testing.T) {
	sn, cf := mustVendor(t, "servicenow"), mustVendor(t, "confluence")
	sameTime(t, "ServiceNow: before the refresh expiry", lifetime.WarnAt(sn,
		connection.Connection{RefreshTokenExpiresAt: now.Add(100 * day)}, warnWindow), now.Add(90*day))
	sameTime(t, "Confluence: before the absolute limit, not the inactivity expiry", lifetime.WarnAt(cf,
		connection.Connection{RefreshTokenExpiresAt: now.Add(90 * day), AbsoluteExpiresAt: now.Add(365 * day)}, warnWindow), now.Add(355*day))
	if w := lifetime.WarnAt(cf, connection.Connection{RefreshTokenExpiresAt: now.Add(90 * day)}, warnWindow); !w.IsZero() {
		t.Errorf("warning of a rotating grant without absolute limit = %v, want none", w)
	}
}

func TestNextCheck(t *testing.T) {
	sn, cf := mustVendor(t, "servicenow"), mustVendor(t, "confluence")
	snConn := connection.Connection{RefreshTokenExpiresAt: now.Add(100 * day)}
	cases := []struct {
		name   string
		v      vendors.Vendor
		c      connection.Connection
		warned bool
		want   time.Time
	}{
		{"ServiceNow: the warning comes first", sn, snConn, false, now.Add(90 * day)},
		{"ServiceNow warned: the expiry", sn, snConn, true, now.Add(100 * day)},
		{"a refresh expiry before the warning", sn, connection.Connection{RefreshTokenExpiresAt: now.Add(5 * day)}, false, now.Add(-5 * day)},
		{"Confluence: the keep-alive comes first", cf,
			connection.Connection{RefreshTokenExpiresAt: now.Add(90 * day), AbsoluteExpiresAt: now.Add(365 * day)}, false, now.Add(45 * day)},
		{"Confluence in its last window: the warning", cf,
			connection.Connection{RefreshTokenExpiresAt: now.Add(30 * day), AbsoluteExpiresAt: now.Add(30 * day)}, false, now.Add(20 * day)},
		{"Confluence in its last window, warned: the absolute limit", cf,
			connection.Connection{RefreshTokenExpiresAt: now.Add(30 * day), AbsoluteExpiresAt: now.Add(30 * day)}, true, now.Add(30 * day)},
		{"Confluence: inactivity expiry before a late keep-alive", cf,
			connection.Connection{RefreshTokenExpiresAt: now.Add(10 * day), AbsoluteExpiresAt: now.Add(200 * day)}, false, now.Add(-35 * day)},
		{"expired: never", sn, connection.Connection{RefreshTokenExpiresAt: now.Add(100 * day), Expired: true}, false, time.Time{}},
		{"nothing known: never", sn, connection.Connection{}, false, time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sameTime(t, "next check", lifetime.NextCheck(tc.v, tc.c, lifetime.Checks{Warning: warnWindow}, tc.warned), tc.want)
		})
	}
}
