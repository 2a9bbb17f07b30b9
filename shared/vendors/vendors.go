// Package vendors declares the third-party apps the service connects to, as
// data: endpoints, scopes, how credentials are obtained, how long refresh
// tokens live, and how the vendor says a refresh token is dead. Adding a
// vendor is an entry in Registry plus, at most, an identity lookup.
package vendors

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/workplace/connections/shared/safehttp"
)

// Type groups vendors in the list API.
type Type string

// Integration types.
const (
	TypeSupportAndTicketing Type = "supportAndTicketing"
	TypeKnowledge           Type = "knowledge"
)

// ParseType parses the list's type filter.
func ParseType(s string) (Type, bool) {
	switch Type(s) {
	case TypeSupportAndTicketing, TypeKnowledge:
		return Type(s), true
	}
	return "", false
}

// Credentials says where the OAuth client id and secret come from.
type Credentials string

const (
	// PerAccount clients are registered by each customer in their own
	// instance and entered through the settings route (ServiceNow).
	PerAccount Credentials = "perAccount"
	// Deployment clients belong to this service (one Atlassian app).
	Deployment Credentials = "deployment"
)

// RefreshPolicy is how long a refresh token lives when the token response
// does not say (`refresh_token_expires_in`).
type RefreshPolicy struct {
	// Rotating: every refresh returns a new refresh token and disables the
	// old one; a refresh extends the inactivity window.
	Rotating bool
	// Lifespan from the authorization, not extended by refreshing
	// (non-rotating vendors). Accounts may override it in settings.
	Lifespan time.Duration
	// Inactivity: unused this long, the refresh token dies (rotating).
	Inactivity time.Duration
	// Absolute: however often refreshed, the grant dies this long after the
	// first authorization (rotating).
	Absolute time.Duration
	// AccessTTL is the usual access-token lifetime (used when expires_in is missing).
	AccessTTL time.Duration
}

// Refusal is an answer of the token endpoint that means the refresh token is
// dead for good (as opposed to an outage).
type Refusal struct {
	Status int      // HTTP status; 0 matches any
	Codes  []string // OAuth error codes; empty matches any
}

// Vendor is one integration, declared as data.
type Vendor struct {
	ID          string
	Name        string
	Type        Type
	Credentials Credentials

	// Bases are the named base URLs the endpoints are built on. "instance"
	// is special: it is the account's instance or site from settings.
	Bases map[string]string
	// Endpoint templates over Bases, e.g. "{instance}/oauth_token.do".
	AuthURL   string
	TokenURL  string
	RevokeURL string // empty: the vendor offers no revocation
	// Issuer is the authorization server's issuer identifier (RFC 9207),
	// a template like the endpoints but expanded without base overrides:
	// it names the server, it is not where the server is reached. A
	// callback's iss, when present, must equal it exactly.
	Issuer string
	// SendsIssuer: the vendor sends iss with every authorization response
	// (RFC 9207 authorization_response_iss_parameter_supported), so a
	// callback without one is refused too.
	SendsIssuer bool

	Scopes []string
	// RequiredScopes are the scopes a grant must have (a subset of Scopes):
	// a token response whose scope field leaves one out is refused
	// (scope_not_granted) and the grant revoked. An absent scope field means
	// the requested scope was granted (RFC 6749 §5.1). Every vendor must
	// issue a refresh token with the code exchange (the service lives on
	// refreshing); a response without one is refused (no_refresh_token).
	RequiredScopes []string
	AuthParams     map[string]string // extra authorization parameters
	PKCE           bool              // the vendor accepts S256 code challenges
	// ClientSecretInBody: the client authenticates with client_id and
	// client_secret in the form body rather than HTTP Basic, at the token
	// endpoint and at revocation alike (x/oauth2's AuthStyleInParams or
	// AuthStyleInHeader).
	ClientSecretInBody bool

	// InstanceHosts are the host patterns an instance URL may have
	// ("*.service-now.com"); empty when the vendor has no per-account instance.
	InstanceHosts []string
	// Identity names the lookup that tells who authorized and on which site.
	Identity string
	// APIBase is where a consumer of the token broker sends its API calls
	// with an access token: a template over Bases and the instance like
	// the endpoints, where "{site}" is the connection's site id.
	APIBase string
	// SiteChoice: a grant may cover several sites; settings.siteUrl picks one.
	SiteChoice bool

	Refresh  RefreshPolicy
	Refusals []Refusal
}

const day = 24 * time.Hour

// Registry is every vendor, in the order the list API shows them.
var Registry = []Vendor{
	// ServiceNow. Token requests are form-encoded with client_id and
	// client_secret as body parameters ("OAuth API request parameters",
	// https://www.servicenow.com/docs/r/zurich/platform-security/authentication/r_OAuthAPIRequestParameters.html).
	// oauth_revoke_token.do takes token=<access or refresh token> and "does
	// not require authentication" ("Revoke an OAuth token",
	// https://www.servicenow.com/docs/r/zurich/platform-security/authentication/t_RevokeOAuthToken.html);
	// the page shows the token in the query, but we post it in the form
	// body so that it never lands in a URL or an access log, with the
	// client's credentials in the body as at the token endpoint. An
	// Authorization: Basic header on an instance is a user's login, so the
	// client's id and secret never go there.
	{
		ID:          "servicenow",
		Name:        "ServiceNow",
		Type:        TypeSupportAndTicketing,
		Credentials: PerAccount,
		Bases:       map[string]string{},
		AuthURL:     "{instance}/oauth_auth.do",
		TokenURL:    "{instance}/oauth_token.do",
		RevokeURL:   "{instance}/oauth_revoke_token.do",
		// The instance is the authorization server. ServiceNow documents
		// its redirect as ?code=…&state=… with no iss
		// (https://www.servicenow.com/docs/r/zurich/platform-security/authentication/authorization-workflow.html),
		// so iss is checked only when one comes.
		Issuer:      "{instance}",
		SendsIssuer: false,
		// ServiceNow answers the scope it granted: "useraccount", e.g.
		// {"access_token":…,"refresh_token":…,"scope":"useraccount",
		// "token_type":"Bearer","expires_in":1799}
		// (https://support.servicenow.com/kb?id=kb_article_view&sysparm_article=KB0693393),
		// and the authorization-code workflow renews access with "the
		// refresh token previously issued by the token endpoint"
		// (https://www.servicenow.com/docs/r/platform-security/authentication/authorization-workflow.html).
		Scopes:             []string{"useraccount"},
		RequiredScopes:     []string{"useraccount"},
		PKCE:               true,
		ClientSecretInBody: true,
		InstanceHosts:      []string{"*.service-now.com"},
		Identity:           "servicenow",
		// The REST APIs (Table API, …) are on the instance itself.
		APIBase: "{instance}",
		Refresh: RefreshPolicy{
			Lifespan:  100 * day,
			AccessTTL: 30 * time.Minute,
		},
		Refusals: []Refusal{
			{Status: 401, Codes: []string{"server_error", "access_denied", "invalid_grant"}},
			{Codes: []string{"invalid_grant"}},
		},
	},
	// Confluence (Atlassian OAuth 2.0 3LO,
	// https://developer.atlassian.com/cloud/confluence/oauth-2-3lo-apps/).
	// The token request carries client_id and client_secret in its body, as
	// the 3LO page shows; the authorization server's metadata
	// (https://auth.atlassian.com/.well-known/openid-configuration) lists
	// client_secret_basic as well. No RevokeURL: the 3LO docs offer apps no
	// token revocation (a user revokes an app in their Atlassian account's
	// connected apps); the same metadata names a revocation_endpoint,
	// /oauth/revoke, but Atlassian does not document it for 3LO apps, so
	// it is not relied on and disconnect deletes the tokens instead.
	//
	// PKCE: the 3LO page neither requires nor mentions PKCE, but the
	// server metadata lists code_challenge_methods_supported ["S256"], so
	// S256 is sent. Had it been silent, S256 would be sent all the same:
	// RFC 9700 section 2.1.1 recommends PKCE for confidential clients too,
	// RFC 7636 section 5 tells clients to send it to every server, and RFC
	// 6749 section 3.1 makes a server that does not know the parameters
	// ignore them.
	{
		ID:          "confluence",
		Name:        "Confluence",
		Type:        TypeKnowledge,
		Credentials: Deployment,
		Bases: map[string]string{
			"auth": "https://auth.atlassian.com",
			"api":  "https://api.atlassian.com",
		},
		AuthURL:  "{auth}/authorize",
		TokenURL: "{auth}/oauth/token",
		// Atlassian's authorization server is auth.atlassian.com. It
		// documents its redirect as carrying the code (and the state) only,
		// with no iss and no published issuer metadata
		// (https://developer.atlassian.com/cloud/oauth/getting-started/implementing-oauth-3lo),
		// so iss is checked only when one comes.
		Issuer:      "{auth}",
		SendsIssuer: false,
		Scopes: []string{
			"read:confluence-content.all", "read:confluence-space.summary",
			"search:confluence", "read:me", "offline_access",
		},
		// All of them: the Confluence scopes are what the integration is
		// for, read:me is the identity lookup's, and offline_access is the
		// one that brings the refresh token. Atlassian's token response
		// carries "scope", the granted scopes as one space-separated string
		// (offline_access among them when granted), and a refresh token only
		// when offline_access was granted
		// (https://developer.atlassian.com/cloud/oauth/getting-started/refresh-tokens/).
		RequiredScopes: []string{
			"read:confluence-content.all", "read:confluence-space.summary",
			"search:confluence", "read:me", "offline_access",
		},
		AuthParams:         map[string]string{"audience": "api.atlassian.com", "prompt": "consent"},
		PKCE:               true,
		ClientSecretInBody: true,
		Identity:           "atlassian",
		// 3LO access tokens work only through Atlassian's API gateway,
		// never on the site's own host: requests go to
		// https://api.atlassian.com/ex/confluence/{cloudid}/{api}, the
		// cloud id being the accessible-resources "id" of the site
		// (https://developer.atlassian.com/cloud/confluence/oauth-2-3lo-apps/,
		// "Make calls to the API using the access token";
		// https://developer.atlassian.com/cloud/oauth/getting-started/making-calls-to-api/).
		APIBase:    "{api}/ex/confluence/{site}",
		SiteChoice: true,
		Refresh: RefreshPolicy{
			Rotating:   true,
			Inactivity: 90 * day,
			Absolute:   365 * day,
			AccessTTL:  time.Hour,
		},
		Refusals: []Refusal{
			{Codes: []string{"invalid_grant", "unauthorized_client"}},
		},
	},
}

// Lookup finds a vendor by id.
func Lookup(id string) (Vendor, bool) {
	for _, v := range Registry {
		if v.ID == id {
			return v, true
		}
	}
	return Vendor{}, false
}

// OfType lists the vendors of a type ("" for all), in registry order.
func OfType(t Type) []Vendor {
	var out []Vendor
	for _, v := range Registry {
		if t == "" || v.Type == t {
			out = append(out, v)
		}
	}
	return out
}

// IDs are the ids of vendors.
func IDs(vs []Vendor) []string {
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.ID
	}
	return ids
}

// NeedsSettings reports whether the vendor cannot be connected before the
// account has saved its settings.
func (v Vendor) NeedsSettings() bool { return v.Credentials == PerAccount }

// Endpoint expands an endpoint template with the vendor's bases, the
// instance, and any base overrides ("vendor.base" → URL) from configuration.
// An override of "instance" may contain "{name}", replaced by the first label
// of the instance host, so that https://acme.service-now.com can be served by
// a local sandbox at http://127.0.0.1:3000/_sandbox/servicenow/acme.
func (v Vendor) Endpoint(tmpl, instance string, overrides map[string]string) string {
	if tmpl == "" {
		return ""
	}
	out := tmpl
	for name, base := range v.Bases {
		if o, ok := overrides[v.ID+"."+name]; ok {
			base = o
		}
		out = strings.ReplaceAll(out, "{"+name+"}", strings.TrimRight(base, "/"))
	}
	inst := strings.TrimRight(instance, "/")
	if o, ok := overrides[v.ID+".instance"]; ok && instance != "" {
		inst = strings.ReplaceAll(strings.TrimRight(o, "/"), "{name}", InstanceName(instance))
	}
	return strings.ReplaceAll(out, "{instance}", inst)
}

// APIBaseURL is where API calls with a connection's access token go: the
// vendor's APIBase for the connection's instance and site id, with the
// configured base overrides (local mode points them at the sandbox).
func (v Vendor) APIBaseURL(instance, siteID string, overrides map[string]string) string {
	return strings.ReplaceAll(v.Endpoint(v.APIBase, instance, overrides), "{site}", url.PathEscape(siteID))
}

// InstanceName is the first label of an instance URL's host ("acme" for
// https://acme.service-now.com).
func InstanceName(instance string) string {
	u, err := url.Parse(instance)
	if err != nil {
		return ""
	}
	h := u.Hostname()
	if i := strings.IndexByte(h, '.'); i > 0 {
		return h[:i]
	}
	return h
}

// CheckInstance validates an instance URL against the vendor's host
// patterns and any extra allowed hosts (ALLOWED_INSTANCE_HOSTS), and
// returns it normalised (https://host, no path). It must be https; plain
// http is accepted only for an extra host that the deployment also marked
// private (privateHosts, PRIVATE_VENDOR_HOSTS: the local sandbox, tests),
// the hosts the vendor client calls over http and at private addresses
// (safehttp). Marking a host private allows nothing by itself.
func (v Vendor) CheckInstance(raw string, extraHosts, privateHosts []string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("instance URL must look like https://<name>.service-now.com")
	}
	if p := strings.Trim(u.EscapedPath(), "/"); p != "" {
		return "", fmt.Errorf("instance URL must not have a path")
	}
	host := strings.ToLower(u.Hostname())
	if u.Port() != "" {
		host = strings.ToLower(u.Host)
	}
	plainOK := u.Scheme == "http" && safehttp.MatchHost(privateHosts, host)
	if u.Scheme != "https" && !plainOK {
		return "", fmt.Errorf("instance URL must use https")
	}
	if safehttp.MatchHost(extraHosts, host) {
		return u.Scheme + "://" + host, nil
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("instance URL must use https")
	}
	for _, pat := range v.InstanceHosts {
		if matchHost(pat, host) {
			return "https://" + host, nil
		}
	}
	return "", fmt.Errorf("instance host %q is not allowed for %s", host, v.Name)
}

// matchHost matches "*.example.com" against exactly one DNS label plus the
// suffix, so "evil.com/.service-now.com" or "a.b.service-now.com" never pass.
func matchHost(pattern, host string) bool {
	suffix, ok := strings.CutPrefix(pattern, "*.")
	if !ok {
		return pattern == host
	}
	label, rest, found := strings.Cut(host, ".")
	if !found || rest != suffix || label == "" {
		return false
	}
	for _, r := range label {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// IssuerMatches checks a callback's iss against the vendor's issuer at
// instance, by simple string comparison (RFC 9207 §2.4). An empty iss
// passes unless the vendor always sends one; a vendor without a declared
// issuer matches no iss.
func (v Vendor) IssuerMatches(iss, instance string) bool {
	if iss == "" {
		return !v.SendsIssuer
	}
	want := v.Endpoint(v.Issuer, instance, nil)
	return want != "" && iss == want
}

// IsRefusal reports whether a token endpoint answer (status, OAuth error
// code) means the refresh token is dead.
func (v Vendor) IsRefusal(status int, code string) bool {
	for _, r := range v.Refusals {
		if r.Status != 0 && r.Status != status {
			continue
		}
		if len(r.Codes) == 0 {
			return true
		}
		for _, c := range r.Codes {
			if c == code {
				return true
			}
		}
	}
	return false
}
