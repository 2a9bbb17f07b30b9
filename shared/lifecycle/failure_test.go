package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vendors"
)

var errVault = errors.New("secrets manager: injected failure")

// failure is something that breaks half-way through a callback.
type failure struct {
	name    string
	inject  func(e *env, vendorID string)
	clear   func(e *env, vendorID string)
	check   func(t *testing.T, err error) // what the caller sees
	issued  bool                          // the vendor issued tokens before it broke
	onApply bool                          // it broke at the store, after the tokens were written
}

var failures = []failure{
	{
		name:   "token endpoint 500",
		inject: func(e *env, v string) { e.sandbox.Knob(e.t, v+"/outage?status=500") },
		clear:  func(e *env, v string) { e.sandbox.Knob(e.t, v+"/outage?status=0") },
		check:  func(t *testing.T, err error) { wantProblem(t, err, http.StatusBadGateway, "vendor_error") },
	},
	{
		name:   "identity lookup fails",
		inject: func(e *env, _ string) { e.http.setFail(identityPath) },
		clear:  func(e *env, _ string) { e.http.setFail(nil) },
		check:  func(t *testing.T, err error) { wantProblem(t, err, http.StatusBadGateway, "vendor_error") },
		issued: true,
	},
	{
		name:   "secrets manager fails",
		inject: func(e *env, _ string) { e.vault.setPut(func(string) error { return errVault }) },
		clear:  func(e *env, _ string) { e.vault.setPut(nil) },
		check: func(t *testing.T, err error) {
			var p *problem.Problem
			if !errors.Is(err, errVault) || errors.As(err, &p) {
				t.Fatalf("got %v, want the vault's error (an internal error)", err)
			}
		},
		issued: true,
	},
	{
		name: "dynamodb conflict",
		inject: func(e *env, _ string) {
			e.store.setApply(func(context.Context, []store.Op) error { return fmt.Errorf("injected: %w", store.ErrConflict) })
		},
		clear: func(e *env, _ string) { e.store.setApply(nil) },
		check: func(t *testing.T, err error) {
			var p *problem.Problem
			if !errors.As(err, &p) || p.Status != http.StatusConflict {
				t.Fatalf("got %v, want a 409", err)
			}
		},
		issued:  true,
		onApply: true,
	},
}

// scenario is a callback that a failure interrupts.
type scenario struct {
	name   string
	vendor string
	who    lifecycle.Caller
	flow   string
	action string
	knobs  map[string]string
}

var scenarios = []scenario{
	{"servicenow app reconnect", "servicenow", manager, "app", "reconnect", nil},
	{"servicenow app changeUser", "servicenow", manager, "app", "changeUser", map[string]string{"sandbox_user": "grace"}},
	{"confluence app reconnect", "confluence", manager, "app", "reconnect", nil},
	{"confluence app changeUser", "confluence", manager, "app", "changeUser", map[string]string{"sandbox_user": "grace"}},
	{"servicenow user connect", "servicenow", bob, "user", "", map[string]string{"sandbox_user": "bob"}},
	{"servicenow user reconnect", "servicenow", carol, "user", "reconnect", map[string]string{"sandbox_user": "carol"}},
	{"confluence user connect", "confluence", bob, "user", "", map[string]string{"sandbox_user": "bob"}},
	{"dropbox app changeUser", "dropbox", manager, "app", "changeUser", map[string]string{"sandbox_user": "grace"}},
	{"dropbox user connect", "dropbox", bob, "user", "", map[string]string{"sandbox_user": "bob"}},
}

// TestFailureHalfway: whatever breaks during a callback, the connection that
// was there before is exactly as it was, its tokens still work, and tokens
// obtained for nothing are revoked where the vendor can.
func TestFailureHalfway(t *testing.T) {
	for _, sc := range scenarios {
		for _, f := range failures {
			t.Run(sc.name+"/"+f.name, func(t *testing.T) {
				e := newEnv(t)
				e.connectApp(sc.vendor, nil)
				e.connectUser(carol, sc.vendor, "carol")
				app := e.save(connection.AppKey(account, sc.vendor))
				carolConn := e.save(connection.UserKey(account, sc.vendor, carol.UserID))
				counts := e.counts(sc.vendor)
				key := connection.UserKey(account, sc.vendor, sc.who.UserID)
				if sc.flow == "app" {
					key = app.conn.Key
				}
				kn := knobs()
				for k, v := range sc.knobs {
					kn.Set(k, v)
				}
				req := e.authorize(sc.who, sc.vendor, sc.flow, sc.action, kn)
				issuedBefore := len(e.http.allIssued())

				f.inject(e, sc.vendor)
				_, err := e.complete(sc.who, req)
				f.clear(e, sc.vendor)
				f.check(t, err)

				e.unchanged(app)
				e.unchanged(carolConn)
				if sc.action == "" {
					e.noConn(key)
				}
				if got := e.counts(sc.vendor); got != counts {
					t.Fatalf("counts moved from %+v to %+v", counts, got)
				}
				v, _ := vendors.Lookup(sc.vendor)
				if issued := len(e.http.allIssued()) > issuedBefore; issued != f.issued {
					t.Fatalf("tokens issued: %v, want %v", issued, f.issued)
				}
				if f.issued && v.RevokeURL != "" {
					if err := e.refresh(app.conn, e.http.lastIssued(t).RefreshToken); !errors.Is(err, provider.ErrRefused) {
						t.Fatalf("tokens obtained for nothing still refresh: %v", err)
					}
				}
				e.refreshable(app.conn)
				e.refreshable(carolConn.conn)

				// Once the failure is over, the same step goes through.
				e.connect(sc.who, sc.vendor, sc.flow, sc.action, kn)
			})
		}
	}
}

// TestCommittedChangeIsNotRevoked: when the change may be stored but the
// answer fails afterwards (the store's reply to the write is lost), the new
// tokens may be in use and must not be revoked as if the change had been
// refused. (Nothing is read after the write: the answer is built from it.)
func TestCommittedChangeIsNotRevoked(t *testing.T) {
	tests := []struct {
		name   string
		inject func(e *env)
	}{
		{"the write's reply is lost", func(e *env) {
			e.store.setApply(func(ctx context.Context, ops []store.Op) error {
				if err := e.mem.Apply(ctx, ops...); err != nil {
					return err
				}
				return errors.New("dynamodb: injected timeout after the commit")
			})
		}},
	}
	for _, tt := range tests {
		for _, action := range []string{"reconnect", "changeUser"} {
			t.Run(tt.name+" "+action, func(t *testing.T) {
				e := newEnv(t)
				before := e.connectApp("servicenow", nil)
				req := e.authorize(manager, "servicenow", "app", action, knobs("sandbox_user", "admin"))
				tt.inject(e)
				_, err := e.complete(manager, req)
				e.store.setApply(nil)
				e.store.setSnapshot(nil)
				var p *problem.Problem
				if err == nil || errors.As(err, &p) {
					t.Fatalf("got %v, want an internal error", err)
				}
				after := e.conn(before.Key)
				if after.Generation != before.Generation+1 {
					t.Fatal("the change was not stored")
				}
				e.refreshable(after)
			})
		}
	}
}

// TestConcurrentRepairs: several repairs of one connection, each with its
// own grant completed at the vendor, race; exactly one wins, the others get
// 409, and the stored record is the winner's throughout: its user, and the
// tokens at its secret version belong to the winner's grant.
func TestConcurrentRepairs(t *testing.T) {
	const n = 5
	for _, vc := range vendorCases {
		for _, action := range []string{"reconnect", "changeUser"} {
			t.Run(vc.vendor+" "+action, func(t *testing.T) {
				e := newEnv(t)
				before := e.connectApp(vc.vendor, nil)
				logins := make([]string, n)
				reqs := make([]lifecycle.CallbackRequest, n)
				for i := range reqs {
					logins[i] = "admin"
					if action == "changeUser" {
						logins[i] = fmt.Sprintf("user%d", i)
					}
					reqs[i] = e.authorize(manager, vc.vendor, "app", action, knobs("sandbox_user", logins[i]))
				}

				// Hold every write until all n have read the connection,
				// so that they really race.
				var mu sync.Mutex
				arrived, all := 0, make(chan struct{})
				e.store.setApply(func(ctx context.Context, ops []store.Op) error {
					if _, ok := ops[0].(store.UpdateConnection); !ok {
						return nil
					}
					mu.Lock()
					if arrived++; arrived == n {
						close(all)
					}
					mu.Unlock()
					select {
					case <-all:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				})

				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range reqs {
					wg.Go(func() {
						ctx := context.WithValue(t.Context(), workerKey{}, i)
						_, errs[i] = e.svc.CompleteAuthorization(ctx, manager, reqs[i])
					})
				}
				wg.Wait()
				e.store.setApply(nil)

				winner := -1
				for i, err := range errs {
					if err == nil {
						if winner >= 0 {
							t.Fatalf("workers %d and %d both succeeded", winner, i)
						}
						winner = i
						continue
					}
					wantProblem(t, err, http.StatusConflict, "conflict")
				}
				if winner < 0 {
					t.Fatalf("nobody succeeded: %v", errs)
				}

				after := e.conn(before.Key)
				if after.Generation != before.Generation+1 || after.Version != before.Version+1 || after.ID != before.ID {
					t.Fatalf("final record %+v", after)
				}
				if after.ConnectedUser.ID != vc.userID(logins[winner]) {
					t.Fatalf("record names %s, the winner was %s", after.ConnectedUser.ID, logins[winner])
				}
				var losers []string
				for _, p := range e.vault.tokenPuts() {
					switch {
					case p.worker == winner && p.version != after.SecretVersion:
						t.Fatal("the record does not point at the winner's tokens")
					case p.worker >= 0 && p.worker != winner:
						losers = append(losers, p.tokens().RefreshToken)
					}
				}
				if len(losers) != n-1 {
					t.Fatalf("%d losing grants were written, want %d", len(losers), n-1)
				}

				// The stored access token is the winner's grant at the vendor.
				v, _ := vendors.Lookup(vc.vendor)
				client, err := e.svc.Clients.Client(t.Context(), v, e.settingsPtr(account, vc.vendor), after.Instance)
				if err != nil {
					t.Fatal(err)
				}
				who, err := client.Identify(t.Context(), &oauth2.Token{AccessToken: e.tokens(after).AccessToken, TokenType: "Bearer"})
				if err != nil || who.User.ID != after.ConnectedUser.ID {
					t.Fatalf("stored tokens identify %+v (%v), record says %s", who.User, err, after.ConnectedUser.ID)
				}
				if v.RevokeURL != "" {
					for _, rt := range losers {
						if err := e.refresh(after, rt); !errors.Is(err, provider.ErrRefused) {
							t.Fatalf("a losing grant still refreshes: %v", err)
						}
					}
				}
				e.refreshable(after)
				if d := e.view(manager, vc.vendor); d.ConnectedUser == nil || d.ConnectedUser.Name != displayName(logins[winner]) {
					t.Fatalf("list shows %+v", d.ConnectedUser)
				}
			})
		}
	}
}

// displayName is the sandbox's name for a login ("user3" → "User3 User").
func displayName(login string) string {
	return string(login[0]-'a'+'A') + login[1:] + " User"
}
