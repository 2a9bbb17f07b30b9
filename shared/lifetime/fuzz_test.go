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

// fuzzToken is a token response as x/oauth2 hands it over, in one of its two
// shapes. JSON: ExpiresIn is the wire's expires_in (x/oauth2 keeps it in
// int32 range) and the raw fields are JSON numbers (float64). Form-encoded:
// ExpiresIn is 0 and the raw fields are strings that Extra parses as it
// likes (int64, float64, or the string itself).
func fuzzToken(form bool, expiresIn int64, accessRaw, refreshRaw float64, accessForm, refreshForm string) *oauth2.Token {
	tok := &oauth2.Token{AccessToken: "a", RefreshToken: "r", TokenType: "Bearer"}
	if form {
		return tok.WithExtra(url.Values{"access_token": {"a"}, "expires_in": {accessForm}, "refresh_token_expires_in": {refreshForm}})
	}
	tok.ExpiresIn = max(min(expiresIn, math.MaxInt32), math.MinInt32)
	return tok.WithExtra(map[string]any{"access_token": "a", "expires_in": accessRaw, "refresh_token_expires_in": refreshRaw})
}

// refreshSays is what a token response says of refresh_token_expires_in:
// nothing usable (absent, text, zero or negative: the vendor's policy
// applies), an exact number of whole seconds below ten years, or another
// positive number (a fraction below one, or a huge one) whose expiry is
// only bounded.
func refreshSays(tok *oauth2.Token) (secs int64, exact, positive bool) {
	var f float64
	switch x := tok.Extra("refresh_token_expires_in").(type) {
	case float64:
		f = x
	case int64:
		f = float64(x)
	default:
		return 0, false, false
	}
	if f >= 1 && f < 10*365*86400 {
		return int64(f), true, true
	}
	return 0, false, f > 0
}

// FuzzExpiries: whatever numbers a token response carries (negative, zero,
// fractions, 1e300, text), the expiries computed from it are never before
// the time of the response, a rotating grant never outlives its absolute
// limit, and a plain positive refresh_token_expires_in is taken exactly.
func FuzzExpiries(f *testing.F) {
	sn, _ := vendors.Lookup("servicenow")
	atl, _ := vendors.Lookup("confluence")
	now := time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, form bool, expiresIn int64, accessRaw, refreshRaw float64, accessForm, refreshForm string) {
		tok := fuzzToken(form, expiresIn, accessRaw, refreshRaw, accessForm, refreshForm)
		for _, v := range []vendors.Vendor{sn, atl} {
			e := lifetime.Authorized(v, nil, tok, now)
			if e.Access.Before(now) || e.Refresh.Before(now) {
				t.Fatalf("%s: expiries before the response: access %v, refresh %v (token %+v)", v.ID, e.Access, e.Refresh, tok)
			}
			want := now.Add(v.Refresh.Lifespan)
			if v.Refresh.Rotating {
				if !e.Absolute.Equal(now.Add(v.Refresh.Absolute)) || e.Refresh.After(e.Absolute) {
					t.Fatalf("%s: refresh %v, absolute %v", v.ID, e.Refresh, e.Absolute)
				}
				want = now.Add(v.Refresh.Inactivity)
			} else if !e.Absolute.IsZero() {
				t.Fatalf("%s: an absolute limit %v for a non-rotating vendor", v.ID, e.Absolute)
			}
			switch secs, exact, positive := refreshSays(tok); {
			case exact:
				want = now.Add(time.Duration(secs) * time.Second)
				if v.Refresh.Rotating && want.After(e.Absolute) {
					want = e.Absolute
				}
			case positive:
				want = time.Time{} // only the bounds above
			}
			if !want.IsZero() && !e.Refresh.Equal(want) {
				t.Fatalf("%s: refresh expiry %v, want %v (refresh_token_expires_in %v)", v.ID, e.Refresh, want, tok.Extra("refresh_token_expires_in"))
			}

			var c connection.Connection
			e.Apply(&c)
			later := now.Add(time.Hour)
			r := lifetime.Refreshed(v, c, tok, later)
			if r.Access.Before(later) {
				t.Fatalf("%s: refreshed access expiry %v before the refresh", v.ID, r.Access)
			}
			if v.Refresh.Rotating {
				// A refresh restarts the window, never past the limit.
				if r.Refresh.Before(later) || r.Refresh.After(c.AbsoluteExpiresAt) {
					t.Fatalf("%s: refreshed expiry %v outside [%v, %v]", v.ID, r.Refresh, later, c.AbsoluteExpiresAt)
				}
			} else if !r.Refresh.Equal(c.RefreshTokenExpiresAt) {
				// A fixed lifespan, counted from the authorization.
				t.Fatalf("%s: a refresh moved a fixed lifespan from %v to %v", v.ID, c.RefreshTokenExpiresAt, r.Refresh)
			}
		}
	})
}
