package sandbox

import (
	"net/http"
	"strings"
	"time"
)

// DefaultMicrosoft is the Microsoft identity platform's token lifetimes
// for a web app, as Microsoft documents them: access tokens 60-90 minutes
// (an hour here), refresh tokens dead after 90 days unused, with no
// absolute limit
// (https://learn.microsoft.com/entra/identity-platform/configurable-token-lifetimes).
var DefaultMicrosoft = Lifetimes{Access: time.Hour, Refresh: 90 * day}

// microsoft is what the Microsoft identity platform v2.0 and Microsoft
// Graph speak (SharePoint & OneDrive): one base for
// https://login.microsoftonline.com and https://graph.microsoft.com,
// /{tenant}/oauth2/v2.0/authorize and /token where {tenant} is
// organizations or common (any other is a tenant the sandbox does not
// know, AADSTS90002), form token requests with the client's credentials
// in the body or as HTTP Basic, PKCE (S256 only here; Microsoft also takes
// plain), a refresh token only for offline_access, a new refresh token at
// every refresh while the old one is not revoked (it lives out its own 90
// days unused: the reuse leeway), expires_in 3599, and 400 invalid_grant
// with an AADSTS code for bad codes and dead refresh tokens
// (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow,
// https://learn.microsoft.com/entra/identity-platform/refresh-tokens).
//
// A grant belongs to exactly one tenant: sandbox_site names it (default
// acme). The token response's scope spells Graph permissions as Graph
// does, without their https://graph.microsoft.com/ prefix and without
// offline_access (https://learn.microsoft.com/graph/auth-v2-user).
var microsoft = dialect{
	name:        "Microsoft",
	route:       (*Server).routeMicrosoft,
	defaultSite: "acme",
	basicAuth:   true,
	rules: Rules{
		Rotates:     true,
		ReuseLeeway: DefaultMicrosoft.Refresh,
		Expiry:      ExpiryInactivity,
	},
	expiresInShave: 1,
	answer: func(_ *grant, t tokenResponse, _ bool) any {
		t.Scope = graphScope(t.Scope)
		return t
	},
	invalidCode: func(desc string) reply {
		return reply{http.StatusBadRequest, entraError{"invalid_grant", "AADSTS70000: " + desc, []int{70000}}}
	},
	deadRefresh: reply{http.StatusBadRequest, entraError{"invalid_grant",
		"AADSTS70008: The provided authorization code or refresh token has expired due to inactivity or was revoked. " +
			"Send a new interactive authorization request for this user and resource.", []int{70008}}},
	lifetimes: func(Config) (Lifetimes, Lifetimes) { return DefaultMicrosoft, Lifetimes{} },
}

func init() { speak("sharepoint", &microsoft) }

// entraError is the token endpoint's error answer: the OAuth error, an
// AADSTS description and its codes.
type entraError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
}

// graphPermissions are the Graph permissions the sandbox knows, spelled as
// Graph answers them whatever case they were asked in.
var graphPermissions = []string{"User.Read", "Files.Read", "Files.Read.All", "Sites.Read.All"}

// graphScope is the token response's scope for a granted one: each Graph
// permission without its resource prefix and in Graph's spelling,
// offline_access left out.
func graphScope(granted string) string {
	var out []string
	for _, sc := range strings.Fields(granted) {
		if len(sc) > len(graphResource) && strings.EqualFold(sc[:len(graphResource)], graphResource) {
			sc = sc[len(graphResource):]
		}
		for _, p := range graphPermissions {
			if strings.EqualFold(sc, p) {
				sc = p
			}
		}
		if sc != "offline_access" {
			out = append(out, sc)
		}
	}
	return strings.Join(out, " ")
}

const graphResource = "https://graph.microsoft.com/"

// routeMicrosoft serves /_sandbox/{vendor}/..., which stands for both
// https://login.microsoftonline.com and https://graph.microsoft.com.
// Microsoft offers apps no per-token revocation, so there is no such
// route.
func (s *Server) routeMicrosoft(w http.ResponseWriter, r *http.Request, vendorID string, d *dialect, rest []string) bool {
	path := strings.Join(rest, "/")
	switch path {
	case "v1.0/me":
		s.graphMe(w, r, vendorID)
		return true
	case "v1.0/organization":
		s.graphOrganization(w, r, vendorID)
		return true
	}
	tenant, endpoint, _ := strings.Cut(path, "/")
	if endpoint != "oauth2/v2.0/authorize" && endpoint != "oauth2/v2.0/token" {
		return false
	}
	known := tenant == "organizations" || tenant == "common"
	switch {
	case endpoint == "oauth2/v2.0/token" && !known:
		writeJSON(w, http.StatusBadRequest, entraError{"invalid_request", "AADSTS90002: Tenant '" + tenant + "' not found.", []int{90002}})
	case endpoint == "oauth2/v2.0/token":
		s.token(w, r, vendorID, d, "")
	case !known:
		badAuthorize(w, "AADSTS90002: Tenant '"+tenant+"' not found.")
	case strings.Contains(r.URL.Query().Get("sandbox_site"), ","):
		badAuthorize(w, "sandbox_site names one tenant: a Microsoft grant belongs to exactly one")
	case !oneOf(r.URL.Query().Get("prompt"), "", "login", "none", "consent", "select_account"):
		badAuthorize(w, "AADSTS90023: prompt must be login, none, consent or select_account")
	case !oneOf(r.URL.Query().Get("response_mode"), "", "query"):
		badAuthorize(w, "the sandbox answers response_mode=query only")
	default:
		s.authorize(w, r, vendorID, d, "")
	}
	return true
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// graphGrant starts a Graph GET that needs User.Read: it answers an outage,
// another method, a missing or dead token (401) or one without User.Read
// (403) as Graph does, and otherwise returns the token's grant.
func (s *Server) graphGrant(w http.ResponseWriter, r *http.Request, vendorID string) (*grant, bool) {
	g, ok := s.apiGrant(w, r, vendorID, "", func(w http.ResponseWriter) {
		writeJSON(w, http.StatusUnauthorized, graphError("InvalidAuthenticationToken", "Access token has expired or is not yet valid."))
	})
	if ok && !hasScope(graphScope(g.scope), "User.Read") {
		writeJSON(w, http.StatusForbidden, graphError("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
		return nil, false
	}
	return g, ok
}

func graphError(code, message string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": message}}
}

// graphMe is GET https://graph.microsoft.com/v1.0/me: the signed-in user
// of the token's tenant (query options such as $select are ignored).
func (s *Server) graphMe(w http.ResponseWriter, r *http.Request, vendorID string) {
	g, ok := s.graphGrant(w, r, vendorID)
	if !ok {
		return
	}
	tenant := g.sites[0]
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context":    "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
		"id":                MicrosoftUserID(tenant, g.user),
		"displayName":       displayName(g.user),
		"mail":              emailOf(g.user, tenant+".example.com"),
		"userPrincipalName": strings.Split(g.user, "@")[0] + "@" + tenant + ".onmicrosoft.com",
	})
}

// graphOrganization is GET https://graph.microsoft.com/v1.0/organization:
// the token's tenant, with what User.Read may read of it (id,
// displayName, verifiedDomains).
func (s *Server) graphOrganization(w http.ResponseWriter, r *http.Request, vendorID string) {
	g, ok := s.graphGrant(w, r, vendorID)
	if !ok {
		return
	}
	tenant := g.sites[0]
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#organization",
		"value": []map[string]any{{
			"id":          MicrosoftTenantID(tenant),
			"displayName": strings.ToUpper(tenant[:1]) + tenant[1:],
			"verifiedDomains": []map[string]any{{
				"name": tenant + ".onmicrosoft.com", "isDefault": true, "isInitial": true, "type": "Managed",
			}},
		}},
	})
}

// MicrosoftTenantID is the stable Entra tenant id the sandbox gives a
// tenant name.
func MicrosoftTenantID(tenant string) string {
	return guid(stableHex(32, "microsoft-tenant", strings.ToLower(tenant)))
}

// MicrosoftUserID is the stable Entra object id the sandbox gives a login
// in a tenant.
func MicrosoftUserID(tenant, login string) string {
	return guid(stableHex(32, "microsoft-user", strings.ToLower(tenant), strings.ToLower(login)))
}

func guid(h string) string {
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
