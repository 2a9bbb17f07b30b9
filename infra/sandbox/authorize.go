package sandbox

import (
	"cmp"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// CodeTTL is how long an authorization code can be exchanged.
const CodeTTL = 10 * time.Minute

var (
	nameRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	loginRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._+@-]{0,63}$`)
	pkceRE  = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)
)

// authorize approves (or, with sandbox_deny, refuses) at once. instance is
// the path instance of a dialect with instances ("" otherwise).
//
// Knobs on the authorization URL: sandbox_user (who approves),
// sandbox_site (which instance or sites), sandbox_deny=1 (the user
// refuses), sandbox_no_refresh=1 (the token response carries no refresh
// token, as from a strict server that dropped offline_access) and
// sandbox_scope=<space-separated scopes> (only these of the requested
// scopes are granted; the token response's scope says so).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, vendorID string, d *dialect, instance string) {
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
	if d.audience != "" && q.Get("audience") != d.audience {
		badAuthorize(w, "audience must be "+d.audience)
		return
	}
	if scope == "" {
		if d.defaultScope == "" {
			badAuthorize(w, "scope is required")
			return
		}
		scope = d.defaultScope
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
	noRefresh := isOn(q.Get("sandbox_no_refresh")) || d.offline[0] != "" && q.Get(d.offline[0]) != d.offline[1]
	if q.Has("sandbox_scope") {
		if scope, err = narrowScope(scope, q.Get("sandbox_scope")); err != nil {
			badAuthorize(w, err.Error())
			return
		}
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
	if isOn(q.Get("sandbox_deny")) {
		back.Set("error", "access_denied")
		back.Set("error_description", "The user denied the authorization request (sandbox_deny).")
	} else {
		code := newToken()
		s.mu.Lock()
		s.sweepLocked()
		s.codes[code] = &authCode{
			grant: grant{
				vendor:   vendorID,
				dialect:  d,
				sites:    sites, // with instances: the approving instance (sandbox_site)
				user:     user,
				clientID: clientID,
				scope:    scope,
			},
			redirectURI: redirectURI,
			challenge:   challenge,
			noRefresh:   noRefresh,
			expires:     s.now().Add(cmp.Or(d.codeTTL, CodeTTL)),
		}
		s.mu.Unlock()
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", redirect.String())
	w.WriteHeader(http.StatusFound)
}

// parseSites reads sandbox_site: for a dialect with instances, one
// instance (default the path instance); otherwise a comma list of sites
// (default the dialect's defaultSite).
func parseSites(raw string, d *dialect, instance string) ([]string, error) {
	raw = strings.ToLower(strings.TrimSpace(raw))
	if raw == "" {
		if d.instances {
			return []string{instance}, nil
		}
		return []string{d.defaultSite}, nil
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
	if d.instances && len(sites) != 1 {
		return nil, errors.New("sandbox_site names one " + d.name + " instance")
	}
	if d.singleSite && len(sites) != 1 {
		return nil, errors.New("sandbox_site names one " + d.name + " site: a grant belongs to one")
	}
	return sites, nil
}

// narrowScope is the scope granted under sandbox_scope: the knob's scopes,
// each of which must have been requested (a server never grants what it was
// not asked for), in the knob's order. An empty knob grants nothing.
func narrowScope(requested, knob string) (string, error) {
	var granted []string
	for _, sc := range strings.Fields(knob) {
		if !hasScope(requested, sc) {
			return "", fmt.Errorf("sandbox_scope names %q, which was not requested (requested: %s)", sc, requested)
		}
		if !slices.Contains(granted, sc) {
			granted = append(granted, sc)
		}
	}
	return strings.Join(granted, " "), nil
}

// isOn reads a boolean knob: 1, true or yes.
func isOn(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes":
		return true
	}
	return false
}

func badAuthorize(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "<!doctype html>\n<title>Invalid authorization request</title>\n"+
		"<h1>Invalid authorization request</h1>\n<p>%s</p>\n", html.EscapeString(msg))
}
