package sandbox

import (
	"net/http"
	"sync/atomic"
)

// grantCounts are one vendor's token requests received since the sandbox
// started, by grant type.
type grantCounts struct {
	authorizationCode atomic.Int64
	refreshToken      atomic.Int64
}

// Stats is the answer of GET /_sandbox/{vendor}/stats.
type Stats struct {
	AuthorizationCode int64 `json:"authorizationCode"`
	RefreshToken      int64 `json:"refreshToken"`
}

// countTokenRequest counts a token-endpoint request by its grant_type,
// whatever it will be answered (tokens, a refusal, an outage's status).
// Other grant types, and requests without one, are in neither count.
func (s *Server) countTokenRequest(vendorID, grantType string) {
	c := s.stats[vendorID]
	switch grantType {
	case "authorization_code":
		c.authorizationCode.Add(1)
	case "refresh_token":
		c.refreshToken.Add(1)
	}
}

// Stats is what the vendor's token endpoint has received since the
// sandbox started (zero for a vendor it does not speak).
func (s *Server) Stats(vendorID string) Stats {
	c, ok := s.stats[vendorID]
	if !ok {
		return Stats{}
	}
	return Stats{AuthorizationCode: c.authorizationCode.Load(), RefreshToken: c.refreshToken.Load()}
}

// serveStats is GET /_sandbox/{vendor}/stats →
// {"authorizationCode":N,"refreshToken":N}: the token requests the
// vendor's endpoint received since the server started, by grant_type.
// A request is counted when its body has been read, before it is judged:
// exchanges and refreshes that succeeded, that were refused (bad client,
// bad code, dead refresh token) and that an outage answered all count; a
// request that is not a POST, whose body cannot be read, or whose
// grant_type is another is in neither count.
func (s *Server) serveStats(w http.ResponseWriter, r *http.Request, vendorID string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	writeJSON(w, http.StatusOK, s.Stats(vendorID))
}
