package lifecycle_test

// Callback hardening: what a callback does with answers a strict or
// misbehaving authorization server (or a frontend that forwards every query
// parameter) may give it. Each test names the outside audit's defect it
// pins down.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/integrations"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vendors"
)

// accessWorks reports whether the vendor's API still takes an access token
// (the sandbox answers its identity endpoint only for live grants).
func (e *env) accessWorks(vendorID, accessToken string) bool {
	e.t.Helper()
	path := "/_sandbox/confluence/me"
	if vendorID == "servicenow" {
		path = "/_sandbox/servicenow/acme/api/now/table/sys_user"
	}
	req, err := http.NewRequest(http.MethodGet, e.sandbox.Server.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := e.sandbox.Server.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// wantReason asserts a 502 vendor_error with that reason.
func wantReason(t *testing.T, err error, reason string) *problem.Problem {
	t.Helper()
	p := wantProblem(t, err, http.StatusBadGateway, "vendor_error")
	if p.Details["reason"] != reason {
		t.Fatalf("reason %v, want %q (details %v)", p.Details["reason"], reason, p.Details)
	}
	return p
}

// Defect 1: a token response without a refresh token was stored as a
// healthy connection (empty refresh token, policy expiry, "connected").
// Now it is 502 vendor_error reason no_refresh_token, nothing is stored, and
// the fresh grant is revoked where the vendor can.
func TestCallbackWithoutRefreshToken(t *testing.T) {
	for _, vc := range vendorCases {
		t.Run(vc.vendor+" connect", func(t *testing.T) {
			e := newEnv(t)
			if vc.vendor == "servicenow" {
				e.saveServiceNow(manager)
			}
			_, err := e.complete(manager, e.authorize(manager, vc.vendor, "app", "", knobs("sandbox_no_refresh", "1")))
			wantReason(t, err, "no_refresh_token")
			e.noConn(connection.AppKey(account, vc.vendor))
			if puts := e.vault.tokenPuts(); len(puts) != 0 {
				t.Fatalf("%d token secrets written", len(puts))
			}
			if v := e.view(manager, vc.vendor); v.Integrated || v.Status != connection.StatusNotConnected {
				t.Fatalf("list shows %+v", v)
			}
			issued := e.http.lastIssued(t)
			if issued.RefreshToken != "" {
				t.Fatal("the sandbox issued a refresh token despite sandbox_no_refresh")
			}
			if got := e.accessWorks(vc.vendor, issued.AccessToken); got == vc.revocable {
				t.Fatalf("fresh access token works after the refusal: %t (vendor revocable: %t)", got, vc.revocable)
			}
		})
		t.Run(vc.vendor+" reconnect", func(t *testing.T) {
			e := newEnv(t)
			e.connectApp(vc.vendor, nil)
			app := e.save(connection.AppKey(account, vc.vendor))
			puts := len(e.vault.tokenPuts())
			_, err := e.complete(manager, e.authorize(manager, vc.vendor, "app", "reconnect", knobs("sandbox_no_refresh", "1")))
			wantReason(t, err, "no_refresh_token")
			e.unchanged(app)
			if got := len(e.vault.tokenPuts()); got != puts {
				t.Fatalf("%d token secrets written", got-puts)
			}
			e.refreshable(app.conn)
		})
	}
	t.Run("user level", func(t *testing.T) {
		e := newEnv(t)
		e.connectApp("servicenow", nil)
		_, err := e.complete(bob, e.authorize(bob, "servicenow", "user", "", knobs("sandbox_user", "bob", "sandbox_no_refresh", "1")))
		wantReason(t, err, "no_refresh_token")
		e.noConn(connection.UserKey(account, "servicenow", bob.UserID))
		if d := e.counts("servicenow"); d != (integrations.Details{}) {
			t.Fatalf("counts moved: %+v", d)
		}
	})
}

// Defect 1: granted scopes were never compared with the required ones.
// A grant missing one is 502 vendor_error reason scope_not_granted, nothing
// stored, the grant revoked where possible.
func TestCallbackScopeNotGranted(t *testing.T) {
	tests := []struct {
		name, vendor, scope, reason string
	}{
		{"servicenow grants nothing", "servicenow", "", "scope_not_granted"},
		{"confluence without a content scope", "confluence",
			"read:confluence-space.summary search:confluence read:me offline_access", "scope_not_granted"},
		{"confluence without read:me", "confluence",
			"read:confluence-content.all read:confluence-space.summary search:confluence offline_access", "scope_not_granted"},
		// No offline_access: Atlassian issues no refresh token either.
		{"confluence without offline_access", "confluence",
			"read:confluence-content.all read:confluence-space.summary search:confluence read:me", "no_refresh_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.vendor == "servicenow" {
				e.saveServiceNow(manager)
			}
			_, err := e.complete(manager, e.authorize(manager, tt.vendor, "app", "", url.Values{"sandbox_scope": {tt.scope}}))
			wantReason(t, err, tt.reason)
			e.noConn(connection.AppKey(account, tt.vendor))
			if puts := e.vault.tokenPuts(); len(puts) != 0 {
				t.Fatalf("%d token secrets written", len(puts))
			}
			if tt.vendor == "servicenow" && e.accessWorks(tt.vendor, e.http.lastIssued(t).AccessToken) {
				t.Fatal("the refused grant was not revoked")
			}
		})
	}

	t.Run("every scope granted, in another order", func(t *testing.T) {
		e := newEnv(t)
		e.connect(manager, "confluence", "app", "", url.Values{"sandbox_scope": {
			"offline_access read:me search:confluence read:confluence-space.summary read:confluence-content.all"}})
		c := e.conn(connection.AppKey(account, "confluence"))
		if got := e.tokens(c).Scope; got != "offline_access read:me search:confluence read:confluence-space.summary read:confluence-content.all" {
			t.Fatalf("recorded scope %q, want the granted one", got)
		}
	})
}

// Defect 3: a truncated state (a callback URL cut short loses the state's
// tail and whatever followed it, the code included) answered invalid_body.
// A state of the wrong length or charset is invalid_state, like any unknown
// state, before anything else is looked at; nothing changes.
func TestCallbackMalformedState(t *testing.T) {
	e := newEnv(t)
	e.connectApp("servicenow", nil)
	app := e.save(connection.AppKey(account, "servicenow"))
	req := e.authorize(manager, "servicenow", "app", "reconnect", nil)
	good := req.State
	for name, state := range map[string]string{
		"truncated":            good[:len(good)-1],
		"half":                 good[:len(good)/2],
		"one char":             good[:1],
		"one char too many":    good + "a",
		"upper case":           strings.ToUpper(good),
		"not hex":              "g" + good[1:],
		"padded":               " " + good[1:],
		"url-escaped":          "%" + good[1:],
		"non-ASCII":            "é" + good[2:],
		"NUL":                  "\x00" + good[1:],
		"another vendor's URL": "https://evil.example.com/" + good[:39],
	} {
		for _, body := range []struct {
			name        string
			code, error string
		}{{"with code", req.Code, ""}, {"without code", "", ""}, {"with error", "", "access_denied"}} {
			t.Run(name+" "+body.name, func(t *testing.T) {
				_, err := e.complete(manager, lifecycle.CallbackRequest{Vendor: "servicenow", State: state, Code: body.code, Error: body.error})
				wantProblem(t, err, http.StatusBadRequest, "invalid_state")
			})
		}
	}
	e.unchanged(app)
	// The real state was not spent by any of them.
	if _, err := e.complete(manager, req); err != nil {
		t.Fatalf("the intact state after the malformed ones: %v", err)
	}
}

// Defect 4: every error of the authorization endpoint answered
// authorization_denied ("the person said no"), also configuration problems
// such as invalid_request, unauthorized_client or invalid_scope. Only
// access_denied means that; the others are 502 vendor_error with the
// (sanitised) OAuth code in vendorError. The state is spent either way and
// nothing else changes.
func TestCallbackAuthorizationErrors(t *testing.T) {
	const description = "DESCRIPTION-planted-4b1d"
	for code, want := range map[string]string{
		"invalid_request":           "invalid_request",
		"unauthorized_client":       "unauthorized_client",
		"invalid_scope":             "invalid_scope",
		"server_error":              "server_error",
		"temporarily_unavailable":   "temporarily_unavailable",
		"unsupported_response_type": "unsupported_response_type",
		"login_required":            "login_required",
		"made_up_error":             "unrecognised_error",
		"<script>" + description:    "unrecognised_error",
	} {
		for _, vc := range vendorCases {
			t.Run(vc.vendor+" "+want, func(t *testing.T) {
				e := newEnv(t)
				e.connectApp(vc.vendor, nil)
				app := e.save(connection.AppKey(account, vc.vendor))
				req := e.authorize(manager, vc.vendor, "app", "reconnect", nil)
				issued := len(e.http.allIssued())
				req.Code, req.Error, req.ErrorDescription = "", code, description

				_, err := e.complete(manager, req)
				p := wantProblem(t, err, http.StatusBadGateway, "vendor_error")
				if p.Details["vendorError"] != want {
					t.Fatalf("vendorError %v, want %q", p.Details["vendorError"], want)
				}
				if _, has := p.Details["reason"]; has {
					t.Fatalf("details %v: an authorization error is not a deficient grant", p.Details)
				}
				if strings.Contains(p.Message, description) || strings.Contains(e.logs.String(), description) {
					t.Fatal("the vendor's error description reached the answer or the log")
				}
				e.unchanged(app)
				if len(e.http.allIssued()) != issued {
					t.Fatal("a token request was made")
				}
				req.Code, req.Error = "a-code", ""
				_, err = e.complete(manager, req)
				wantProblem(t, err, http.StatusBadRequest, "invalid_state")
			})
		}
	}
}

// Defect 2: the issuer a callback names (RFC 9207's iss) is checked when it
// is there: it must be the vendor's issuer (the instance URL for
// ServiceNow, Atlassian's authorization server otherwise), else 400
// issuer_mismatch before the code goes anywhere; nothing changes.
func TestCallbackIssuer(t *testing.T) {
	issuers := map[string]string{"servicenow": snInstance, "confluence": "https://auth.atlassian.com", "dropbox": "https://www.dropbox.com"}
	for _, vc := range vendorCases {
		t.Run(vc.vendor+" matching iss", func(t *testing.T) {
			e := newEnv(t)
			e.connectApp(vc.vendor, nil)
			req := e.authorize(manager, vc.vendor, "app", "reconnect", nil)
			req.Issuer = issuers[vc.vendor]
			if _, err := e.complete(manager, req); err != nil {
				t.Fatal(err)
			}
		})
		other := map[string]string{"servicenow": "confluence", "confluence": "servicenow", "dropbox": "confluence"}[vc.vendor]
		for name, issOf := range map[string]func(e *env) string{
			"the other vendor's": func(*env) string { return issuers[other] },
			"another instance":   func(*env) string { return "https://evil.service-now.com" },
			"a trailing slash":   func(*env) string { return issuers[vc.vendor] + "/" },
			"another case":       func(*env) string { return strings.ToUpper(issuers[vc.vendor]) },
			"plain http":         func(*env) string { return strings.Replace(issuers[vc.vendor], "https://", "http://", 1) },
			"blank":              func(*env) string { return " " },
			// Where the service reaches the vendor here is not who the
			// vendor is.
			"the sandbox's base URL": func(e *env) string {
				v, _ := vendors.Lookup(vc.vendor)
				return v.Endpoint(v.Issuer, snInstance, e.sandbox.VendorBaseURLs())
			},
		} {
			t.Run(vc.vendor+" iss of "+name, func(t *testing.T) {
				e := newEnv(t)
				e.connectApp(vc.vendor, nil)
				app := e.save(connection.AppKey(account, vc.vendor))
				req := e.authorize(manager, vc.vendor, "app", "reconnect", nil)
				issued := len(e.http.allIssued())
				iss := issOf(e)
				req.Issuer = iss
				_, err := e.complete(manager, req)
				wantProblem(t, err, http.StatusBadRequest, "issuer_mismatch")
				e.unchanged(app)
				if len(e.http.allIssued()) != issued {
					t.Fatal("the code was exchanged")
				}
				// A mixed-up authorization response is not retried.
				req.Issuer = issuers[vc.vendor]
				_, err = e.complete(manager, req)
				wantProblem(t, err, http.StatusBadRequest, "invalid_state")
			})
		}
		t.Run(vc.vendor+" iss on an error response", func(t *testing.T) {
			e := newEnv(t)
			e.connectApp(vc.vendor, nil)
			req := e.authorize(manager, vc.vendor, "app", "reconnect", knobs("sandbox_deny", "1"))
			req.Issuer = "https://evil.example.com"
			_, err := e.complete(manager, req)
			wantProblem(t, err, http.StatusBadRequest, "issuer_mismatch")
		})
	}
}

// ---- defect 6: a repair that meets the scan's lease ----

const scanOwner = "scan-test"

// holdLease takes the connection's lease as the expiry scan does.
func (e *env) holdLease(k connection.Key) {
	e.t.Helper()
	now := e.clock.Now()
	if _, err := e.mem.AcquireLease(e.t.Context(), k, scanOwner, now, now.Add(5*time.Minute)); err != nil {
		e.t.Fatalf("take the lease of %s: %v", k, err)
	}
}

// finishScan does what the scan does at the end of its work on a
// connection it holds: a keep-alive refresh (stored as a new secret
// version first), then the connection saved with its lease let go.
func (e *env) finishScan(k connection.Key) {
	e.t.Helper()
	c := e.conn(k)
	if _, err := e.svc.Clients.Refresh(e.t.Context(), &c, e.clock.Now()); err != nil {
		e.t.Fatalf("the scan's refresh of %s: %v", k, err)
	}
	c.LeaseOwner, c.LeaseUntil = "", time.Time{}
	if err := e.mem.Apply(e.t.Context(), store.UpdateConnection{Conn: c}); err != nil {
		e.t.Fatalf("the scan's save of %s: %v", k, err)
	}
}

// sleeper stands in for the callback's waits: it never sleeps, it records
// what was asked, and it runs then (once) what the test says happens
// meanwhile.
type sleeper struct {
	mu        sync.Mutex
	waits     []time.Duration
	meanwhile func()
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	f := s.meanwhile
	s.meanwhile = nil
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return ctx.Err()
}

func (s *sleeper) total() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum time.Duration
	for _, d := range s.waits {
		sum += d
	}
	return sum
}

// maxLeaseWait is the bound the callback's waits must keep (well under
// API Gateway's 29 s).
const maxLeaseWait = 10 * time.Second

// Defect 6: a reconnect or change of user that met the scan's lease on the
// connection answered 409 conflict, after the code was exchanged: the
// person's authorization was spent (for Atlassian the fresh grant cannot
// even be revoked). It now waits for the scan (bounded) and applies.
func TestCallbackWaitsForTheScansLease(t *testing.T) {
	for _, vc := range vendorCases {
		for _, action := range []string{"reconnect", "changeUser"} {
			t.Run(vc.vendor+" "+action+" that finds the lease held", func(t *testing.T) {
				e := newEnv(t)
				key := e.connectApp(vc.vendor, nil).Key
				login := map[string]string{"reconnect": "admin", "changeUser": "grace"}[action]
				req := e.authorize(manager, vc.vendor, "app", action, knobs("sandbox_user", login))
				e.holdLease(key)
				sl := &sleeper{meanwhile: func() { e.finishScan(key) }}
				e.svc.Sleep = sl.sleep

				res, err := e.complete(manager, req)
				if err != nil {
					t.Fatalf("callback that met the lease: %v", err)
				}
				if len(sl.waits) == 0 || sl.total() > maxLeaseWait {
					t.Fatalf("waits %v: want at least one, %s at most in all", sl.waits, maxLeaseWait)
				}
				c := e.conn(key)
				if res.Action != connection.Action(action) || c.ConnectedUser.ID != vc.userID(login) || c.LeaseOwner != "" || !c.LeaseUntil.IsZero() {
					t.Fatalf("result %+v, stored %+v", res, c)
				}
				e.refreshable(c)
			})
			t.Run(vc.vendor+" "+action+" whose write meets a lease taken meanwhile", func(t *testing.T) {
				e := newEnv(t)
				key := e.connectApp(vc.vendor, nil).Key
				login := map[string]string{"reconnect": "admin", "changeUser": "grace"}[action]
				req := e.authorize(manager, vc.vendor, "app", action, knobs("sandbox_user", login))
				// The scan takes the lease between the callback's read and
				// its write, and finishes while the callback waits.
				var once sync.Once
				e.store.setApply(func(context.Context, []store.Op) error {
					once.Do(func() { e.holdLease(key) })
					return nil
				})
				sl := &sleeper{meanwhile: func() { e.finishScan(key) }}
				e.svc.Sleep = sl.sleep

				if _, err := e.complete(manager, req); err != nil {
					t.Fatalf("callback whose write met the lease: %v", err)
				}
				e.store.setApply(nil)
				if len(sl.waits) == 0 || sl.total() > maxLeaseWait {
					t.Fatalf("waits %v", sl.waits)
				}
				c := e.conn(key)
				if c.ConnectedUser.ID != vc.userID(login) || c.LeaseOwner != "" {
					t.Fatalf("stored %+v", c)
				}
				e.refreshable(c)
			})
		}
	}

	t.Run("user level", func(t *testing.T) {
		e := newEnv(t)
		e.connectApp("confluence", nil)
		key := e.connectUser(bob, "confluence", "bob").Key
		req := e.authorize(bob, "confluence", "user", "reconnect", knobs("sandbox_user", "bob"))
		e.holdLease(key)
		sl := &sleeper{meanwhile: func() { e.finishScan(key) }}
		e.svc.Sleep = sl.sleep
		if _, err := e.complete(bob, req); err != nil {
			t.Fatal(err)
		}
		if d := e.counts("confluence"); d != (integrations.Details{Total: 1, Connected: 1}) {
			t.Fatalf("counts %+v", d)
		}
	})
}

// Defect 6, the bound: a lease that outlives the wait (a crashed scan's
// lapses only after minutes) ends the wait at the bound with 409 conflict,
// nothing changed. Met before the code exchange, the code is never used;
// met after it, the fresh grant is revoked where the vendor can.
func TestCallbackLeaseNeverFreed(t *testing.T) {
	for _, vc := range vendorCases {
		t.Run(vc.vendor+" held before the exchange", func(t *testing.T) {
			e := newEnv(t)
			key := e.connectApp(vc.vendor, nil).Key
			req := e.authorize(manager, vc.vendor, "app", "reconnect", nil)
			e.holdLease(key)
			held := e.save(key)
			issued := len(e.http.allIssued())
			sl := &sleeper{}
			e.svc.Sleep = sl.sleep

			_, err := e.complete(manager, req)
			wantProblem(t, err, http.StatusConflict, "conflict")
			if sl.total() > maxLeaseWait || sl.total() < maxLeaseWait/2 {
				t.Fatalf("waited %s in all (%d waits), want up to the %s bound", sl.total(), len(sl.waits), maxLeaseWait)
			}
			e.unchanged(held)
			if len(e.http.allIssued()) != issued {
				t.Fatal("the code was exchanged although the callback gave up")
			}
		})
		t.Run(vc.vendor+" taken after the exchange", func(t *testing.T) {
			e := newEnv(t)
			key := e.connectApp(vc.vendor, nil).Key
			app := e.save(key)
			req := e.authorize(manager, vc.vendor, "app", "reconnect", nil)
			// The callback reads before the exchange (settings, lease) and
			// again after it: the scan takes the lease in between.
			var mu sync.Mutex
			reads := 0
			e.store.setSnapshot(func() error {
				mu.Lock()
				defer mu.Unlock()
				if reads++; reads == 2 {
					e.holdLease(key)
				}
				return nil
			})
			sl := &sleeper{}
			e.svc.Sleep = sl.sleep

			_, err := e.complete(manager, req)
			e.store.setSnapshot(nil)
			wantProblem(t, err, http.StatusConflict, "conflict")
			if sl.total() > maxLeaseWait {
				t.Fatalf("waited %s in all", sl.total())
			}
			got := e.conn(key)
			got.LeaseOwner, got.LeaseUntil, got.Version = "", time.Time{}, app.conn.Version
			sameConn(t, "connection", got, app.conn)
			if len(e.vault.tokenPuts()) != 1 { // the first connect's
				t.Fatal("tokens were written")
			}
			if vc.revocable && e.accessWorks(vc.vendor, e.http.lastIssued(t).AccessToken) {
				t.Fatal("the fresh grant was not revoked")
			}
		})
	}
}

// The wait never eats the time the request still needs: under a deadline
// it stops early enough to leave the exchange and the writes their time.
func TestCallbackLeaseWaitWithinTheDeadline(t *testing.T) {
	e := newEnv(t)
	key := e.connectApp("servicenow", nil).Key
	req := e.authorize(manager, "servicenow", "app", "reconnect", nil)
	e.holdLease(key)
	sl := &sleeper{}
	e.svc.Sleep = sl.sleep
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := e.svc.CompleteAuthorization(ctx, manager, req)
	wantProblem(t, err, http.StatusConflict, "conflict")
	if sl.total() == 0 || sl.total() > 2*time.Second {
		t.Fatalf("waited %s in all under a 10 s deadline, want at most 2 s", sl.total())
	}
}
