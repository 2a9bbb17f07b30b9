package sandbox

import (
	"fmt"
	"strings"
	"time"
)

const day = 24 * time.Hour

// Lifetimes are how long one vendor's tokens live in the sandbox.
type Lifetimes struct {
	// Access is the lifetime of an access token (expires_in).
	Access time.Duration
	// Refresh is what the dialect's Rules.Expiry says: the refresh
	// token's lifespan counted from the authorization and never extended
	// by refreshing (ServiceNow), or the inactivity window, a refresh
	// token unused this long being dead (Atlassian); unused for a refresh
	// token that never expires.
	Refresh time.Duration
	// Absolute is the limit of a dialect with Rules.Absolute (Atlassian):
	// however often refreshed, a grant dies this long after the first
	// authorization. Ignored for the others.
	Absolute time.Duration
}

// Config tunes a sandbox. The zero value is the vendors' real behaviour on
// the wall clock.
type Config struct {
	// Clock tells the time for every expiry check; nil means time.Now.
	// Tests inject a clock they move forward.
	Clock func() time.Time

	// AccessTTL overrides the access-token lifetime of every vendor;
	// 0 keeps the vendor default (ServiceNow 30m, Atlassian 1h).
	AccessTTL time.Duration
	// RefreshTTL overrides every vendor's Lifetimes.Refresh (ServiceNow's
	// lifespan from authorization, Atlassian's inactivity window);
	// 0 keeps the vendor default (100 days, 90 days).
	RefreshTTL time.Duration
	// AbsoluteTTL overrides Atlassian's absolute limit after the first
	// grant; 0 keeps 365 days.
	AbsoluteTTL time.Duration

	// ServiceNow and Atlassian override one vendor's lifetimes, field by
	// field, and win over the fields above. Zero fields are not overrides.
	ServiceNow Lifetimes
	Atlassian  Lifetimes
}

// Environment variables read by ConfigFromEnv. Values are Go durations
// ("30m", "2400h"); empty or "0" keeps the vendor default.
const (
	EnvAccessTTL   = "SANDBOX_ACCESS_TTL"
	EnvRefreshTTL  = "SANDBOX_REFRESH_TTL"
	EnvAbsoluteTTL = "SANDBOX_REFRESH_ABSOLUTE_TTL"
)

// ConfigFromEnv builds a Config from SANDBOX_ACCESS_TTL, SANDBOX_REFRESH_TTL
// and SANDBOX_REFRESH_ABSOLUTE_TTL, read with getenv (os.Getenv in the local
// server). The clock is left nil: the wall clock.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var cfg Config
	for _, v := range []struct {
		name string
		dst  *time.Duration
	}{
		{EnvAccessTTL, &cfg.AccessTTL},
		{EnvRefreshTTL, &cfg.RefreshTTL},
		{EnvAbsoluteTTL, &cfg.AbsoluteTTL},
	} {
		raw := strings.TrimSpace(getenv(v.name))
		if raw == "" {
			continue
		}
		d, err := time.ParseDuration(raw)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %q is not a Go duration (like 30m or 2400h)", v.name, raw)
		}
		if d < 0 {
			return Config{}, fmt.Errorf("%s: %q must not be negative", v.name, raw)
		}
		*v.dst = d
	}
	return cfg, nil
}

// LifetimesFor resolves the effective lifetimes of a vendor id
// ("servicenow", "confluence"); ok is false for a vendor the sandbox does
// not speak.
func (c Config) LifetimesFor(vendorID string) (l Lifetimes, ok bool) {
	d, ok := dialects[vendorID]
	if !ok {
		return Lifetimes{}, false
	}
	return c.lifetimes(d), true
}

// lifetimes resolves a dialect's lifetimes: its defaults, overridden by
// c's fields for the vendor, else by c's fields for every vendor.
func (c Config) lifetimes(d *dialect) Lifetimes {
	l, over := d.lifetimes(c)
	pick := func(dst *time.Duration, vendor, global time.Duration) {
		switch {
		case vendor > 0:
			*dst = vendor
		case global > 0:
			*dst = global
		}
	}
	pick(&l.Access, over.Access, c.AccessTTL)
	pick(&l.Refresh, over.Refresh, c.RefreshTTL)
	if d.rules.Absolute {
		pick(&l.Absolute, over.Absolute, c.AbsoluteTTL)
	} else {
		l.Absolute = 0
	}
	return l
}
