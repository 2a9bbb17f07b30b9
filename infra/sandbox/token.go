package sandbox

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"time"
)

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// reply is an answer computed under the lock and written after it.
type reply struct {
	status int
	body   any
}

// token serves a token endpoint. instance is the path instance of a
// dialect with instances ("" otherwise).
//
// Every POST whose body can be read is counted by its grant_type
// (stats.go) before anything else is decided, so the count is of requests
// received, answered with tokens, a refusal or an outage's status alike.
func (s *Server) token(w http.ResponseWriter, r *http.Request, vendorID string, d *dialect, instance string) {
	outage := s.outage(vendorID)
	if outage == 0 && !allow(w, r, http.MethodPost) {
		return
	}
	// Without an outage the method is POST here; during one, any method
	// gets the outage's answer, and only a POST is read and counted.
	var params map[string]string
	var err error
	if r.Method == http.MethodPost {
		if params, err = readParams(w, r, d.jsonBody); err == nil {
			s.countTokenRequest(vendorID, params["grant_type"])
		}
	}
	if outage != 0 {
		writeOutage(w, vendorID, outage)
		return
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", err.Error()})
		return
	}
	clientID, secret, ok := clientCredentials(r, params, d)

	s.mu.Lock()
	var out reply
	switch {
	case !ok || !s.authClientLocked(vendorID, instance, clientID, secret):
		out = reply{http.StatusUnauthorized, oauthError{"invalid_client", "Client authentication failed."}}
	case params["grant_type"] == "authorization_code":
		out = s.exchangeLocked(vendorID, d, instance, clientID, params)
	case params["grant_type"] == "refresh_token":
		out = s.refreshLocked(vendorID, d, instance, clientID, params["refresh_token"])
	case params["grant_type"] == "":
		out = reply{http.StatusBadRequest, oauthError{"invalid_request", "grant_type is required"}}
	default:
		out = reply{http.StatusBadRequest, oauthError{"unsupported_grant_type", "grant_type must be authorization_code or refresh_token"}}
	}
	s.mu.Unlock()

	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, out.status, out.body)
}

// exchangeLocked trades an authorization code for the grant's first
// tokens.
func (s *Server) exchangeLocked(vendorID string, d *dialect, instance, clientID string, p map[string]string) reply {
	c := s.codes[p["code"]]
	now := s.now()
	switch {
	case p["code"] == "" || c == nil:
		return d.invalidCode("Invalid authorization code")
	case c.vendor != vendorID || c.instance() != instance:
		return d.invalidCode("Authorization code was issued by another instance")
	case !now.Before(c.expires):
		return d.invalidCode("Authorization code expired")
	case c.clientID != clientID:
		return d.invalidCode("Authorization code was issued to another client")
	case p["redirect_uri"] != c.redirectURI:
		return d.invalidCode("redirect_uri does not match the authorization request")
	case c.challenge != "" && !verifierMatches(p["code_verifier"], c.challenge):
		return d.invalidCode("code_verifier does not match the code_challenge")
	}
	delete(s.codes, p["code"])

	g := c.grant
	g.authorizedAt = now
	if !c.noRefresh && (d.alwaysRefresh || hasScope(g.scope, "offline_access")) {
		g.refresh = newToken()
		g.lastUsed = now
		s.refresh[g.refresh] = &g
	}
	return reply{http.StatusOK, d.answerOf(&g, s.issueLocked(&g, now), false)}
}

// refreshLocked mints an access token for a live refresh token (and, for
// a dialect that rotates them, a new refresh token).
func (s *Server) refreshLocked(vendorID string, d *dialect, instance, clientID, token string) reply {
	g := s.refresh[token]
	now := s.now()
	if r, ok := s.retired[token]; ok && g == nil && token != "" {
		if !r.reusable(now) {
			if d.rules.ReuseEndsGrant {
				// Reuse after the leeway: taken as a stolen token, the
				// whole grant dies.
				r.g.revoked = true
			}
			return d.deadRefresh
		}
		g = r.g // within the leeway: as good as the grant's current token
	}
	if token == "" || g == nil || g.vendor != vendorID || g.instance() != instance || g.clientID != clientID ||
		s.refreshDead(g, now) {
		return d.deadRefresh
	}
	if d.rules.Rotates {
		// Rotation: the grant's current token is retired (it dies at once,
		// or after the dialect's reuse leeway) for a new one.
		delete(s.refresh, g.refresh)
		if d.rules.ReuseLeeway > 0 {
			s.retired[g.refresh] = retiredToken{g: g, until: now.Add(d.rules.ReuseLeeway)}
		}
		g.refresh = newToken()
		s.refresh[g.refresh] = g
	}
	// A refresh is a use: an inactivity window starts again.
	g.lastUsed = now
	return reply{http.StatusOK, d.answerOf(g, s.issueLocked(g, now), true)}
}

// answerOf is the token endpoint's answer with t, in d's shape if it has
// its own.
func (d *dialect) answerOf(g *grant, t tokenResponse, refreshed bool) any {
	if d.answer == nil {
		return t
	}
	return d.answer(g, t, refreshed)
}

// issueLocked mints an access token for g and answers with g's current
// refresh token.
func (s *Server) issueLocked(g *grant, now time.Time) tokenResponse {
	s.sweepLocked()
	ttl := s.times[g.dialect].Access
	tok := newToken()
	s.access[tok] = &accessToken{g: g, expires: now.Add(ttl)}
	expiresIn := int64(ttl / time.Second)
	if shave := g.dialect.expiresInShave; expiresIn > shave {
		expiresIn -= shave // ServiceNow answers 1799 for its 30 minutes
	}
	return tokenResponse{
		AccessToken:  tok,
		RefreshToken: g.refresh,
		Scope:        g.scope,
		TokenType:    "Bearer",
		ExpiresIn:    expiresIn,
	}
}

// authClientLocked checks the client's secret. The sandbox has no registry
// of clients: the first token request of a client id (per vendor and, for
// a dialect with instances, per instance) fixes its secret.
func (s *Server) authClientLocked(vendorID, instance, clientID, secret string) bool {
	if clientID == "" || secret == "" {
		return false
	}
	key := vendorID + "|" + instance + "|" + clientID
	known, ok := s.clients[key]
	if !ok {
		s.clients[key] = secret
		return true
	}
	return subtle.ConstantTimeCompare([]byte(known), []byte(secret)) == 1
}

// clientCredentials reads the client's credentials in the styles d's
// vendor accepts: HTTP Basic over the form-urlencoded id and secret (RFC
// 6749 section 2.3.1; x/oauth2 query-escapes both parts), if d.basicAuth,
// or client_id and client_secret from the body. ok is false for an
// Authorization header d's vendor does not take.
func clientCredentials(r *http.Request, p map[string]string, d *dialect) (id, secret string, ok bool) {
	if r.Header.Get("Authorization") != "" {
		u, pw, basic := r.BasicAuth()
		if !basic || !d.basicAuth {
			return "", "", false
		}
		id, secret = unescape(u), unescape(pw)
		if bodyID := p["client_id"]; bodyID != "" && bodyID != id {
			return "", "", false
		}
		return id, secret, true
	}
	return p["client_id"], p["client_secret"], true
}

// verifierMatches checks a PKCE code_verifier against its S256 challenge.
func verifierMatches(verifier, challenge string) bool {
	if !pkceRE.MatchString(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}
