// Package vendors declares the third-party apps the service connects to, as
// data: endpoints, scopes, how credentials are obtained, how long refresh
// tokens live, and how the vendor says a refresh token is dead. Adding a
// vendor is an entry in Registry plus, at most, an identity lookup.
package vendors

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
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
	TypeFileStorage         Type = "fileStorage"
)

// Types are every integration type, in the order error messages list them.
var Types = []Type{TypeSupportAndTicketing, TypeKnowledge, TypeFileStorage}

// ParseType parses the list's type filter.
func ParseType(s string) (Type, bool) {
	for _, t := range Types {
		if string(t) == s {
			return t, true
		}
	}
	return "", false
}

// Credentials says where the OAuth client id and secret come from.
type Credentials string

const (
	// PerAccount clients are registered by each customer in their own
	// instance and entered through the settings route (ServiceNow).
	PerAccount Credentials = "perAccount"
	// Deployment clients belong to this service: one OAuth app per
	// Vendor.AppID, its {client_id, client_secret} in one secret of the
	// deployment (vault.DeploymentSecretName).
	Deployment Credentials = "deployment"
)

// RefreshPolicy is how long a vendor's refresh tokens live when the token
// response does not say (`refresh_token_expires_in`). It is one of five
// shapes (Check refuses anything else); shared/lifetime and the expiry
// scan plan each connection from it alone:
//
//   - fixed lifespan from the authorization, not extended by refreshing
//     (ServiceNow): Lifespan.
//   - inactivity window, rotating (Microsoft 90 days; Box 60 days, single
//     use): Rotating, Inactivity [, SingleUse].
//   - inactivity window plus an absolute limit, rotating (Atlassian 90
//     and 365 days): Rotating, Inactivity, Absolute.
//   - inactivity window, not rotating, where a refresh counts as a use
//     (Google, 6 months): Inactivity.
//   - never expiring until revoked (Dropbox): NeverExpires.
//
// Where an inactivity window applies, the scan refreshes ahead of it
// (keep-alive), rotating or not; only Lifespan and Absolute are expiries
// that no refresh moves, and only they get an expiring notice. A grant that
// never expires gets neither: the scan refreshes it after IDLE_CHECK_DAYS
// without use, so a revoked one is found.
type RefreshPolicy struct {
	// Rotating: every refresh returns a new refresh token, which the
	// service must store before it uses it again; the old one stops
	// working (at once, or after a short reuse leeway).
	Rotating bool
	// SingleUse (rotating only): a refresh token works for exactly one
	// refresh, with no reuse leeway (Box). A refresh whose answer is lost
	// loses the grant; the one retry (provider.Factory.Refresh) helps only
	// when the first attempt never reached the vendor.
	SingleUse bool
	// Lifespan from the authorization, not extended by refreshing
	// (non-rotating vendors). Accounts may override it in settings
	// (refreshTokenLifespanDays).
	Lifespan time.Duration
	// Inactivity: unused this long, the refresh token dies; a refresh is
	// a use and restarts the window, whether or not it rotates the token.
	Inactivity time.Duration
	// Absolute: however often refreshed, the grant dies this long after
	// the authorization (with Inactivity).
	Absolute time.Duration
	// NeverExpires: the refresh token lives until the grant is revoked
	// (every duration above is zero).
	NeverExpires bool
	// AccessTTL is the usual access-token lifetime (used when expires_in is missing).
	AccessTTL time.Duration
}

// Extendable reports whether a refresh moves the refresh token's expiry
// (an inactivity window): then the scan keeps the grant alive, and only
// the absolute limit, if any, is an expiry to warn about.
func (p RefreshPolicy) Extendable() bool { return p.Inactivity > 0 }

// Check reports whether p is one of the five shapes RefreshPolicy
// documents.
func (p RefreshPolicy) Check() error {
	switch {
	case p.AccessTTL <= 0:
		return errors.New("AccessTTL must be > 0")
	case p.Lifespan < 0 || p.Inactivity < 0 || p.Absolute < 0:
		return errors.New("durations must not be negative")
	case p.SingleUse && !p.Rotating:
		return errors.New("SingleUse needs Rotating: a token that is not replaced cannot be single use")
	case p.NeverExpires:
		if p.Lifespan != 0 || p.Inactivity != 0 || p.Absolute != 0 {
			return errors.New("NeverExpires takes no Lifespan, Inactivity or Absolute")
		}
	case p.Lifespan > 0:
		if p.Inactivity != 0 || p.Absolute != 0 {
			return errors.New("a Lifespan takes no Inactivity or Absolute: it is already the limit no refresh moves")
		}
		if p.Rotating {
			return errors.New("a rotating vendor's refresh tokens each live from their own issue: that is an Inactivity window, not a Lifespan")
		}
	case p.Inactivity > 0:
		if p.Absolute != 0 && p.Absolute < p.Inactivity {
			return fmt.Errorf("the absolute limit %v is shorter than the inactivity window %v", p.Absolute, p.Inactivity)
		}
	default:
		return errors.New("no expiry rule: set Lifespan, Inactivity or NeverExpires")
	}
	return nil
}

// Revocation is how a vendor's revocation endpoint is called.
type Revocation string

const (
	// RevokeRFC7009 posts the refresh token (else the access token) as
	// token=… in a form body, the client authenticating as at the token
	// endpoint (RFC 7009 section 2.1). The default.
	RevokeRFC7009 Revocation = ""
	// RevokeBearer posts nothing but a live access token of the grant as
	// Bearer (RFC 6750), no client authentication: the vendor ends the
	// whole grant, its refresh token with it (Dropbox's
	// /2/auth/token/revoke). A stored access token that no longer works
	// is first replaced by a refresh (provider.Client.Revoke).
	RevokeBearer Revocation = "bearer"
)

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
	// App names whose OAuth app (deployment credentials) the vendor uses:
	// "" for its own, else another vendor's id (Jira uses Confluence's
	// Atlassian app). Only for Credentials Deployment; see AppID.
	App string

	// Bases are the named base URLs the endpoints are built on. "instance"
	// is special: it is the account's instance or site from settings.
	Bases map[string]string
	// Endpoint templates over Bases, e.g. "{instance}/oauth_token.do".
	AuthURL   string
	TokenURL  string
	RevokeURL string // empty: the vendor offers no revocation
	// Revocation is how RevokeURL is called: RFC 7009 (the default) or
	// with the grant's access token as Bearer (Dropbox).
	Revocation Revocation
	// RevokeEndsAccountGrant: revoking any token ends every grant this
	// vendor user gave this OAuth app, not only the grant it came from
	// (Google). The service then revokes none while another connection of
	// the account is held by the same vendor user (shared/lifecycle).
	RevokeEndsAccountGrant bool
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
	//
	// They may grow from one release to the next (a feature that needs a
	// new permission): a connection keeps the scopes it was granted
	// (connection.GrantedScope), and one that lacks a scope required now is
	// listed with reauthorizationRequired and missingScopes until a
	// reconnect grants it (MissingScopes). A scope that is only wanted, not
	// needed, goes in Scopes alone: it is asked for but flags nobody.
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

// Registry is every vendor, in the order the list API shows them. Each
// entry is declared in a file of its own (servicenow.go, confluence.go).
var Registry = []Vendor{
	serviceNow,
	jira,
	confluence,
	sharePoint,
	googleDrive,
	dropbox,
	box,
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

// AppID is the id of the deployment OAuth app v uses: its App, else its
// own id. It names the app's secret (vault.DeploymentSecretName).
func (v Vendor) AppID() string {
	if v.App != "" {
		return v.App
	}
	return v.ID
}

// DeploymentApps are the ids of the deployment OAuth apps the registry's
// vendors use, each once, in registry order.
func DeploymentApps() []string {
	var out []string
	for _, v := range Registry {
		if v.Credentials == Deployment && !slices.Contains(out, v.AppID()) {
			out = append(out, v.AppID())
		}
	}
	return out
}

// MissingScopes are v's required scopes that granted (a space-separated
// scope string, as in a token response) lacks, in registry order. A
// connection that lacks one was authorized before the registry required
// it (scope drift): it works with what it has, and a reconnect asks for
// the rest.
func (v Vendor) MissingScopes(granted string) []string {
	have := strings.Fields(granted)
	var missing []string
	for _, sc := range v.RequiredScopes {
		if !slices.Contains(have, sc) {
			missing = append(missing, sc)
		}
	}
	return missing
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
