package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// The vendors' identity endpoints (in the vendor files) share the Bearer
// check below and make up a user from the login alone.

// apiGrant starts a GET on a vendor API: it answers an outage, another
// method, or (with unauthorized) a missing or dead Bearer token, and
// otherwise returns the token's grant.
func (s *Server) apiGrant(w http.ResponseWriter, r *http.Request, vendorID, instance string, unauthorized func(http.ResponseWriter)) (*grant, bool) {
	if s.inOutage(w, vendorID) || !allow(w, r, http.MethodGet) {
		return nil, false
	}
	g, ok := s.bearerGrant(r, vendorID, instance)
	if !ok {
		unauthorized(w)
	}
	return g, ok
}

// bearerGrant finds the live grant behind the request's Bearer token at
// this vendor (and, for a dialect with instances, this instance).
func (s *Server) bearerGrant(r *http.Request, vendorID, instance string) (*grant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.liveAccessLocked(r, vendorID)
	if a == nil || a.g.instance() != instance {
		return nil, false
	}
	return a.g, true
}

// liveAccessLocked is the access token of the request's Bearer header if
// the vendor's API accepts it now: issued by this vendor, its grant not
// revoked, and not past its expiry on the sandbox's clock. nil otherwise.
func (s *Server) liveAccessLocked(r *http.Request, vendorID string) *accessToken {
	scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !found || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil
	}
	a := s.access[tok]
	if a == nil || a.g.revoked || a.g.vendor != vendorID || !s.now().Before(a.expires) {
		return nil
	}
	return a
}

// stableHex is a stable hex digest of parts, n characters long.
func stableHex(n int, parts ...string) string {
	sum := sha256.Sum256([]byte("sandbox\x00" + strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])[:n]
}

// displayName is "<Title-cased login> User": "ada.lovelace" → "Ada Lovelace User".
func displayName(login string) string {
	local, _, _ := strings.Cut(login, "@")
	words := strings.FieldsFunc(local, func(r rune) bool {
		return r == '.' || r == '_' || r == '-' || r == '+'
	})
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.TrimSpace(strings.Join(words, " ") + " User")
}

// emailOf is login@domain, or the login itself when it is an address.
func emailOf(login, domain string) string {
	if strings.Contains(login, "@") {
		return login
	}
	return login + "@" + domain
}
