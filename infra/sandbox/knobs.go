package sandbox

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// knobRevoke is POST /_sandbox/{vendor}/revoke?user=<login>: the refresh
// tokens of every grant of that login at the vendor die (refreshing
// answers the vendor's invalid_grant), while the access tokens already
// issued keep working until they expire, as at a real vendor. Grants the
// login approves afterwards are not affected.
func (s *Server) knobRevoke(w http.ResponseWriter, r *http.Request, vendorID string) {
	if !allow(w, r, http.MethodPost) {
		return
	}
	user := strings.ToLower(strings.TrimSpace(r.FormValue("user")))
	if user == "" {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "user is required"})
		return
	}
	s.mu.Lock()
	revoke := func(g *grant) {
		if g.vendor == vendorID && g.user == user {
			g.refreshRevoked = true
		}
	}
	// A grant is reached from its access tokens, its refresh token or a
	// refresh token rotated away: every one of them is marked.
	for _, a := range s.access {
		revoke(a.g)
	}
	for _, g := range s.refresh {
		revoke(g)
	}
	for _, rt := range s.retired {
		revoke(rt.g)
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// knobOutage is POST /_sandbox/{vendor}/outage?status=<code>: the
// vendor's token, revocation and identity endpoints answer that status
// until status=0.
func (s *Server) knobOutage(w http.ResponseWriter, r *http.Request, vendorID string) {
	if !allow(w, r, http.MethodPost) {
		return
	}
	status, err := strconv.Atoi(strings.TrimSpace(r.FormValue("status")))
	if err != nil || status != 0 && (status < 400 || status > 599) {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "status must be 0 (no outage) or an HTTP status from 400 to 599"})
		return
	}
	s.mu.Lock()
	if status == 0 {
		delete(s.outages, vendorID)
	} else {
		s.outages[vendorID] = status
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// inOutage answers for the vendor's API when an outage is on.
func (s *Server) inOutage(w http.ResponseWriter, vendorID string) bool {
	status := s.outage(vendorID)
	if status == 0 {
		return false
	}
	writeOutage(w, vendorID, status)
	return true
}

// outage is the status the vendor's endpoints answer; 0 when there is no
// outage.
func (s *Server) outage(vendorID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outages[vendorID]
}

// writeOutage is an endpoint's answer during an outage.
func writeOutage(w http.ResponseWriter, vendorID string, status int) {
	writeJSON(w, status, oauthError{"temporarily_unavailable",
		fmt.Sprintf("sandbox outage: %s answers %d", vendorID, status)})
}
