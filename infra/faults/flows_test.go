package faults_test

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/workplace/connections/shared/broker"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/faulttest"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/vault"
)

// flow is one thing a person (or the schedule) does, in a world built for
// it.
type flow struct {
	name string
	// removes: the flow removes connections.
	removes bool
	// setup builds the world the flow starts from (nothing fails there).
	setup func(w *world)
	// run is the flow itself: what the injector makes fail.
	run func(w *world) error
	// retry does the same again with nothing failing: the same request
	// (for a callback, a new authorization with the same action), or the
	// scan's next run.
	retry func(w *world) error
	// final asserts the state a clean run ends in, which the retry must
	// reach too.
	final func(w *world, injected faulttest.Call)
}

func isProblem(err error, status int, code string) bool {
	var p *problem.Problem
	return errors.As(err, &p) && p.Status == status && p.Code == code
}

// ---- callback: connect, reconnect, changeUser ----

// callback is a flow that completes an authorization of who, approved by
// login, after build; the retry starts a new one with the same action.
func callback(name string, who lifecycle.Caller, vendorID, level, action, login string, build func(w *world), final func(w *world, injected faulttest.Call)) flow {
	return flow{
		name: name,
		setup: func(w *world) {
			build(w)
			w.authorize(who, vendorID, level, action, login)
		},
		run: func(w *world) error {
			_, err := w.svc.CompleteAuthorization(w.t.Context(), who, w.pending)
			return err
		},
		retry: func(w *world) error {
			ctx := w.t.Context()
			out, err := w.svc.StartAuthorization(ctx, who, lifecycle.AuthURLRequest{Vendor: vendorID, Flow: level, Action: action})
			if action == "" && isProblem(err, http.StatusConflict, "already_connected") {
				return nil // the first attempt connected after all
			}
			if err != nil {
				return err
			}
			_, err = w.svc.CompleteAuthorization(ctx, who, w.sandbox.Approve(w.t, vendorID, out.URL, knobs(login)))
			return err
		},
		final: final,
	}
}

// connected asserts the final state of a connect: the connection exists,
// live, for the vendor user login.
func connected(k connection.Key, login string) func(*world, faulttest.Call) {
	return func(w *world, _ faulttest.Call) {
		w.t.Helper()
		c, ok := w.conns()[k]
		switch {
		case !ok:
			w.t.Fatalf("final: %s is not connected", k)
		case c.Expired:
			w.t.Fatalf("final: %s is expired", k)
		case c.ConnectedUser.ID != userID(k.Vendor, login):
			w.t.Fatalf("final: %s names vendor user %s, want %s's", k, c.ConnectedUser.ID, login)
		}
	}
}

// repaired asserts the final state of a reconnect or change of user: the
// same connection (id, creation), a later generation, live, for login.
func repaired(k connection.Key, login string) func(*world, faulttest.Call) {
	return func(w *world, call faulttest.Call) {
		w.t.Helper()
		connected(k, login)(w, call)
		before, after := w.before[k], w.conns()[k]
		if after.ID != before.ID || !after.CreatedAt.Equal(before.CreatedAt) || after.Generation <= before.Generation {
			w.t.Fatalf("final: %s is id %s generation %d, was id %s generation %d", k, after.ID, after.Generation, before.ID, before.Generation)
		}
	}
}

func app(vendorID string) connection.Key { return connection.AppKey(account, vendorID) }
func user(who lifecycle.Caller, vendorID string) connection.Key {
	return connection.UserKey(account, vendorID, who.UserID)
}

// withApp is a world where vendorID is connected at app level and carol at
// user level.
func withApp(vendorID string) func(*world) {
	return func(w *world) {
		w.connectApp(vendorID)
		w.connectUser(carol, vendorID, "carol")
	}
}

// ---- settings ----

func saveSettings(w *world) error {
	s := func(v string) *string { return &v }
	_, err := w.svc.SaveSettings(w.t.Context(), manager, "servicenow", lifecycle.SettingsRequest{
		InstanceURL: s(snInstance), ClientID: s(snClient), ClientSecret: s(snSecret),
	})
	return err
}

func settingsSaved(w *world, _ faulttest.Call) {
	w.t.Helper()
	set, err := w.mem.GetSettings(w.t.Context(), account, "servicenow")
	if err != nil {
		w.t.Fatalf("final: settings: %v", err)
	}
	secret, err := w.vault.Get(w.t.Context(), set.ClientSecretName, set.ClientSecretVersion)
	if err != nil || string(secret) != snSecret || set.ClientID != snClient || set.InstanceURL != snInstance {
		w.t.Fatalf("final: settings %+v, secret readable %v", set, err)
	}
}

// ---- disconnect ----

func disconnect(who lifecycle.Caller, vendorID, level string, cascade bool) func(*world) error {
	return func(w *world) error {
		return w.svc.Disconnect(w.t.Context(), who, lifecycle.DisconnectRequest{Vendor: vendorID, Flow: level, Cascade: cascade})
	}
}

// again is a retried disconnect: done already is fine.
func again(run func(*world) error) func(*world) error {
	return func(w *world) error {
		if err := run(w); err != nil && !isProblem(err, http.StatusNotFound, "not_connected") {
			return err
		}
		return nil
	}
}

// removed asserts the final state of a disconnect: the keys are gone and
// their secrets scheduled for deletion — unless that deletion itself was
// what failed: the connection is gone all the same, nothing retries the
// deletion, and a log line names the secret (a documented limit).
func removed(keys ...connection.Key) func(*world, faulttest.Call) {
	return func(w *world, injected faulttest.Call) {
		w.t.Helper()
		conns := w.conns()
		logged := w.secretsLogged()
		for _, k := range keys {
			if _, ok := conns[k]; ok {
				w.t.Fatalf("final: %s is still connected", k)
			}
			name := w.before[k].SecretName
			if _, err := w.vault.Get(w.t.Context(), name, ""); !errors.Is(err, vault.ErrNotFound) &&
				!(injected.Name == "vault.Delete" && injected.Detail == name && !injected.Performed && logged[name]) {
				w.t.Fatalf("final: the secret of %s is not scheduled for deletion (%v)", k, err)
			}
		}
	}
}

// ---- the expiry scan ----

// scan is a run of the expiry scan at t (the world's clock is set to t
// before the flow starts), retried by the next daily run.
func scan(name string, build func(*world), t time.Time, final func(*world, faulttest.Call)) flow {
	run := func(at time.Time) func(*world) error {
		return func(w *world) error {
			w.clock.Set(at)
			_, err := w.scanner.Run(w.t.Context(), at)
			return err
		}
	}
	return flow{
		name:  name,
		setup: func(w *world) { build(w); w.clock.Set(t) },
		run:   run(t), retry: run(t.Add(day)), final: final,
	}
}

// keptAlive asserts the keys were refreshed at or after t and are not due
// again before the retry's run is over.
func keptAlive(t time.Time, keys ...connection.Key) func(*world, faulttest.Call) {
	return func(w *world, _ faulttest.Call) {
		w.t.Helper()
		conns := w.conns()
		for _, k := range keys {
			c := conns[k]
			if c.Expired || c.LastRefreshedAt.Before(t) || !c.NextCheckAt.After(t.Add(day)) {
				w.t.Fatalf("final: %s expired %v, last refreshed %v, next check %v", k, c.Expired, c.LastRefreshedAt, c.NextCheckAt)
			}
		}
	}
}

// noticed asserts the key's notice of kind exists, went out once (twice at
// most when a send's answer or the mark after it was lost), and the key is
// expired or not as said.
func noticed(kind connection.NoticeKind, expired bool, keys ...connection.Key) func(*world, faulttest.Call) {
	return func(w *world, injected faulttest.Call) {
		w.t.Helper()
		conns := w.conns()
		for _, k := range keys {
			c := conns[k]
			if c.Expired != expired {
				w.t.Fatalf("final: %s expired %v, want %v", k, c.Expired, expired)
			}
			to := c.NoticeRecipient()
			n, err := w.mem.GetNotice(w.t.Context(), account, to.UserID, connection.NoticeID(k, kind, c.Generation))
			if err != nil || n.SentAt.IsZero() {
				w.t.Fatalf("final: %s notice of %s: %+v, %v", kind, k, n, err)
			}
			most := 1
			marksSent := injected.Name == "store.Apply" && strings.HasPrefix(injected.Detail, "NoticeSent")
			if injected.Name == "mail.Send" && injected.Kind == faulttest.LostAnswer || marksSent {
				// The email went out and the mark that says so did not
				// (the outbox's documented at-least-once edge): the next
				// run sends it again.
				most = 2
			}
			if got := w.emailsOf(n); got < 1 || got > most {
				w.t.Fatalf("final: %s notice of %s: %d emails, want 1..%d", kind, k, got, most)
			}
		}
	}
}

func at(days int) time.Time { return t0.Add(time.Duration(days) * day) }

// both asserts two final states.
func both(a, b func(*world, faulttest.Call)) func(*world, faulttest.Call) {
	return func(w *world, c faulttest.Call) { a(w, c); b(w, c) }
}

// ---- the token broker ----

// brokerAt is when the broker flows ask: the access tokens issued at t0
// have expired, so each call refreshes first.
var brokerAt = t0.Add(2 * time.Hour)

// tokenFlow asks the broker for a token after build; a 409
// reconnect_required is the answer the flow expects when refused. The
// retry asks again once the lease a failed call may have left has lapsed
// (a broker's lease lasts a minute).
func tokenFlow(name string, build func(*world), req broker.TokenRequest, refused bool, final func(*world, faulttest.Call)) flow {
	ask := func(at time.Time) func(*world) error {
		return func(w *world) error {
			w.clock.Set(at)
			tok, err := w.broker.Token(w.t.Context(), "arn:aws:sts::123456789012:assumed-role/search-connector/x", req)
			if refused && isProblem(err, http.StatusConflict, "reconnect_required") {
				return nil
			}
			if err == nil && refused {
				return errors.New("a token of a refused grant")
			}
			if err == nil && tok.AccessToken == "" {
				return errors.New("an empty token")
			}
			return err
		}
	}
	retry := ask(brokerAt.Add(2 * time.Minute))
	if refused {
		// A dead grant's notice that did not go out is owed to the
		// scan's next daily run (the connection stays due; a claim to
		// send it lasts 15 minutes): the broker answers an expired
		// connection at once.
		retry = func(w *world) error {
			if err := ask(brokerAt.Add(2 * time.Minute))(w); err != nil {
				return err
			}
			w.clock.Set(brokerAt.Add(day))
			_, err := w.scanner.Run(w.t.Context(), brokerAt.Add(day))
			return err
		}
	}
	return flow{
		name: name, setup: func(w *world) { build(w); w.clock.Set(brokerAt) },
		run: ask(brokerAt), retry: retry, final: final,
	}
}

// refreshed asserts k was refreshed at brokerAt or later, and its stored
// token is valid for most of its lifetime.
func refreshed(k connection.Key) func(*world, faulttest.Call) {
	return func(w *world, _ faulttest.Call) {
		w.t.Helper()
		c := w.conns()[k]
		if c.Expired || c.LastRefreshedAt.Before(brokerAt) || c.AccessTokenExpiresAt.Before(brokerAt.Add(25*time.Minute)) || c.LeaseOwner != "" {
			w.t.Fatalf("final: %s expired %v, refreshed %v, access until %v, lease %q", k, c.Expired, c.LastRefreshedAt, c.AccessTokenExpiresAt, c.LeaseOwner)
		}
	}
}

// flows are every flow the suite breaks.
var flows = []flow{
	callback("callback/servicenow-app-connect", manager, "servicenow", "app", "", "",
		func(w *world) { w.saveServiceNow() }, connected(app("servicenow"), "admin")),
	callback("callback/confluence-app-connect", manager, "confluence", "app", "", "",
		func(*world) {}, connected(app("confluence"), "admin")),
	callback("callback/servicenow-app-reconnect", manager, "servicenow", "app", "reconnect", "",
		withApp("servicenow"), repaired(app("servicenow"), "admin")),
	callback("callback/servicenow-app-changeUser", manager, "servicenow", "app", "changeUser", "grace",
		withApp("servicenow"), repaired(app("servicenow"), "grace")),
	callback("callback/confluence-app-reconnect", manager, "confluence", "app", "reconnect", "",
		withApp("confluence"), repaired(app("confluence"), "admin")),
	callback("callback/confluence-app-changeUser", manager, "confluence", "app", "changeUser", "grace",
		withApp("confluence"), repaired(app("confluence"), "grace")),
	callback("callback/servicenow-user-connect", bob, "servicenow", "user", "", "bob",
		withApp("servicenow"), connected(user(bob, "servicenow"), "bob")),
	callback("callback/confluence-user-connect", bob, "confluence", "user", "", "bob",
		withApp("confluence"), connected(user(bob, "confluence"), "bob")),
	callback("callback/servicenow-user-reconnect", carol, "servicenow", "user", "reconnect", "carol",
		withApp("servicenow"), repaired(user(carol, "servicenow"), "carol")),
	callback("callback/confluence-user-reconnect-expired", carol, "confluence", "user", "reconnect", "carol",
		func(w *world) {
			withApp("confluence")(w)
			w.revokeAtVendor("confluence", "carol")
			w.markExpired(user(carol, "confluence"))
		}, repaired(user(carol, "confluence"), "carol")),

	{
		name: "settings/servicenow-first-save", setup: func(*world) {},
		run: saveSettings, retry: saveSettings, final: settingsSaved,
	},
	{
		name: "settings/servicenow-resave-connected", setup: withApp("servicenow"),
		run: saveSettings, retry: saveSettings, final: settingsSaved,
	},

	{
		name: "disconnect/servicenow-user", removes: true, setup: withApp("servicenow"),
		run:   disconnect(carol, "servicenow", "user", false),
		retry: again(disconnect(carol, "servicenow", "user", false)),
		final: removed(user(carol, "servicenow")),
	},
	{
		name: "disconnect/confluence-user", removes: true, setup: withApp("confluence"),
		run:   disconnect(carol, "confluence", "user", false),
		retry: again(disconnect(carol, "confluence", "user", false)),
		final: removed(user(carol, "confluence")),
	},
	{
		name: "disconnect/servicenow-app", removes: true, setup: func(w *world) { w.connectApp("servicenow") },
		run:   disconnect(manager, "servicenow", "app", false),
		retry: again(disconnect(manager, "servicenow", "app", false)),
		final: removed(app("servicenow")),
	},
	{
		name: "disconnect/servicenow-app-cascade", removes: true,
		setup: func(w *world) { withApp("servicenow")(w); w.connectUser(dave, "servicenow", "dave") },
		run:   disconnect(manager, "servicenow", "app", true),
		retry: again(disconnect(manager, "servicenow", "app", true)),
		final: removed(app("servicenow"), user(carol, "servicenow"), user(dave, "servicenow")),
	},
	{
		name: "disconnect/confluence-app-cascade", removes: true,
		setup: func(w *world) { withApp("confluence")(w); w.connectUser(dave, "confluence", "dave") },
		run:   disconnect(manager, "confluence", "app", true),
		retry: again(disconnect(manager, "confluence", "app", true)),
		final: removed(app("confluence"), user(carol, "confluence"), user(dave, "confluence")),
	},

	scan("scan/confluence-keep-alive", withApp("confluence"), at(50),
		keptAlive(at(50), app("confluence"), user(carol, "confluence"))),
	scan("scan/servicenow-expiring", withApp("servicenow"), at(95),
		noticed(connection.NoticeExpiring, false, app("servicenow"), user(carol, "servicenow"))),
	scan("scan/servicenow-expired", withApp("servicenow"), at(101),
		noticed(connection.NoticeDisconnected, true, app("servicenow"), user(carol, "servicenow"))),
	tokenFlow("broker/confluence-app-refresh", withApp("confluence"),
		broker.TokenRequest{Account: account, Vendor: "confluence"}, false, refreshed(app("confluence"))),
	tokenFlow("broker/servicenow-user-refresh", withApp("servicenow"),
		broker.TokenRequest{Account: account, Vendor: "servicenow", User: carol.UserID}, false, refreshed(user(carol, "servicenow"))),
	tokenFlow("broker/confluence-user-refused",
		func(w *world) { withApp("confluence")(w); w.revokeAtVendor("confluence", "carol") },
		broker.TokenRequest{Account: account, Vendor: "confluence", User: carol.UserID}, true,
		noticed(connection.NoticeDisconnected, true, user(carol, "confluence"))),

	scan("scan/confluence-refused",
		func(w *world) { withApp("confluence")(w); w.revokeAtVendor("confluence", "carol") }, at(50),
		both(keptAlive(at(50), app("confluence")),
			noticed(connection.NoticeDisconnected, true, user(carol, "confluence")))),
}
