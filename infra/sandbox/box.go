package sandbox

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultBox is Box's token lifetimes, as Box documents them
// (https://developer.box.com/guides/api-calls/permissions-and-errors/expiration/):
// access tokens 60 minutes, a refresh token 60 days or one use.
var DefaultBox = Lifetimes{Access: time.Hour, Refresh: 60 * day}

// box is what Box speaks: the authorization page at account.box.com
// (/api/oauth2/authorize; scope optional, the app's configured scopes by
// default), the token and revocation endpoints at api.box.com (forms with
// client_id and client_secret in the body only: Box documents no HTTP
// Basic, https://developer.box.com/reference/post-oauth2-token--refresh),
// authorization codes that live 30 seconds, a refresh token with every
// code, single use (each refresh retires it at once, no leeway, for a new
// one; https://developer.box.com/guides/authentication/tokens/refresh) and
// dead after 60 days unused, token answers without scope
// (https://developer.box.com/guides/authentication/tokens/access-tokens/),
// 400 invalid_grant "Refresh token has expired" for any dead refresh token
// (Box staff,
// https://support.box.com/hc/en-us/community/posts/360049133654), and one
// enterprise per grant (sandbox_site, default acme) that GET
// /2.0/users/me reports. Box documents no PKCE; the sandbox verifies S256
// as a server that takes it would, so the client's verifier is checked.
var box = dialect{
	name:          "Box",
	route:         (*Server).routeBox,
	defaultSite:   "acme",
	singleSite:    true,
	codeTTL:       30 * time.Second,
	defaultScope:  "root_readonly root_readwrite",
	alwaysRefresh: true,
	rules:         Rules{Rotates: true, Expiry: ExpiryInactivity},
	invalidCode: func(desc string) reply {
		return reply{http.StatusBadRequest, oauthError{"invalid_grant", desc}}
	},
	deadRefresh: reply{http.StatusBadRequest, oauthError{"invalid_grant", "Refresh token has expired"}},
	answer: func(_ *grant, t tokenResponse, _ bool) any {
		return boxToken{t.AccessToken, t.ExpiresIn, "bearer", t.RefreshToken, "urn:ietf:params:oauth:token-type:access_token"}
	},
	lifetimes: func(Config) (Lifetimes, Lifetimes) { return DefaultBox, Lifetimes{} },
}

func init() { speak("box", &box) }

// boxToken is Box's token answer
// (https://developer.box.com/reference/resources/access-token).
type boxToken struct {
	AccessToken     string `json:"access_token"`
	ExpiresIn       int64  `json:"expires_in"`
	TokenType       string `json:"token_type"`
	RefreshToken    string `json:"refresh_token"`
	IssuedTokenType string `json:"issued_token_type"`
}

// routeBox serves /_sandbox/box/..., which stands for both
// https://account.box.com and https://api.box.com.
func (s *Server) routeBox(w http.ResponseWriter, r *http.Request, vendorID string, d *dialect, rest []string) bool {
	switch strings.Join(rest, "/") {
	case "api/oauth2/authorize":
		s.authorize(w, r, vendorID, d, "")
	case "oauth2/token":
		s.token(w, r, vendorID, d, "")
	case "oauth2/revoke":
		s.boxRevoke(w, r, vendorID, d)
	case "2.0/users/me":
		s.boxMe(w, r, vendorID)
	default:
		return false
	}
	return true
}

// boxUnauthorized is the API's answer to a missing or dead token: 401
// (https://developer.box.com/guides/authentication/tokens/api-calls/).
func boxUnauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="Service", error="invalid_token", error_description="The access token provided is invalid."`)
	w.WriteHeader(http.StatusUnauthorized)
}

type boxEnterprise struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Name string `json:"name"`
}

type boxUser struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Name       string         `json:"name"`
	Login      string         `json:"login"`
	Enterprise *boxEnterprise `json:"enterprise,omitempty"`
}

// boxMe is GET https://api.box.com/2.0/users/me: the token's user. With
// fields, Box answers the mini user (id, type, name, login) and the fields
// asked for; enterprise only when asked for
// (https://developer.box.com/reference/get-users-me/).
func (s *Server) boxMe(w http.ResponseWriter, r *http.Request, vendorID string) {
	g, ok := s.apiGrant(w, r, vendorID, "", boxUnauthorized)
	if !ok {
		return
	}
	u := boxUser{ID: BoxUserID(g.user), Type: "user", Name: displayName(g.user), Login: emailOf(g.user, g.sites[0]+".example.com")}
	for _, f := range strings.Split(r.URL.Query().Get("fields"), ",") {
		if strings.TrimSpace(f) == "enterprise" {
			u.Enterprise = &boxEnterprise{ID: BoxEnterpriseID(g.sites[0]), Type: "enterprise", Name: g.sites[0]}
		}
	}
	writeJSON(w, http.StatusOK, u)
}

// boxRevoke is POST https://api.box.com/oauth2/revoke: client_id,
// client_secret and an access or refresh token in the form body; the
// token's grant dies and the answer is empty
// (https://developer.box.com/reference/post-oauth2-revoke). The client must
// authenticate; an unknown token is answered 200 as well (RFC 7009).
func (s *Server) boxRevoke(w http.ResponseWriter, r *http.Request, vendorID string, d *dialect) {
	if s.inOutage(w, vendorID) || !allow(w, r, http.MethodPost) {
		return
	}
	params, err := readParams(w, r, false)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", err.Error()})
		return
	}
	clientID, secret, ok := clientCredentials(r, params, d)
	s.mu.Lock()
	authed := ok && s.authClientLocked(vendorID, "", clientID, secret)
	if authed {
		if g := s.grantOfLocked(params["token"]); g != nil && g.vendor == vendorID && g.clientID == clientID {
			g.revoked = true
		}
	}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case !authed:
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_client", "The client credentials are not valid"})
	case params["token"] == "":
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "token is required"})
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// BoxUserID is the stable numeric user id the sandbox gives a login.
func BoxUserID(login string) string { return boxNumber("box-user", strings.ToLower(login)) }

// BoxEnterpriseID is the stable numeric enterprise id the sandbox gives a
// site name.
func BoxEnterpriseID(site string) string { return boxNumber("box-enterprise", strings.ToLower(site)) }

// boxNumber is a stable decimal id of 11 digits, as Box's look.
func boxNumber(parts ...string) string {
	n, _ := strconv.ParseUint(stableHex(12, parts...), 16, 64)
	return strconv.FormatUint(1e10+n%9e10, 10)
}
