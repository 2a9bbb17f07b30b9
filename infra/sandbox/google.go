package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// DefaultGoogle is Google's token lifetimes: access tokens of an hour, and
// refresh tokens that die unused for six months (taken as 180 days).
var DefaultGoogle = Lifetimes{Access: time.Hour, Refresh: 180 * day}

// GooglePersonal is the sandbox_site of a personal Google account (at
// gmail.com, in no Workspace domain: no hd); any other site is the
// Workspace domain GoogleDomain(site).
const GooglePersonal = "gmail"

// google is what Google's OAuth 2.0 for web server apps speaks
// (https://developers.google.com/identity/protocols/oauth2/web-server):
// accounts.google.com/o/oauth2/v2/auth, oauth2.googleapis.com/token and
// /revoke, openidconnect.googleapis.com/v1/userinfo. The authorization
// checks access_type and prompt: a refresh token comes only with
// access_type=offline, and then only for the first consent of a Google
// account to the client, unless prompt has consent (a live grant of the
// account to the client is its earlier consent). The short scopes email
// and profile are granted by their full names, as Google's token answers
// spell them. The token endpoint takes the client's credentials in the
// body or as HTTP Basic (the discovery document,
// https://developers.google.com/identity/openid-connect/reference, lists
// client_secret_post and client_secret_basic); a refresh answers no
// refresh_token (the one issued stays, for 180 days after its last use),
// and a dead one is 400 invalid_grant "Token has been expired or
// revoked.". PKCE S256 is checked by the generic code (Google also takes
// plain, which the sandbox refuses). A Google account is sandbox_user at
// sandbox_site: one Workspace domain (hd), or GooglePersonal. Left out: the
// id_token of the token answer (the service reads userinfo instead), the
// limit of 100 refresh tokens per account and client, and the iss Google
// sends some users on the redirect.
var google = dialect{
	name:              "Google",
	route:             (*Server).routeGoogle,
	defaultSite:       "acme",
	basicAuth:         true,
	alwaysRefresh:     true, // googleAuthorize turns it off where Google would
	rules:             Rules{Expiry: ExpiryInactivity},
	refreshOmitsToken: true,
	revokeAtRevoke:    true,
	invalidCode: func(desc string) reply {
		return reply{http.StatusBadRequest, oauthError{"invalid_grant", desc}}
	},
	deadRefresh: reply{http.StatusBadRequest, oauthError{"invalid_grant", "Token has been expired or revoked."}},
	lifetimes: func(Config) (Lifetimes, Lifetimes) {
		return DefaultGoogle, Lifetimes{}
	},
}

func init() { speak("googledrive", &google) }

// googleScopes are the short scope names Google grants by their full ones.
var googleScopes = map[string]string{
	"email":   "https://www.googleapis.com/auth/userinfo.email",
	"profile": "https://www.googleapis.com/auth/userinfo.profile",
}

// routeGoogle serves /_sandbox/{vendor}/..., which stands for
// https://accounts.google.com, https://oauth2.googleapis.com and
// https://openidconnect.googleapis.com alike. POST /revoke is Google's
// revocation, unless it names a user=: then it is the sandbox's revoke knob.
func (s *Server) routeGoogle(w http.ResponseWriter, r *http.Request, vendorID string, d *dialect, rest []string) bool {
	switch strings.Join(rest, "/") {
	case "o/oauth2/v2/auth":
		s.googleAuthorize(w, r, vendorID, d)
	case "token":
		s.token(w, r, vendorID, d, "")
	case "revoke":
		s.googleRevoke(w, r, vendorID, d)
	case "v1/userinfo":
		s.googleUserinfo(w, r, vendorID)
	default:
		return false
	}
	return true
}

// googleAuthorize checks Google's own parameters, then lets the generic
// authorization approve, without a refresh token where Google gives none.
func (s *Server) googleAuthorize(w http.ResponseWriter, r *http.Request, vendorID string, d *dialect) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	q := r.URL.Query()
	access := q.Get("access_type")
	if access != "" && access != "online" && access != "offline" {
		badAuthorize(w, "access_type must be online or offline")
		return
	}
	prompts := strings.Fields(q.Get("prompt"))
	for _, p := range prompts {
		if p != "none" && p != "consent" && p != "select_account" || p == "none" && len(prompts) > 1 {
			badAuthorize(w, "prompt is a space-separated list of consent and select_account, or none alone")
			return
		}
	}
	site := strings.ToLower(strings.TrimSpace(q.Get("sandbox_site")))
	if strings.Contains(site, ",") {
		badAuthorize(w, "a Google account is in one Workspace domain, or none (sandbox_site="+GooglePersonal+")")
		return
	}
	if site == "" {
		site = d.defaultSite
	}
	scopes := strings.Fields(q.Get("scope"))
	for i, sc := range scopes {
		if full, ok := googleScopes[sc]; ok {
			scopes[i] = full
		}
	}
	q.Set("scope", strings.Join(scopes, " "))

	user := strings.ToLower(strings.TrimSpace(q.Get("sandbox_user")))
	if user == "" {
		user = "admin"
	}
	s.mu.Lock()
	consented := s.googleGrantedLocked(vendorID, user, site, q.Get("client_id"))
	s.mu.Unlock()
	if access != "offline" || consented && !slices.Contains(prompts, "consent") {
		q.Set("sandbox_no_refresh", "1")
	}
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = q.Encode()
	s.authorize(w, r2, vendorID, d, "")
}

// googleGrantedLocked reports whether the Google account (user at site) has
// a live grant to the client: its consent stands.
func (s *Server) googleGrantedLocked(vendorID, user, site, clientID string) bool {
	for _, g := range s.refresh {
		if g.vendor == vendorID && g.user == user && g.sites[0] == site && g.clientID == clientID && !g.revoked && !g.refreshRevoked {
			return true
		}
	}
	return false
}

// googleRevoke is POST https://oauth2.googleapis.com/revoke with token=<an
// access or refresh token> in the form body (or the query, as Google's curl
// example has it). It takes back the app's access, "the permissions
// previously granted to the application" (#tokenrevoke): every grant of
// that Google account to that client dies, not only the token's. 200 when
// done, 400 invalid_token for a token that is unknown or already dead.
// Google asks for no client authentication; credentials sent anyway are
// read as at the token endpoint and must be the client's.
func (s *Server) googleRevoke(w http.ResponseWriter, r *http.Request, vendorID string, d *dialect) {
	if s.inOutage(w, vendorID) || !allow(w, r, http.MethodPost) {
		return
	}
	params := map[string]string{}
	if r.Header.Get("Content-Type") != "" || r.ContentLength > 0 {
		p, err := readParams(w, r, false)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", err.Error()})
			return
		}
		params = p
	}
	token := params["token"]
	if token == "" {
		token = r.URL.Query().Get("token")
	}
	clientID, secret, ok := clientCredentials(r, params, d)
	anonymous := ok && clientID == "" && secret == ""

	s.mu.Lock()
	now := s.now()
	var g *grant
	if rg := s.refresh[token]; rg != nil && !s.refreshDead(rg, now) {
		g = rg
	}
	if a := s.access[token]; a != nil && now.Before(a.expires) {
		g = a.g
	}
	var out reply
	switch {
	case !ok || !anonymous && !s.authClientLocked(vendorID, "", clientID, secret):
		out = reply{http.StatusUnauthorized, oauthError{"invalid_client", "Unauthorized"}}
	case token == "":
		out = reply{http.StatusBadRequest, oauthError{"invalid_request", "Bad Request"}}
	case g == nil || g.vendor != vendorID || g.revoked || !anonymous && g.clientID != clientID:
		out = reply{http.StatusBadRequest, oauthError{"invalid_token", "Token expired or revoked"}}
	default:
		same := func(o *grant) {
			if o.vendor == g.vendor && o.user == g.user && o.sites[0] == g.sites[0] && o.clientID == g.clientID {
				o.revoked = true
			}
		}
		for _, o := range s.refresh {
			same(o)
		}
		for _, a := range s.access {
			same(a.g)
		}
		out = reply{http.StatusOK, struct{}{}}
	}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, out.status, out.body)
}

// googleUser is the answer of OpenID Connect's userinfo
// (https://developers.google.com/identity/openid-connect/openid-connect#obtaininguserprofileinformation):
// sub always, email with the email scope, the names with profile, hd for
// an account in a Workspace domain.
type googleUser struct {
	Sub           string `json:"sub"`
	Name          string `json:"name,omitempty"`
	GivenName     string `json:"given_name,omitempty"`
	FamilyName    string `json:"family_name,omitempty"`
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	HD            string `json:"hd,omitempty"`
}

// googleUserinfo is GET https://openidconnect.googleapis.com/v1/userinfo.
func (s *Server) googleUserinfo(w http.ResponseWriter, r *http.Request, vendorID string) {
	g, ok := s.apiGrant(w, r, vendorID, "", func(w http.ResponseWriter) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, oauthError{"invalid_request", "Invalid Credentials"})
	})
	if !ok {
		return
	}
	if !hasScope(g.scope, "openid") && !hasScope(g.scope, googleScopes["email"]) && !hasScope(g.scope, googleScopes["profile"]) {
		writeJSON(w, http.StatusForbidden, oauthError{"insufficient_scope", "The token has none of openid, email and profile"})
		return
	}
	site := g.sites[0]
	u := googleUser{Sub: GoogleSubject(g.user, site)}
	if hasScope(g.scope, googleScopes["email"]) {
		domain := "gmail.com"
		if site != GooglePersonal {
			domain = GoogleDomain(site)
		}
		u.Email, u.EmailVerified = emailOf(g.user, domain), true
	}
	if hasScope(g.scope, googleScopes["profile"]) {
		u.Name = displayName(g.user)
		u.GivenName, u.FamilyName, _ = strings.Cut(u.Name, " ")
	}
	if site != GooglePersonal {
		u.HD = GoogleDomain(site)
	}
	writeJSON(w, http.StatusOK, u)
}

// GoogleDomain is the Workspace domain (hd) the sandbox gives a site.
func GoogleDomain(site string) string { return strings.ToLower(site) + ".example.com" }

// GoogleSubject is the stable sub the sandbox gives the Google account
// login at site: 21 digits, as Google's are.
func GoogleSubject(login, site string) string {
	sum := sha256.Sum256([]byte("sandbox\x00google\x00" + strings.ToLower(site) + "\x00" + strings.ToLower(login)))
	return fmt.Sprintf("1%010d%010d", binary.BigEndian.Uint64(sum[:8])%1e10, binary.BigEndian.Uint64(sum[8:16])%1e10)
}
