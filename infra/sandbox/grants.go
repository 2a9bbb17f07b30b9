package sandbox

import "time"

// grant is one authorization: what was approved, by whom, and its tokens.
type grant struct {
	vendor       string
	dialect      *dialect
	sites        []string // with instances: exactly the approving instance
	user         string
	clientID     string
	scope        string // granted (sandbox_scope narrows the requested one)
	authorizedAt time.Time

	refresh  string    // current refresh token; "" when none was issued
	lastUsed time.Time // when the current refresh token was issued or last refreshed with
	// revoked: the whole grant is dead, access tokens too (revoked at the
	// vendor's revocation endpoint, or a rotated-away token reused).
	revoked bool
	// refreshRevoked: its refresh tokens are dead (the revoke knob); the
	// access tokens already issued live until they expire.
	refreshRevoked bool
	listed         int // accessible-resources answers so far (order rotation)
}

// instance is, for a dialect with instances (ServiceNow), the instance
// that approved the grant, the only one whose endpoints take its tokens;
// "" for a dialect whose endpoints have no instance (Atlassian).
func (g *grant) instance() string {
	if g.dialect.instances {
		return g.sites[0]
	}
	return ""
}

// authCode is an approved authorization waiting to be exchanged: the grant
// it becomes (no tokens yet), and what the exchange must present.
type authCode struct {
	grant
	redirectURI string
	challenge   string // S256 code challenge; "" when none
	noRefresh   bool   // sandbox_no_refresh: the exchange issues no refresh token
	expires     time.Time
}

// accessToken is a live access token: the grant it acts for, and when it
// dies.
type accessToken struct {
	g       *grant
	expires time.Time
}

// refreshDead tells whether g's refresh token no longer works at now:
// the grant or its refresh tokens were revoked, or it is past its lifetime.
func (s *Server) refreshDead(g *grant, now time.Time) bool {
	return g.revoked || g.refreshRevoked || s.refreshExpired(g, now)
}

// refreshExpired tells whether g's refresh token is past its lifetime, by
// its dialect's Rules: Lifetimes.Refresh from the authorization
// (ExpiryLifespan) or from the token's last use (ExpiryInactivity), never
// (ExpiryNever), and, with an absolute limit, Lifetimes.Absolute from the
// authorization.
func (s *Server) refreshExpired(g *grant, now time.Time) bool {
	l := s.times[g.dialect]
	r := g.dialect.rules
	if r.Absolute && !now.Before(g.authorizedAt.Add(l.Absolute)) {
		return true
	}
	switch r.Expiry {
	case ExpiryInactivity:
		return !now.Before(g.lastUsed.Add(l.Refresh))
	case ExpiryNever:
		return false
	default:
		return !now.Before(g.authorizedAt.Add(l.Refresh))
	}
}

// sweepLocked forgets, now and then, what can no longer be used.
func (s *Server) sweepLocked() {
	s.issued++
	if s.issued%512 != 0 {
		return
	}
	now := s.now()
	for k, c := range s.codes {
		if !now.Before(c.expires) {
			delete(s.codes, k)
		}
	}
	for k, a := range s.access {
		if !now.Before(a.expires) || a.g.revoked {
			delete(s.access, k)
		}
	}
	for k, g := range s.refresh {
		if s.refreshDead(g, now) {
			delete(s.refresh, k)
		}
	}
	// A retired token is kept while its grant lives: its reuse ends it.
	for k, r := range s.retired {
		if s.refreshDead(r.g, now) {
			delete(s.retired, k)
		}
	}
}

// retiredToken is a refresh token rotated away: until until, it still
// works; presented later, its grant dies.
type retiredToken struct {
	g     *grant
	until time.Time
}

func (r retiredToken) reusable(now time.Time) bool { return now.Before(r.until) }

// RefreshTokenUser reports, without using the token, for which login a
// refresh with refreshToken would succeed now: live is false when the
// token is unknown, rotated away (past its dialect's reuse leeway),
// revoked or expired. Tests use it to prove a stored token still works
// without spending it.
func (s *Server) RefreshTokenUser(refreshToken string) (login string, live bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	g := s.refresh[refreshToken]
	if r, ok := s.retired[refreshToken]; ok && g == nil && r.reusable(now) {
		g = r.g
	}
	if refreshToken == "" || g == nil || s.refreshDead(g, now) {
		return "", false
	}
	return g.user, true
}

// grantOfLocked is the grant an access or refresh token names (nil for an
// unknown token), whatever state it is in.
func (s *Server) grantOfLocked(token string) *grant {
	if a := s.access[token]; a != nil {
		return a.g
	}
	return s.refresh[token]
}
