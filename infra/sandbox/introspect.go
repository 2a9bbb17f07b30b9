package sandbox

import (
	"net/http"
	"strings"
)

// introspection is the answer of GET /_sandbox/{vendor}/introspect.
type introspection struct {
	Active bool   `json:"active"`
	User   string `json:"user,omitempty"`
	Site   string `json:"site,omitempty"`
}

// introspect is GET /_sandbox/{vendor}/introspect with Authorization:
// Bearer <access token>. It stands for "the vendor's API accepts this
// token": 200 {"active":true,"user":<login>,"site":<name>} exactly when
// the vendor's identity endpoints would take the token (same check:
// issued by this vendor, grant not revoked, not past its expiry on the
// sandbox's clock), else 401 {"active":false}. site is the approving
// instance (ServiceNow) or the grant's sites as sandbox_site named them,
// comma-separated (Atlassian; one site unless the grant covers several).
//
// It is a probe, not a vendor endpoint: an outage does not change its
// answer, so a test tells a token's validity apart from the vendor's
// availability. The token is read from the header only, never from the
// URL, and never written anywhere.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request, vendorID string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	s.mu.Lock()
	var out introspection
	if a := s.liveAccessLocked(r, vendorID); a != nil {
		out = introspection{Active: true, User: a.g.user, Site: strings.Join(a.g.sites, ",")}
	}
	s.mu.Unlock()

	w.Header().Set("Cache-Control", "no-store")
	if !out.Active {
		// RFC 6750 section 3: a request with a token the API does not take.
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, out)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
