package provider_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/lifetime"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/vendors"
)

// contentTypes a vendor may answer with ("" sends no Content-Type at all).
var contentTypes = []string{
	"application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded",
	"text/plain", "text/html", "",
}

// oauthCodes are the codes ErrorCode keeps; anything else becomes
// unrecognised_error.
const oauthCodes = `invalid_request|invalid_client|invalid_grant|unauthorized_client|unsupported_grant_type|invalid_scope|` +
	`access_denied|unsupported_response_type|server_error|temporarily_unavailable|unsupported_token_type|invalid_token|` +
	`insufficient_scope|interaction_required|login_required|consent_required|account_selection_required|unrecognised_error`

// vendorErrorText is every error a vendor's answer can produce: the
// status, the OAuth code, and a cause of the service's own words. Nothing
// of the answer's body (descriptions, echoed tokens, HTML) fits in it.
var vendorErrorText = regexp.MustCompile(`^(provider: refresh token refused \((\d{3}) (` + oauthCodes + `)?\)` +
	`|vendor call failed(: status \d{3})?( (` + oauthCodes + `))?` +
	`(: (oauth2: unreadable token response|oauth2: server response missing access_token|identity lookup` +
	`|identity lookup: (unreadable answer|no current user|no account id)|the grant covers no Confluence site))?` +
	`|provider: revoke answered \d{3})$`)

// fuzzVendor answers every request (token, identity, revocation) with one
// canned answer that the fuzz function sets.
type fuzzVendor struct {
	mu     sync.Mutex
	status int
	ctype  string
	body   string
	sites  string // the body of Atlassian's accessible-resources
}

func (v *fuzzVendor) set(status int, ctype, body, sites string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.status, v.ctype, v.body, v.sites = status, ctype, body, sites
}

func (v *fuzzVendor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	v.mu.Lock()
	status, ctype, body := v.status, v.ctype, v.body
	if strings.HasSuffix(r.URL.Path, "/accessible-resources") {
		body = v.sites
	}
	v.mu.Unlock()
	if ctype == "" {
		w.Header()["Content-Type"] = nil // no sniffing either
	} else {
		w.Header().Set("Content-Type", ctype)
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// FuzzVendorAnswer: whatever a vendor answers to a code exchange, a
// refresh, an identity lookup or a revocation — any status, content type
// and body, however malformed — the client never panics; a failure is an
// error whose whole text is the status, the OAuth error code (one of the
// standard ones, else unrecognised_error) and the service's own words,
// never a piece of the body, a token, the code, the verifier or the
// client secret; a refresh is a refusal exactly when the registry says
// that status and code mean a dead grant; a success carries an access
// token (and, for a refresh, a refresh token), and expiries computed from
// it are never in the past.
func FuzzVendorAnswer(f *testing.F) {
	fv := &fuzzVendor{status: 200}
	srv := httptest.NewServer(fv)
	f.Cleanup(srv.Close)
	fake := &fakeVendor{srv: srv}
	clients := map[bool]*provider.Client{}
	for _, id := range []string{"servicenow", "confluence"} {
		v, _ := vendors.Lookup(id)
		inst := ""
		if len(v.InstanceHosts) > 0 {
			inst = "https://acme" + strings.TrimPrefix(v.InstanceHosts[0], "*")
		}
		clients[id == "confluence"] = provider.New(v, inst, provider.Credentials{ClientID: clientID, ClientSecret: plantedSecret}, redirectURL, fake.overrides(), srv.Client())
	}
	anyCode := regexp.MustCompile(`^(` + oauthCodes + `)?$`)
	f.Fuzz(func(t *testing.T, status uint16, ctype uint8, body string, atlassian bool, sites string) {
		st := 200 + int(status)%400
		fv.set(st, contentTypes[int(ctype)%len(contentTypes)], body, sites)
		c := clients[atlassian]
		v := c.Vendor
		check := func(what string, err error) {
			t.Helper()
			clean(t, err)
			if !vendorErrorText.MatchString(err.Error()) {
				t.Fatalf("%s: answer %d %q: error %q says more than status, code and our words", what, st, body, err)
			}
		}

		before := time.Now()
		tok, err := c.Exchange(t.Context(), plantedCode, plantedVerifier)
		if err != nil {
			check("exchange", err)
			if errors.Is(err, provider.ErrRefused) {
				t.Fatalf("an exchange failure %v is not a refused refresh token", err)
			}
		} else {
			if tok.AccessToken == "" || st > 299 {
				t.Fatalf("exchange accepted %d %q: %+v", st, body, tok)
			}
			e := lifetime.Authorized(v, nil, tok, before)
			if e.Refresh.Before(before) || v.Refresh.Rotating && e.Refresh.After(e.Absolute) {
				t.Fatalf("exchange of %q: refresh expiry %v (absolute %v) from %v", body, e.Refresh, e.Absolute, before)
			}
		}

		tok, err = c.Refresh(t.Context(), plantedRefresh)
		if err != nil {
			check("refresh", err)
			m := vendorErrorText.FindStringSubmatch(err.Error())
			refused := errors.Is(err, provider.ErrRefused)
			if refused != (m[2] != "") {
				t.Fatalf("refresh: %v, refused %v", err, refused)
			}
			if refused {
				if s, _ := strconv.Atoi(m[2]); s != st || !v.IsRefusal(s, m[3]) {
					t.Fatalf("refresh of %s: %v for an answer %d %q", v.ID, err, st, body)
				}
			}
		} else if tok.AccessToken == "" || tok.RefreshToken == "" || st > 299 {
			t.Fatalf("refresh accepted %d %q: %+v", st, body, tok)
		}

		who, err := c.Identify(t.Context(), &oauth2.Token{AccessToken: plantedAccess, TokenType: "Bearer"})
		if err != nil {
			check("identify", err)
		} else {
			if who.User.ID == "" || st != http.StatusOK {
				t.Fatalf("identity from %d %q: %+v", st, body, who)
			}
			if v.SiteChoice && len(who.Sites) == 0 {
				t.Fatalf("a grant covering no site from %q", body)
			}
			for _, s := range who.Sites {
				if s.URL != strings.ToLower(s.URL) || strings.HasSuffix(s.URL, "/") {
					t.Fatalf("site URL %q is not normalised", s.URL)
				}
			}
		}

		if err := c.Revoke(t.Context(), &oauth2.Token{AccessToken: plantedAccess, RefreshToken: plantedRefresh}); err != nil {
			check("revoke", err)
		} else if c.CanRevoke() && st > 299 {
			t.Fatalf("revocation answered %d taken as done", st)
		}

		// The code filter keeps the standard codes and nothing else.
		code := provider.ErrorCode(body)
		if code != body && code != "unrecognised_error" || !anyCode.MatchString(code) {
			t.Fatalf("ErrorCode(%q) = %q", body, code)
		}
	})
}
