package sandbox

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// DefaultAtlassian is Atlassian's token lifetimes, as Atlassian documents
// them.
var DefaultAtlassian = Lifetimes{Access: time.Hour, Refresh: 90 * day, Absolute: 365 * day}

// atlassian is what Atlassian 3LO speaks (Confluence and Jira): one
// host for every site, audience api.atlassian.com and an explicit scope,
// form or JSON token requests with the client's credentials in the body or
// as HTTP Basic (the 3LO docs show the body; the authorization server's
// metadata, https://auth.atlassian.com/.well-known/openid-configuration,
// lists client_secret_basic and client_secret_post), PKCE S256 (the same
// metadata lists code_challenge_methods_supported ["S256"]: a challenge of
// another method is refused, and a code issued with a challenge is
// exchanged only with its verifier, by the generic code of authorize.go
// and token.go), a refresh token only for offline_access, rotated at each
// refresh (Refresh is an inactivity window; a rotated token reused after a
// 10-minute leeway ends the grant) under an absolute limit, and 403
// invalid_grant for bad codes and refresh tokens.
var atlassian = dialect{
	name:        "Atlassian",
	route:       (*Server).routeAtlassian,
	defaultSite: "acme",
	audience:    "api.atlassian.com",
	jsonBody:    true,
	basicAuth:   true,
	rules: Rules{
		Rotates: true,
		// "Once a token has been invalidated, it may not be re-used. Reuse of
		// old tokens outside the leeway interval invalidates all refresh
		// tokens, and requires the user to re-consent. The leeway interval is
		// 10 minutes."
		// https://community.developer.atlassian.com/t/updated-31-january-2022-action-required-deprecating-persistent-refresh-tokens/54172
		ReuseLeeway:    10 * time.Minute,
		ReuseEndsGrant: true,
		Expiry:         ExpiryInactivity,
		Absolute:       true,
	},
	invalidCode: func(desc string) reply {
		return reply{http.StatusForbidden, oauthError{"invalid_grant", desc}}
	},
	deadRefresh: reply{http.StatusForbidden, oauthError{"invalid_grant", "Unknown or invalid refresh token."}},
	lifetimes: func(cfg Config) (Lifetimes, Lifetimes) {
		return DefaultAtlassian, cfg.Atlassian
	},
}

// Jira speaks it too, under its own id: a grant of Jira scopes, made in a
// flow of its own, is a grant of its own (its codes, tokens, sites, knobs
// and stats apart from Confluence's), whose accessible-resources list its
// sites with the Jira scopes it was granted, as Atlassian's do
// (https://developer.atlassian.com/cloud/oauth/getting-started/making-calls-to-api/).
func init() {
	speak("confluence", &atlassian)
	speak("jira", &atlassian)
}

// routeAtlassian serves /_sandbox/{vendor}/..., which stands for both
// https://auth.atlassian.com and https://api.atlassian.com. Atlassian
// offers no token revocation to 3LO apps, so there is no such route.
func (s *Server) routeAtlassian(w http.ResponseWriter, r *http.Request, vendorID string, d *dialect, rest []string) bool {
	switch strings.Join(rest, "/") {
	case "authorize":
		s.authorize(w, r, vendorID, d, "")
	case "oauth/token":
		s.token(w, r, vendorID, d, "")
	case "me":
		s.atlassianMe(w, r, vendorID)
	case "oauth/token/accessible-resources":
		s.atlassianResources(w, r, vendorID)
	default:
		return false
	}
	return true
}

// atlassianUnauthorized is Atlassian's answer to a missing or dead token.
func atlassianUnauthorized(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, map[string]any{"code": http.StatusUnauthorized, "message": "Unauthorized"})
}

type atlassianUser struct {
	AccountID     string `json:"account_id"`
	Email         string `json:"email"`
	Name          string `json:"name"`
	Picture       string `json:"picture"`
	AccountStatus string `json:"account_status"`
}

// atlassianMe is GET https://api.atlassian.com/me (needs scope read:me).
func (s *Server) atlassianMe(w http.ResponseWriter, r *http.Request, vendorID string) {
	g, ok := s.apiGrant(w, r, vendorID, "", atlassianUnauthorized)
	if !ok {
		return
	}
	if !hasScope(g.scope, "read:me") {
		writeJSON(w, http.StatusForbidden, map[string]any{"code": http.StatusForbidden, "message": "Forbidden: the token lacks scope read:me"})
		return
	}
	writeJSON(w, http.StatusOK, atlassianUser{
		AccountID:     AtlassianAccountID(g.user),
		Email:         emailOf(g.user, "example.com"),
		Name:          displayName(g.user),
		Picture:       "",
		AccountStatus: "active",
	})
}

type atlassianResource struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	AvatarURL string   `json:"avatarUrl"`
}

// atlassianResources lists every site of the grant. Atlassian's list is
// unordered, so the sandbox never answers the same order twice in a row
// for a grant of several sites: each answer rotates the list by one more
// place, starting with the second site the user approved. A client that
// takes the first element gets a different site from one call to the next.
func (s *Server) atlassianResources(w http.ResponseWriter, r *http.Request, vendorID string) {
	g, ok := s.apiGrant(w, r, vendorID, "", atlassianUnauthorized)
	if !ok {
		return
	}
	s.mu.Lock()
	g.listed++
	shift := g.listed % len(g.sites)
	sites := slices.Concat(g.sites[shift:], g.sites[:shift])
	s.mu.Unlock()

	scopes := []string{}
	for _, sc := range strings.Fields(g.scope) {
		if sc != "offline_access" && sc != "read:me" {
			scopes = append(scopes, sc)
		}
	}
	out := make([]atlassianResource, 0, len(sites))
	for _, site := range sites {
		out = append(out, atlassianResource{
			ID:        AtlassianCloudID(site),
			URL:       "https://" + site + ".atlassian.net",
			Name:      site,
			Scopes:    scopes,
			AvatarURL: "",
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// AtlassianCloudID is the stable cloud id the sandbox gives a site name.
func AtlassianCloudID(site string) string {
	h := stableHex(32, "atlassian-site", strings.ToLower(site))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// AtlassianAccountID is the stable account id the sandbox gives a login.
func AtlassianAccountID(login string) string {
	return stableHex(24, "atlassian-account", strings.ToLower(login))
}
