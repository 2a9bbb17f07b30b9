package sandbox

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// introspect asks GET /_sandbox/{vendor}/introspect with a Bearer token
// (none when bearer is empty) and returns the status, the header and the
// decoded answer.
func (e *env) introspect(vendorID, bearer string) (int, http.Header, introspection) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url("/_sandbox/"+vendorID+"/introspect"), nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	var out introspection
	st, h := e.do(req, &out)
	return st, h, out
}

// wantInactive checks the answer to a token the vendor's API does not
// take.
func (e *env) wantInactive(vendorID, bearer, what string) {
	e.t.Helper()
	st, h, out := e.introspect(vendorID, bearer)
	if st != http.StatusUnauthorized || out != (introspection{}) || h.Get("WWW-Authenticate") == "" {
		e.t.Fatalf("%s: %d %+v %v, want 401 {\"active\":false}", what, st, out, h)
	}
}

func TestIntrospectFollowsTheAccessToken(t *testing.T) {
	for _, vc := range vendorCases {
		t.Run(vc.id, func(t *testing.T) {
			e := newEnv(t, Config{AccessTTL: 10 * time.Minute})
			cfg := vc.cfg(e)
			tok := e.connect(cfg, slices.Concat(vc.opts, []oauth2.AuthCodeOption{knob("sandbox_user", "Ada")})...)

			st, h, out := e.introspect(vc.id, tok.AccessToken)
			if st != http.StatusOK || out != (introspection{Active: true, User: "ada", Site: "acme"}) || h.Get("Cache-Control") != "no-store" {
				t.Fatalf("live token: %d %+v %v", st, out, h)
			}
			// It says what the vendor's API says, at every moment.
			agrees := func(what string) {
				t.Helper()
				st, _, _ := e.introspect(vc.id, tok.AccessToken)
				if api := e.get(vc.identity, tok.AccessToken, nil); api != st {
					t.Fatalf("%s: introspect %d, the vendor's identity endpoint %d", what, st, api)
				}
			}
			agrees("live")
			// Expiry on the sandbox's clock: alive one second before, dead at it.
			e.clock.Advance(10*time.Minute - time.Second)
			if st, _, _ := e.introspect(vc.id, tok.AccessToken); st != http.StatusOK {
				t.Fatalf("one second before the expiry: %d", st)
			}
			agrees("one second before the expiry")
			e.clock.Advance(time.Second)
			e.wantInactive(vc.id, tok.AccessToken, "at the expiry")
			agrees("expired")

			// A refreshed token is live; an outage does not change the answer.
			fresh := e.mustRefresh(cfg, tok.RefreshToken)
			e.post("/_sandbox/" + vc.id + "/outage?status=503")
			if st, _, out := e.introspect(vc.id, fresh.AccessToken); st != http.StatusOK || !out.Active {
				t.Fatalf("refreshed token during an outage: %d %+v", st, out)
			}
			e.post("/_sandbox/" + vc.id + "/outage?status=0")

			// After the revoke knob it agrees with the vendor's API too.
			e.post("/_sandbox/" + vc.id + "/revoke?user=ada")
			tok = fresh
			agrees("revoked")

			e.wantInactive(vc.id, "", "no Authorization header")
			e.wantInactive(vc.id, "made-up-token", "an unknown token")
			req, _ := http.NewRequest(http.MethodGet, e.url("/_sandbox/"+vc.id+"/introspect"), nil)
			req.Header.Set("Authorization", "Basic "+fresh.AccessToken)
			if st, _ := e.do(req, nil); st != http.StatusUnauthorized {
				t.Fatalf("a Basic header: %d", st)
			}
			req, _ = http.NewRequest(http.MethodPost, e.url("/_sandbox/"+vc.id+"/introspect"), nil)
			if st, h := e.do(req, nil); st != http.StatusMethodNotAllowed || h.Get("Allow") != http.MethodGet {
				t.Fatalf("POST introspect: %d %v", st, h)
			}
		})
	}
}

// A token is live only at the vendor that issued it.
func TestIntrospectOtherVendor(t *testing.T) {
	e := newEnv(t, Config{})
	sn := e.connect(e.serviceNow("acme", "c", "s"))
	at := e.connect(e.atlassian(oauth2.AuthStyleInHeader), atlassianParams...)
	e.wantInactive("confluence", sn.AccessToken, "a ServiceNow token at Atlassian")
	e.wantInactive("servicenow", at.AccessToken, "an Atlassian token at ServiceNow")
	e.wantInactive("jira", at.AccessToken, "a Confluence token at Jira (same dialect, another grant)")
	var body map[string]any
	if st := e.get("/_sandbox/nosuchvendor/introspect", at.AccessToken, &body); st != http.StatusNotFound {
		t.Fatalf("unknown vendor: %d %v", st, body)
	}
}

// site is the approving instance, or every site of an Atlassian grant.
func TestIntrospectSite(t *testing.T) {
	e := newEnv(t, Config{})
	sn := e.connect(e.serviceNow("beta", "c", "s"), knob("sandbox_user", "bob"))
	if st, _, out := e.introspect("servicenow", sn.AccessToken); st != http.StatusOK || out != (introspection{true, "bob", "beta"}) {
		t.Fatalf("ServiceNow instance beta: %d %+v", st, out)
	}
	at := e.connect(e.atlassian(oauth2.AuthStyleInParams), atlassianOpts(knob("sandbox_site", "acme,beta"))...)
	if st, _, out := e.introspect("confluence", at.AccessToken); st != http.StatusOK || out != (introspection{true, "admin", "acme,beta"}) {
		t.Fatalf("Atlassian grant of two sites: %d %+v", st, out)
	}
}
