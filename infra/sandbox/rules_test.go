package sandbox

import (
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// synthetic is the Atlassian app's client, pointed at a synthetic vendor
// that speaks Atlassian's dialect.
func (e *env) synthetic(id string) *oauth2.Config {
	cfg := e.atlassian(oauth2.AuthStyleInParams)
	base := e.url("/_sandbox/" + id)
	cfg.Endpoint.AuthURL, cfg.Endpoint.TokenURL = base+"/authorize", base+"/oauth/token"
	return cfg
}

// Each shape of refresh-token life a dialect can declare (Rules), walked
// on the sandbox's clock: when the vendor stops taking the grant's refresh
// token, used or left alone.
func TestRules(t *testing.T) {
	l := Lifetimes{Access: time.Hour, Refresh: 60 * day, Absolute: 200 * day}
	cases := []struct {
		name  string
		rules Rules
		// the grant refreshed every step days lives (or dies) by day end
		step   int
		usedOK bool // refreshed every step days, it still works at the end
		// left alone, it dies on this day (0: never within 400 days)
		idleDies int
	}{
		{"lifespan: refreshing never extends it", Rules{Expiry: ExpiryLifespan}, 20, false, 60},
		{"inactivity, rotating, single use", Rules{Rotates: true, Expiry: ExpiryInactivity}, 20, true, 60},
		{"inactivity, not rotating: a refresh is a use", Rules{Expiry: ExpiryInactivity}, 20, true, 60},
		{"inactivity and absolute", Rules{Rotates: true, ReuseLeeway: time.Minute, ReuseEndsGrant: true, Expiry: ExpiryInactivity, Absolute: true}, 20, false, 60},
		{"never expires", Rules{Expiry: ExpiryNever}, 20, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer Speak("synthetic", "confluence", tc.rules, l)()
			// Used: refreshed every step days for 300 days.
			e := newEnv(t, Config{})
			cfg := e.synthetic("synthetic")
			tok := e.connect(cfg, atlassianOpts()...)
			rt, alive := tok.RefreshToken, true
			for d := tc.step; d <= 300 && alive; d += tc.step {
				e.clock.Advance(time.Duration(tc.step) * day)
				next, err := e.refresh(cfg, rt)
				if err != nil {
					retrieveError(t, err, 403, "invalid_grant")
					alive = false
					break
				}
				if tc.rules.Rotates == (next.RefreshToken == rt) {
					t.Fatalf("day %d: rotated %v, want %v", d, next.RefreshToken != rt, tc.rules.Rotates)
				}
				if tc.rules.Rotates && tc.rules.ReuseLeeway == 0 {
					// Single use: the token just used is refused at once,
					// and the grant lives on.
					if _, live := e.server.RefreshTokenUser(rt); live {
						t.Fatalf("day %d: a single-use refresh token still works after its use", d)
					}
				}
				rt = next.RefreshToken
			}
			if alive != tc.usedOK {
				t.Fatalf("refreshed every %d days: alive %v at the end, want %v", tc.step, alive, tc.usedOK)
			}

			// Left alone.
			e = newEnv(t, Config{})
			cfg = e.synthetic("synthetic")
			rt = e.connect(cfg, atlassianOpts()...).RefreshToken
			for d := 1; d <= 400; d++ {
				e.clock.Advance(day)
				_, live := e.server.RefreshTokenUser(rt)
				if dead := tc.idleDies != 0 && d >= tc.idleDies; live == dead {
					t.Fatalf("left alone, day %d: alive %v", d, live)
				}
			}
		})
	}
}

// A retired token presented past the leeway: refused, and the grant ends
// only where the vendor says so (Atlassian), not elsewhere.
func TestReuseAfterLeeway(t *testing.T) {
	for _, ends := range []bool{true, false} {
		t.Run(map[bool]string{true: "ends the grant", false: "refused only"}[ends], func(t *testing.T) {
			reuseAfterLeeway(t, ends)
		})
	}
}

func reuseAfterLeeway(t *testing.T, ends bool) {
	defer Speak("synthetic", "confluence", Rules{Rotates: true, ReuseLeeway: time.Minute, ReuseEndsGrant: ends, Expiry: ExpiryInactivity},
		Lifetimes{Access: time.Hour, Refresh: 60 * day})()
	e := newEnv(t, Config{})
	cfg := e.synthetic("synthetic")
	old := e.connect(cfg, atlassianOpts()...).RefreshToken
	e.mustRefresh(cfg, old)
	// Within the leeway the old one is as good as the current one.
	cur := e.mustRefresh(cfg, old).RefreshToken
	e.clock.Advance(2 * time.Minute)
	_, err := e.refresh(cfg, old)
	retrieveError(t, err, 403, "invalid_grant")
	if _, live := e.server.RefreshTokenUser(cur); live == ends {
		t.Errorf("ReuseEndsGrant %v: the current token works %v", ends, live)
	}
}
