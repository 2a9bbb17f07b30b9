package sandbox

import (
	"net/http"
	"strings"
	"time"
)

// DefaultServiceNow is ServiceNow's token lifetimes, as ServiceNow
// documents them.
var DefaultServiceNow = Lifetimes{Access: 30 * time.Minute, Refresh: 100 * day}

// serviceNow is what ServiceNow speaks: every endpoint under an instance,
// one instance per grant, the client's credentials as client_id and
// client_secret in the form body only (ServiceNow's OAuth API request
// parameters,
// https://www.servicenow.com/docs/r/zurich/platform-security/authentication/r_OAuthAPIRequestParameters.html;
// an Authorization header on an instance is a user's login, and a client
// id and secret are no user's), a refresh token with every code and never
// rotated (it lives Refresh from the authorization), expires_in one second
// short, and its own refusals.
var serviceNow = dialect{
	name:           "ServiceNow",
	route:          (*Server).routeServiceNow,
	instances:      true,
	defaultScope:   "useraccount",
	alwaysRefresh:  true,
	rules:          Rules{Expiry: ExpiryLifespan},
	expiresInShave: 1,
	invalidCode: func(desc string) reply {
		return reply{http.StatusBadRequest, oauthError{"invalid_grant", desc}}
	},
	deadRefresh: reply{http.StatusUnauthorized, oauthError{"server_error", "access_denied"}},
	lifetimes: func(cfg Config) (Lifetimes, Lifetimes) {
		return DefaultServiceNow, cfg.ServiceNow
	},
}

func init() { speak("servicenow", &serviceNow) }

// routeServiceNow serves /_sandbox/servicenow/{instance}/..., where the
// instance segment stands for https://{instance}.service-now.com.
func (s *Server) routeServiceNow(w http.ResponseWriter, r *http.Request, vendorID string, d *dialect, rest []string) bool {
	if len(rest) < 2 {
		return false
	}
	instance := strings.ToLower(rest[0])
	if !nameRE.MatchString(instance) {
		return false
	}
	switch strings.Join(rest[1:], "/") {
	case "oauth_auth.do":
		s.authorize(w, r, vendorID, d, instance)
	case "oauth_token.do":
		s.token(w, r, vendorID, d, instance)
	case "oauth_revoke_token.do":
		s.serviceNowRevoke(w, r, vendorID, d, instance)
	case "api/now/table/sys_user":
		s.serviceNowUser(w, r, vendorID, instance)
	default:
		return false
	}
	return true
}

type serviceNowUser struct {
	SysID    string `json:"sys_id"`
	UserName string `json:"user_name"`
	Name     string `json:"name"`
	Email    string `json:"email"`
}

// serviceNowUnauthorized is the Table API's answer to a missing or dead
// token.
func serviceNowUnauthorized(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, map[string]any{
		"error": map[string]string{
			"message": "User Not Authenticated",
			"detail":  "Required to provide Auth information",
		},
		"status": "failure",
	})
}

// serviceNowUser answers the Table API's sys_user query with the token's
// own user, whatever the query says.
func (s *Server) serviceNowUser(w http.ResponseWriter, r *http.Request, vendorID, instance string) {
	g, ok := s.apiGrant(w, r, vendorID, instance, serviceNowUnauthorized)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": []serviceNowUser{{
		SysID:    ServiceNowSysID(instance, g.user),
		UserName: g.user,
		Name:     displayName(g.user),
		Email:    emailOf(g.user, instance+".example.com"),
	}}})
}

// serviceNowRevoke is oauth_revoke_token.do: token=<access or refresh>;
// the whole grant is revoked. ServiceNow documents that the endpoint needs
// no authentication
// (https://www.servicenow.com/docs/r/zurich/platform-security/authentication/t_RevokeOAuthToken.html),
// so the token alone is enough; client credentials, when sent, are read as
// at the token endpoint (the body only) and must be the client's. Unknown
// tokens are answered 200 as well (RFC 7009).
func (s *Server) serviceNowRevoke(w http.ResponseWriter, r *http.Request, vendorID string, d *dialect, instance string) {
	if s.inOutage(w, vendorID) || !allow(w, r, http.MethodPost) {
		return
	}
	params, err := readParams(w, r, false)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", err.Error()})
		return
	}
	clientID, secret, ok := clientCredentials(r, params, d)
	anonymous := ok && clientID == "" && secret == ""
	token := params["token"]

	s.mu.Lock()
	var out reply
	switch {
	case !ok || !anonymous && !s.authClientLocked(vendorID, instance, clientID, secret):
		out = reply{http.StatusUnauthorized, oauthError{"invalid_client", "Client authentication failed."}}
	case token == "":
		out = reply{http.StatusBadRequest, oauthError{"invalid_request", "token is required"}}
	default:
		if g := s.grantOfLocked(token); g != nil && g.vendor == vendorID && g.instance() == instance && (anonymous || g.clientID == clientID) {
			g.revoked = true
		}
		out = reply{http.StatusOK, struct{}{}}
	}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, out.status, out.body)
}

// ServiceNowSysID is the stable sys_id the sandbox gives a login on an
// instance.
func ServiceNowSysID(instance, login string) string {
	return stableHex(32, "servicenow", strings.ToLower(instance), strings.ToLower(login))
}
