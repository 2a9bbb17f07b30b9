// Package sandbox is the built-in authorization server of local mode. It
// speaks each vendor's real endpoint paths and token response shapes and
// approves every authorization at once, so that the service's real vendor
// code (golang.org/x/oauth2 for code exchange and refresh, plain GETs with a
// Bearer token for identity) runs against it with only base URLs changed.
//
// The handler serves FULL paths under Prefix ("/_sandbox/"): the local
// server mounts it with
//
//	mux.Handle("/_sandbox/", sandbox.New(cfg))
//
// (paths that arrive without the prefix, e.g. behind http.StripPrefix, are
// served the same way).
//
// ServiceNow (vendor id "servicenow"): base /_sandbox/servicenow/{instance}
// stands for https://{instance}.service-now.com.
//
//	GET  /_sandbox/servicenow/{instance}/oauth_auth.do
//	POST /_sandbox/servicenow/{instance}/oauth_token.do
//	POST /_sandbox/servicenow/{instance}/oauth_revoke_token.do
//	GET  /_sandbox/servicenow/{instance}/api/now/table/sys_user
//
// Atlassian (vendor id "confluence"): base /_sandbox/confluence stands for
// both https://auth.atlassian.com and https://api.atlassian.com.
//
//	GET  /_sandbox/confluence/authorize
//	POST /_sandbox/confluence/oauth/token
//	GET  /_sandbox/confluence/me
//	GET  /_sandbox/confluence/oauth/token/accessible-resources
//
// Knobs, for every vendor:
//
//	POST /_sandbox/{vendor}/revoke?user=<login>   every token of that login dies (204)
//	POST /_sandbox/{vendor}/outage?status=503     token, revocation and identity endpoints answer 503 (204)
//	POST /_sandbox/{vendor}/outage?status=0       ends the outage (204)
//
// and, on the authorization URL, sandbox_user=<login> (who approves; default
// admin), sandbox_site=<name> (ServiceNow: the approving instance, default the
// path instance; Atlassian: a comma list of sites, default acme) and
// sandbox_deny=1 (the user refuses: error=access_denied).
//
// All state is in memory and safe for concurrent use. Tokens are 256 random
// bits and never logged.
package sandbox

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Prefix is where the local server mounts the sandbox.
const Prefix = "/_sandbox/"

// CodeTTL is how long an authorization code can be exchanged.
const CodeTTL = 10 * time.Minute

// dialect is the family of behaviour a vendor id speaks.
type dialect int

const (
	serviceNow dialect = iota + 1
	atlassian
)

// dialects maps vendor ids (as in the vendor registry) to what they speak.
// Another Atlassian product (Jira) would be one more entry.
var dialects = map[string]dialect{
	"servicenow": serviceNow,
	"confluence": atlassian,
}

// grant is one authorization: what was approved, by whom, and its tokens.
type grant struct {
	vendor       string
	dialect      dialect
	sites        []string // ServiceNow: exactly the approving instance
	user         string
	clientID     string
	scope        string
	authorizedAt time.Time

	refresh       string // current refresh token; "" when none was issued
	refreshIssued time.Time
	revoked       bool
	listed        int // accessible-resources answers so far (order rotation)
}

// instance is the ServiceNow instance that approved the grant, the only
// one whose endpoints take its tokens; "" for Atlassian, whose endpoints
// have no instance.
func (g *grant) instance() string {
	if g.dialect == serviceNow {
		return g.sites[0]
	}
	return ""
}

// authCode is an approved authorization waiting to be exchanged: the grant
// it becomes (no tokens yet), and what the exchange must present.
type authCode struct {
	grant
	redirectURI string
	challenge   string // S256 code challenge; "" when none
	expires     time.Time
}

type accessToken struct {
	g       *grant
	expires time.Time
}

// Server is the sandbox authorization server, an http.Handler.
type Server struct {
	now   func() time.Time
	times map[dialect]Lifetimes

	mu    sync.Mutex
	codes map[string]*authCode
	// The grants are what these two point at: no list of them is kept.
	access  map[string]*accessToken
	refresh map[string]*grant
	clients map[string]string // vendor|instance|client_id → secret fixed at first use
	outages map[string]int    // vendor → status answered by its endpoints
	issued  int
}

// New builds a sandbox from cfg.
func New(cfg Config) *Server {
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	return &Server{
		now: now,
		times: map[dialect]Lifetimes{
			serviceNow: cfg.lifetimes(serviceNow),
			atlassian:  cfg.lifetimes(atlassian),
		},
		codes:   map[string]*authCode{},
		access:  map[string]*accessToken{},
		refresh: map[string]*grant{},
		clients: map[string]string{},
		outages: map[string]int{},
	}
}

// ServeHTTP routes a request (see the package documentation).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, Prefix); ok {
		p = rest
	} else {
		p = strings.TrimPrefix(p, "/")
	}
	segs := strings.Split(p, "/")
	for _, seg := range segs {
		if seg == "" {
			s.notFound(w, r)
			return
		}
	}
	vendorID := segs[0]
	d, ok := dialects[vendorID]
	if !ok {
		s.notFound(w, r)
		return
	}
	rest := segs[1:]
	if len(rest) == 1 {
		switch rest[0] {
		case "revoke":
			s.knobRevoke(w, r, vendorID)
			return
		case "outage":
			s.knobOutage(w, r, vendorID)
			return
		}
	}
	var served bool
	switch d {
	case serviceNow:
		served = s.routeServiceNow(w, r, vendorID, rest)
	case atlassian:
		served = s.routeAtlassian(w, r, vendorID, rest)
	}
	if !served {
		s.notFound(w, r)
	}
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, oauthError{"not_found", "no sandbox route for " + r.Method + " " + r.URL.Path})
}

// allow answers 405 unless the request has the method.
func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeJSON(w, http.StatusMethodNotAllowed, oauthError{"method_not_allowed", "use " + method})
	return false
}

// ---- knobs ----

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
			g.revoked = true
		}
	}
	for _, a := range s.access {
		revoke(a.g)
	}
	for _, g := range s.refresh {
		revoke(g)
	}
	for k, c := range s.codes {
		if c.vendor == vendorID && c.user == user {
			delete(s.codes, k)
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

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
	s.mu.Lock()
	status := s.outages[vendorID]
	s.mu.Unlock()
	if status == 0 {
		return false
	}
	writeJSON(w, status, oauthError{"temporarily_unavailable",
		fmt.Sprintf("sandbox outage: %s answers %d", vendorID, status)})
	return true
}

// ---- authorization endpoint ----

var (
	nameRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	loginRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._+@-]{0,63}$`)
	pkceRE  = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)
)

// authorize approves (or, with sandbox_deny, refuses) at once. instance is
// the ServiceNow path instance ("" for Atlassian).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, vendorID string, d dialect, instance string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	q := r.URL.Query()
	if q.Get("response_type") != "code" {
		badAuthorize(w, "response_type must be code")
		return
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		badAuthorize(w, "client_id is required")
		return
	}
	redirectURI := q.Get("redirect_uri")
	redirect, err := url.Parse(redirectURI)
	if redirectURI == "" || err != nil || (redirect.Scheme != "http" && redirect.Scheme != "https") ||
		redirect.Host == "" || redirect.Fragment != "" {
		badAuthorize(w, "redirect_uri must be an absolute http(s) URL without a fragment")
		return
	}
	scope := strings.Join(strings.Fields(q.Get("scope")), " ")
	if d == atlassian {
		if q.Get("audience") != "api.atlassian.com" {
			badAuthorize(w, "audience must be api.atlassian.com")
			return
		}
		if scope == "" {
			badAuthorize(w, "scope is required")
			return
		}
	} else if scope == "" {
		scope = "useraccount"
	}

	user := strings.ToLower(strings.TrimSpace(q.Get("sandbox_user")))
	if user == "" {
		user = "admin"
	}
	if !loginRE.MatchString(user) {
		badAuthorize(w, "sandbox_user must be a login of letters, digits and . _ + @ -")
		return
	}
	sites, err := parseSites(q.Get("sandbox_site"), d, instance)
	if err != nil {
		badAuthorize(w, err.Error())
		return
	}
	challenge := q.Get("code_challenge")
	if challenge != "" || q.Get("code_challenge_method") != "" {
		if q.Get("code_challenge_method") != "S256" {
			badAuthorize(w, "code_challenge_method must be S256")
			return
		}
		if !pkceRE.MatchString(challenge) {
			badAuthorize(w, "code_challenge must be a base64url SHA-256 of the verifier")
			return
		}
	}

	back := redirect.Query()
	if state := q.Get("state"); state != "" {
		back.Set("state", state)
	}
	switch strings.ToLower(q.Get("sandbox_deny")) {
	case "1", "true", "yes":
		back.Set("error", "access_denied")
		back.Set("error_description", "The user denied the authorization request (sandbox_deny).")
	default:
		code := newToken()
		s.mu.Lock()
		s.sweepLocked()
		s.codes[code] = &authCode{
			grant: grant{
				vendor:   vendorID,
				dialect:  d,
				sites:    sites, // ServiceNow: the approving instance (sandbox_site)
				user:     user,
				clientID: clientID,
				scope:    scope,
			},
			redirectURI: redirectURI,
			challenge:   challenge,
			expires:     s.now().Add(CodeTTL),
		}
		s.mu.Unlock()
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", redirect.String())
	w.WriteHeader(http.StatusFound)
}

// parseSites reads sandbox_site: one instance for ServiceNow (default the
// path instance), a comma list for Atlassian (default acme).
func parseSites(raw string, d dialect, instance string) ([]string, error) {
	raw = strings.ToLower(strings.TrimSpace(raw))
	if raw == "" {
		if d == serviceNow {
			return []string{instance}, nil
		}
		return []string{"acme"}, nil
	}
	var sites []string
	seen := map[string]bool{}
	for _, site := range strings.Split(raw, ",") {
		site = strings.TrimSpace(site)
		if !nameRE.MatchString(site) {
			return nil, fmt.Errorf("sandbox_site %q is not a site name (letters, digits, -)", site)
		}
		if !seen[site] {
			seen[site] = true
			sites = append(sites, site)
		}
	}
	if d == serviceNow && len(sites) != 1 {
		return nil, errors.New("sandbox_site names one ServiceNow instance")
	}
	return sites, nil
}

func badAuthorize(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "<!doctype html>\n<title>Invalid authorization request</title>\n"+
		"<h1>Invalid authorization request</h1>\n<p>%s</p>\n", html.EscapeString(msg))
}

// ---- token endpoint ----

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// reply is an answer computed under the lock and written after it.
type reply struct {
	status int
	body   any
}

// token serves a token endpoint. instance is the ServiceNow path instance
// ("" for Atlassian).
func (s *Server) token(w http.ResponseWriter, r *http.Request, vendorID string, d dialect, instance string) {
	if s.inOutage(w, vendorID) || !allow(w, r, http.MethodPost) {
		return
	}
	params, err := readParams(w, r, d == atlassian)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", err.Error()})
		return
	}
	clientID, secret, ok := clientCredentials(r, params)

	s.mu.Lock()
	var out reply
	switch {
	case !ok || !s.authClientLocked(vendorID, instance, clientID, secret):
		out = reply{http.StatusUnauthorized, oauthError{"invalid_client", "Client authentication failed."}}
	case params["grant_type"] == "authorization_code":
		out = s.exchangeLocked(vendorID, d, instance, clientID, params)
	case params["grant_type"] == "refresh_token":
		out = s.refreshLocked(vendorID, d, instance, clientID, params["refresh_token"])
	case params["grant_type"] == "":
		out = reply{http.StatusBadRequest, oauthError{"invalid_request", "grant_type is required"}}
	default:
		out = reply{http.StatusBadRequest, oauthError{"unsupported_grant_type", "grant_type must be authorization_code or refresh_token"}}
	}
	s.mu.Unlock()

	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, out.status, out.body)
}

// invalidCode is how each vendor refuses a bad authorization code.
func invalidCode(d dialect, desc string) reply {
	status := http.StatusBadRequest
	if d == atlassian {
		status = http.StatusForbidden
	}
	return reply{status, oauthError{"invalid_grant", desc}}
}

// deadRefresh is how each vendor refuses a dead refresh token.
func deadRefresh(d dialect) reply {
	if d == atlassian {
		return reply{http.StatusForbidden, oauthError{"invalid_grant", "Unknown or invalid refresh token."}}
	}
	return reply{http.StatusUnauthorized, oauthError{"server_error", "access_denied"}}
}

func (s *Server) exchangeLocked(vendorID string, d dialect, instance, clientID string, p map[string]string) reply {
	c := s.codes[p["code"]]
	now := s.now()
	switch {
	case p["code"] == "" || c == nil:
		return invalidCode(d, "Invalid authorization code")
	case c.vendor != vendorID || c.instance() != instance:
		return invalidCode(d, "Authorization code was issued by another instance")
	case !now.Before(c.expires):
		return invalidCode(d, "Authorization code expired")
	case c.clientID != clientID:
		return invalidCode(d, "Authorization code was issued to another client")
	case p["redirect_uri"] != c.redirectURI:
		return invalidCode(d, "redirect_uri does not match the authorization request")
	case c.challenge != "" && !verifierMatches(p["code_verifier"], c.challenge):
		return invalidCode(d, "code_verifier does not match the code_challenge")
	}
	delete(s.codes, p["code"])

	g := c.grant
	g.authorizedAt = now
	if d == serviceNow || hasScope(g.scope, "offline_access") {
		g.refresh = newToken()
		g.refreshIssued = now
		s.refresh[g.refresh] = &g
	}
	return reply{http.StatusOK, s.issueLocked(&g, now)}
}

func (s *Server) refreshLocked(vendorID string, d dialect, instance, clientID, token string) reply {
	g := s.refresh[token]
	now := s.now()
	if token == "" || g == nil || g.vendor != vendorID || g.instance() != instance || g.clientID != clientID ||
		g.revoked || s.refreshExpired(g, now) {
		return deadRefresh(d)
	}
	if d == atlassian {
		// Rotation: the presented token dies at once.
		delete(s.refresh, token)
		g.refresh = newToken()
		g.refreshIssued = now
		s.refresh[g.refresh] = g
	}
	return reply{http.StatusOK, s.issueLocked(g, now)}
}

func (s *Server) refreshExpired(g *grant, now time.Time) bool {
	l := s.times[g.dialect]
	if g.dialect == serviceNow {
		return !now.Before(g.authorizedAt.Add(l.Refresh))
	}
	return !now.Before(g.refreshIssued.Add(l.Refresh)) || !now.Before(g.authorizedAt.Add(l.Absolute))
}

// issueLocked mints an access token for g and answers with g's current
// refresh token.
func (s *Server) issueLocked(g *grant, now time.Time) tokenResponse {
	s.sweepLocked()
	ttl := s.times[g.dialect].Access
	tok := newToken()
	s.access[tok] = &accessToken{g: g, expires: now.Add(ttl)}
	expiresIn := int64(ttl / time.Second)
	if g.dialect == serviceNow && expiresIn > 1 {
		expiresIn-- // ServiceNow answers 1799 for its 30 minutes
	}
	return tokenResponse{
		AccessToken:  tok,
		RefreshToken: g.refresh,
		Scope:        g.scope,
		TokenType:    "Bearer",
		ExpiresIn:    expiresIn,
	}
}

// sweepLocked forgets, now and then, what can no longer be used.
func (s *Server) sweepLocked() {
	s.issued++
	if s.issued%512 != 0 {
		return
	}
	now := s.now()
	for k, c := range s.codes {
		if !now.Before(c.expires) {
			delete(s.codes, k)
		}
	}
	for k, a := range s.access {
		if !now.Before(a.expires) || a.g.revoked {
			delete(s.access, k)
		}
	}
	for k, g := range s.refresh {
		if g.revoked || s.refreshExpired(g, now) {
			delete(s.refresh, k)
		}
	}
}

// authClientLocked checks the client's secret. The sandbox has no registry
// of clients: the first token request of a client id (per ServiceNow
// instance) fixes its secret.
func (s *Server) authClientLocked(vendorID, instance, clientID, secret string) bool {
	if clientID == "" || secret == "" {
		return false
	}
	key := vendorID + "|" + instance + "|" + clientID
	known, ok := s.clients[key]
	if !ok {
		s.clients[key] = secret
		return true
	}
	return subtle.ConstantTimeCompare([]byte(known), []byte(secret)) == 1
}

// clientCredentials reads HTTP Basic (x/oauth2 query-escapes both parts)
// or client_id and client_secret from the body.
func clientCredentials(r *http.Request, p map[string]string) (id, secret string, ok bool) {
	if u, pw, basic := r.BasicAuth(); basic {
		id, secret = unescape(u), unescape(pw)
		if bodyID := p["client_id"]; bodyID != "" && bodyID != id {
			return "", "", false
		}
		return id, secret, true
	}
	return p["client_id"], p["client_secret"], true
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// readParams reads a form-encoded body, or (allowJSON) a JSON object of
// strings.
func readParams(w http.ResponseWriter, r *http.Request, allowJSON bool) (map[string]string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	out := map[string]string{}
	switch {
	case ct == "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, errors.New("malformed form body")
		}
		for k, vs := range r.PostForm {
			if len(vs) != 1 {
				return nil, fmt.Errorf("parameter %s is repeated", k)
			}
			out[k] = vs[0]
		}
	case ct == "application/json" && allowJSON:
		var raw map[string]any
		if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
			return nil, errors.New("malformed JSON body")
		}
		for k, v := range raw {
			str, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("parameter %s must be a string", k)
			}
			out[k] = str
		}
	case allowJSON:
		return nil, errors.New("body must be application/json or application/x-www-form-urlencoded")
	default:
		return nil, errors.New("body must be application/x-www-form-urlencoded")
	}
	return out, nil
}

func verifierMatches(verifier, challenge string) bool {
	if !pkceRE.MatchString(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

func hasScope(scope, want string) bool {
	return slices.Contains(strings.Fields(scope), want)
}

// ---- identity ----

// apiGrant starts a GET on a vendor API: it answers an outage, another
// method, or (with unauthorized) a missing or dead Bearer token, and
// otherwise returns the token's grant.
func (s *Server) apiGrant(w http.ResponseWriter, r *http.Request, vendorID, instance string, unauthorized func(http.ResponseWriter)) (*grant, bool) {
	if s.inOutage(w, vendorID) || !allow(w, r, http.MethodGet) {
		return nil, false
	}
	g, ok := s.bearerGrant(r, vendorID, instance)
	if !ok {
		unauthorized(w)
	}
	return g, ok
}

// bearerGrant finds the live grant behind the request's Bearer token at
// this vendor (and, for ServiceNow, this instance).
func (s *Server) bearerGrant(r *http.Request, vendorID, instance string) (*grant, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.access[strings.TrimSpace(tok)]
	if a == nil || a.g.revoked || a.g.vendor != vendorID || a.g.instance() != instance || !s.now().Before(a.expires) {
		return nil, false
	}
	return a.g, true
}

// ---- helpers ----

// newToken is 256 random bits, base64url.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// stableHex is a stable hex digest of parts, n characters long.
func stableHex(n int, parts ...string) string {
	sum := sha256.Sum256([]byte("sandbox\x00" + strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])[:n]
}

// displayName is "<Title-cased login> User": "ada.lovelace" → "Ada Lovelace User".
func displayName(login string) string {
	local, _, _ := strings.Cut(login, "@")
	words := strings.FieldsFunc(local, func(r rune) bool {
		return r == '.' || r == '_' || r == '-' || r == '+'
	})
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.TrimSpace(strings.Join(words, " ") + " User")
}

// emailOf is login@domain, or the login itself when it is an address.
func emailOf(login, domain string) string {
	if strings.Contains(login, "@") {
		return login
	}
	return login + "@" + domain
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
