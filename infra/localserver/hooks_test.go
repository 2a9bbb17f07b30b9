package localserver_test

// End-to-end tests of the local hooks that tell what a vendor saw and move
// time: /_sandbox/{vendor}/introspect, /_sandbox/{vendor}/stats and
// /_local/clock, all over HTTP. No route returns a token, so the tests read
// the access tokens from the vault, as a consumer of the token broker would
// hold them.

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/expiry"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/vault"
)

// accessToken is the connection's current access token, from the vault.
func (e *env) accessToken(k connection.Key) string {
	e.t.Helper()
	c := e.stored(k)
	toks, err := vault.GetTokens(context.Background(), e.deps.Vault, c.SecretName, c.SecretVersion)
	if err != nil {
		e.t.Fatalf("tokens of %s: %v", k, err)
	}
	e.secret(toks.AccessToken, "an access token of "+k.String())
	return toks.AccessToken
}

// introspection is the sandbox's answer about a token.
type introspection struct {
	Active bool   `json:"active"`
	User   string `json:"user"`
	Site   string `json:"site"`
}

// introspect is GET /_sandbox/{vendor}/introspect with the token as Bearer.
func (e *env) introspect(vendor, token string) (int, introspection) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.base+"/_sandbox/"+vendor+"/introspect", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, decode[introspection](e, reply{status: resp.StatusCode, body: b})
}

// wantActive and wantInactive check what the vendor's API says of a token.
func (e *env) wantActive(vendor, token, user, site, what string) {
	e.t.Helper()
	if st, out := e.introspect(vendor, token); st != http.StatusOK || out != (introspection{true, user, site}) {
		e.t.Fatalf("%s: introspect %d %+v, want active for %s on %s", what, st, out, user, site)
	}
}

func (e *env) wantInactive(vendor, token, what string) {
	e.t.Helper()
	if st, out := e.introspect(vendor, token); st != http.StatusUnauthorized || out != (introspection{}) {
		e.t.Fatalf("%s: introspect %d %+v, want 401 inactive", what, st, out)
	}
}

type grantStats struct {
	AuthorizationCode int `json:"authorizationCode"`
	RefreshToken      int `json:"refreshToken"`
}

func (e *env) stats(vendor string) grantStats {
	e.t.Helper()
	r := e.get("/_sandbox/"+vendor+"/stats", nil)
	e.want(r, http.StatusOK, "stats of "+vendor)
	return decode[grantStats](e, r)
}

type clockView struct {
	Time  time.Time `json:"time"`
	Moved bool      `json:"moved"`
}

// moveClock is POST /_local/clock {"time":"<at>"}.
func (e *env) moveClock(at time.Time) {
	e.t.Helper()
	r := e.call(http.MethodPost, "/_local/clock", nil, `{"time":"`+at.Format(time.RFC3339)+`"}`)
	e.want(r, http.StatusOK, "move the clock to "+at.Format(time.RFC3339))
	if got := decode[clockView](e, r); !got.Time.Equal(at) || !got.Moved {
		e.t.Fatalf("clock moved to %s answers %s", at, r.body)
	}
}

// wantClock checks GET /_local/clock.
func (e *env) wantClock(at time.Time, moved bool, what string) {
	e.t.Helper()
	r := e.get("/_local/clock", nil)
	e.want(r, http.StatusOK, "GET /_local/clock")
	if got := decode[clockView](e, r); !got.Time.Equal(at) || got.Moved != moved {
		e.t.Fatalf("%s: clock %s, want %s moved=%v", what, r.body, at, moved)
	}
}

// TestLocalClockIntrospectStats: a newcomer connects both vendors through
// the sandbox, sees the access tokens work, moves the clock past their
// lifetimes (they stop working), lets the scan's keep-alive refresh
// Confluence on the moved clock, reads the vendor's counts, sees the list's
// status follow the moved clock, and goes back to the real clock.
func TestLocalClockIntrospectStats(t *testing.T) {
	e := newEnv(t, nil)
	e.wantClock(t0, false, "at start")
	for _, v := range []string{"servicenow", "confluence"} {
		if got := e.stats(v); got != (grantStats{}) {
			t.Fatalf("%s before anything: %+v", v, got)
		}
	}
	e.saveServiceNowSettings(ada)
	e.connect(ada, "servicenow", "app", "", nil)
	e.connect(ada, "confluence", "app", "", nil)
	snKey, cfKey := connection.AppKey("a1", "servicenow"), connection.AppKey("a1", "confluence")
	sn, cf := e.accessToken(snKey), e.accessToken(cfKey)
	e.wantActive("servicenow", sn, "admin", "acme", "ServiceNow's first access token")
	e.wantActive("confluence", cf, "admin", "acme", "Confluence's first access token")
	e.wantInactive("confluence", sn, "a ServiceNow token at Atlassian")
	for _, v := range []string{"servicenow", "confluence"} {
		if got := e.stats(v); got != (grantStats{AuthorizationCode: 1}) {
			t.Fatalf("%s after connecting: %+v", v, got)
		}
	}

	// The sandbox's lifetimes follow the moved clock: ServiceNow's 30
	// minutes, Atlassian's hour.
	e.moveClock(t0.Add(30*time.Minute - time.Second))
	e.wantActive("servicenow", sn, "admin", "acme", "ServiceNow one second before its 30 minutes")
	e.moveClock(t0.Add(30 * time.Minute))
	e.wantInactive("servicenow", sn, "ServiceNow after its 30 minutes")
	e.wantActive("confluence", cf, "admin", "acme", "Confluence after 30 minutes")
	e.moveClock(t0.Add(time.Hour))
	e.wantInactive("confluence", cf, "Confluence after its hour")

	// Day 50: every route reads the moved clock. The scan's default time is
	// it, and its keep-alive refreshes Confluence at the sandbox, which
	// counts the refresh.
	day50 := t0.Add(50 * day)
	e.moveClock(day50)
	e.wantClock(day50, true, "moved to day 50")
	r := e.call(http.MethodPost, "/_local/expiry-scan", nil, "")
	e.want(r, http.StatusOK, "scan at the moved clock's now")
	if rep := decode[expiry.Report](e, r); !rep.Now.Equal(day50) || rep.Refreshed != 1 || rep.Failed != 0 {
		t.Fatalf("scan without a time on day 50: %s", r.body)
	}
	if got := e.stats("confluence"); got != (grantStats{AuthorizationCode: 1, RefreshToken: 1}) {
		t.Fatalf("Confluence after the keep-alive: %+v", got)
	}
	if got := e.stats("servicenow"); got != (grantStats{AuthorizationCode: 1}) {
		t.Fatalf("ServiceNow after the scan (nothing to keep alive): %+v", got)
	}
	cf2 := e.accessToken(cfKey)
	e.harvest(cfKey)
	e.wantActive("confluence", cf2, "admin", "acme", "Confluence's refreshed token")
	e.wantInactive("confluence", cf, "Confluence's first token")
	if v := find(e, e.list(ada, ""), "confluence"); !v.RefreshTokenExpiresAt.Equal(day50.Add(90*day)) || v.Status != connection.StatusConnected {
		t.Fatalf("Confluence after the keep-alive on day 50: %+v", v)
	}
	r = e.call(http.MethodPut, "/v1/account/integrations/servicenow/settings", &ada, snSettings)
	e.want(r, http.StatusOK, "save the settings on day 50")
	if v := decode[lifecycle.SettingsView](e, r); !v.UpdatedAt.Equal(day50) {
		t.Fatalf("settings saved on day 50: updatedAt %s", v.UpdatedAt)
	}

	// Day 91: the list's status is relative to the moved clock: ServiceNow's
	// 100-day lifespan is inside the warning window, with no scan run.
	day91 := t0.Add(91 * day)
	e.moveClock(day91)
	if v := find(e, e.list(ada, ""), "servicenow"); v.Status != connection.StatusExpiring || v.RefreshTokenExpired || !v.RefreshTokenExpiresAt.Equal(t0.Add(100*day)) {
		t.Fatalf("ServiceNow on day 91: %+v", v)
	}
	// Back to the real clock (t0 in this test), the list is as on day 0.
	r = e.call(http.MethodPost, "/_local/clock", nil, `{"time":null}`)
	e.want(r, http.StatusOK, "back to the real clock")
	if got := decode[clockView](e, r); !got.Time.Equal(t0) || got.Moved {
		t.Fatalf("back to the real clock: %s", r.body)
	}
	e.wantClock(t0, false, "back to the real clock")
	if v := find(e, e.list(ada, ""), "servicenow"); v.Status != connection.StatusConnected {
		t.Fatalf("ServiceNow back on the real clock: %+v", v)
	}

	e.moveClock(day91)
	// A reconnect on the moved clock: the state expires 10 minutes after
	// it (authURL checks that), the sandbox issues the grant then, and the
	// new lifespan counts from it.
	re := e.connect(ada, "servicenow", "app", "reconnect", nil)
	if !re.Connection.RefreshTokenExpiresAt.Equal(day91.Add(100*day)) || re.Connection.Status != connection.StatusConnected {
		t.Fatalf("reconnect on day 91: %+v", re.Connection)
	}
	e.wantActive("servicenow", e.accessToken(snKey), "admin", "acme", "ServiceNow's token of the reconnect")
	if got := e.stats("servicenow"); got != (grantStats{AuthorizationCode: 2}) {
		t.Fatalf("ServiceNow after the reconnect: %+v", got)
	}

	// Real time flows under the offset: what a person at the console sees.
	e.clock.Advance(2 * time.Hour)
	e.wantClock(day91.Add(2*time.Hour), true, "two real hours after moving to day 91")
	e.assertNoLeaks()
}

// TestLocalClockBadInput: a bad body is the tools' JSON 400 and leaves the
// clock where it was.
func TestLocalClockBadInput(t *testing.T) {
	e := newEnv(t, nil)
	at := t0.Add(7 * day)
	e.moveClock(at)
	for _, c := range []struct{ name, body, code string }{
		{"empty", "", "invalid_body"},
		{"not JSON", "time=2027-01-20T06:00:00Z", "invalid_body"},
		{"truncated", `{"time":`, "invalid_body"},
		{"no time", `{}`, "invalid_body"},
		{"unknown field", `{"time":null,"offset":"1h"}`, "invalid_body"},
		{"two objects", `{"time":null}{"time":null}`, "invalid_body"},
		{"JSON null", `null`, "invalid_body"},
		{"array", `[]`, "invalid_body"},
		{"date only", `{"time":"2027-01-20"}`, "invalid_time"},
		{"not a time", `{"time":"tomorrow"}`, "invalid_time"},
		{"number", `{"time":5}`, "invalid_time"},
		{"object", `{"time":{}}`, "invalid_time"},
		{"beyond an offset", `{"time":"9999-12-31T23:59:59Z"}`, "invalid_time"},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func(parent *testing.T) { e.t = parent }(e.t)
			e.t = t
			e.wantError(e.call(http.MethodPost, "/_local/clock", nil, c.body), http.StatusBadRequest, c.code, "POST /_local/clock "+c.body)
			e.wantClock(at, true, "after a refused move")
		})
	}
	e.wantError(e.call(http.MethodPut, "/_local/clock", nil, `{"time":null}`), http.StatusMethodNotAllowed, "method_not_allowed", "PUT /_local/clock")
}
