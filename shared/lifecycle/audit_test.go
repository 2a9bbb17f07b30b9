package lifecycle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/store"
)

// timeline is the account's whole audit timeline, newest first.
func (e *env) timeline(acct string) []connection.AuditEntry {
	e.t.Helper()
	es, next, err := e.mem.ListAudit(e.t.Context(), acct, "", "", 100)
	if err != nil || next != "" {
		e.t.Fatalf("audit of %s: next %q, %v", acct, next, err)
	}
	return es
}

// line is an audit entry as these tests compare it.
type line struct {
	action connection.AuditAction
	level  connection.Level
	user   string
	actor  string
	at     time.Time
}

func lines(es []connection.AuditEntry) []line {
	out := make([]line, len(es))
	for i, e := range es {
		out[i] = line{e.Action, e.Level, e.UserID, e.Actor.Type + ":" + e.Actor.ID, e.At}
	}
	return out
}

func wantLines(t *testing.T, es []connection.AuditEntry, want ...line) {
	t.Helper()
	if got := lines(es); !reflect.DeepEqual(got, want) {
		t.Fatalf("audit timeline:\n got %+v\nwant %+v", got, want)
	}
}

// Every change of the lifecycle is on the timeline with who made it and
// when: settings, connect, user level, reconnect, change of user (with the
// vendor users before and after), and disconnect with its cascade — and
// never a secret or token.
func TestAuditTimelineOfTheLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	at := func(m int) time.Time { return start.Add(time.Duration(m) * time.Minute) }

	e.saveServiceNow(manager)
	e.clock.Set(at(1))
	// Saving the same settings again changes nothing on the timeline.
	if _, err := e.svc.SaveSettings(ctx, manager, "servicenow", lifecycle.SettingsRequest{InstanceURL: ptr(snInstance), ClientID: ptr(snClientID)}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(at(2))
	app := e.connectApp("servicenow", knobs("sandbox_user", "ada"))
	e.clock.Set(at(3))
	user := e.connectUser(bob, "servicenow", "bob")
	e.clock.Set(at(4))
	e.connect(manager, "servicenow", "app", "reconnect", knobs("sandbox_user", "ada"))
	e.clock.Set(at(5))
	e.connect(manager, "servicenow", "app", "changeUser", knobs("sandbox_user", "carol"))
	var secrets []string
	for _, k := range []connection.Key{app.Key, user.Key} {
		tok := e.tokens(e.conn(k))
		secrets = append(secrets, tok.AccessToken, tok.RefreshToken)
	}
	e.clock.Set(at(6))
	if err := e.svc.Disconnect(ctx, manager, lifecycle.DisconnectRequest{Vendor: "servicenow", Flow: "app", Cascade: true}); err != nil {
		t.Fatal(err)
	}

	es := e.timeline(account)
	ada := "user:" + manager.UserID
	wantLines(t, es,
		line{connection.AuditRemoved, connection.LevelApp, "", ada, at(6)},
		line{connection.AuditRemoved, connection.LevelUser, bob.UserID, ada, at(6)},
		line{connection.AuditUserChanged, connection.LevelApp, "", ada, at(5)},
		line{connection.AuditReconnected, connection.LevelApp, "", ada, at(4)},
		line{connection.AuditConnected, connection.LevelUser, bob.UserID, "user:" + bob.UserID, at(3)},
		line{connection.AuditConnected, connection.LevelApp, "", ada, at(2)},
		line{connection.AuditSettingsChanged, connection.LevelApp, "", ada, start},
	)
	details := func(i int) map[string]string { return es[i].Details }
	if d := details(6); d["changed"] != "instanceUrl,clientId,clientSecret,refreshTokenLifespanDays" || d["instanceUrl"] != snInstance ||
		d["clientId"] != snClientID || d["refreshTokenLifespanDays"] != "100" || len(d) != 4 {
		t.Errorf("settingsChanged details %v", d)
	}
	if d := details(5); !reflect.DeepEqual(d, map[string]string{"user": "Ada User", "userEmail": "ada@acme.example.com"}) {
		t.Errorf("connected details %v", d)
	}
	if d := details(4); d["user"] != "Bob User" {
		t.Errorf("user-level connected details %v", d)
	}
	if d := details(2); !reflect.DeepEqual(d, map[string]string{"user": "Carol User", "userEmail": "carol@acme.example.com",
		"previousUser": "Ada User", "previousUserEmail": "ada@acme.example.com"}) {
		t.Errorf("userChanged details %v", d)
	}
	if d := details(0); d["cascade"] != "true" {
		t.Errorf("removed (app) details %v", d)
	}
	if d := details(1); d["cascade"] != "true" {
		t.Errorf("removed (user) details %v", d)
	}
	// Each entry names its connection, and ids are unique.
	ids := map[string]bool{}
	for _, en := range es {
		if ids[en.ID] {
			t.Errorf("id %s twice", en.ID)
		}
		ids[en.ID] = true
		if en.Vendor != "servicenow" || en.Account != account || !en.ExpiresAt.Equal(en.At.Add(connection.DefaultAuditRetention)) {
			t.Errorf("entry %+v", en)
		}
	}
	for i, want := range []string{app.ID, user.ID, app.ID, app.ID, user.ID, app.ID, ""} {
		if es[i].ConnectionID != want {
			t.Errorf("entry %d (%s) names connection %q, want %q", i, es[i].Action, es[i].ConnectionID, want)
		}
	}
	all, _ := json.Marshal(es)
	if strings.Contains(string(all), e.snSecret) {
		t.Fatal("the client secret is on the timeline")
	}
	for _, tok := range secrets {
		if strings.Contains(string(all), tok) {
			t.Fatal("a token is on the timeline")
		}
	}
	if got := e.timeline(otherAccount); len(got) != 0 {
		t.Fatalf("another account's timeline: %+v", got)
	}

	// A new client secret alone is named, not shown; a user disconnecting
	// their own connection is its actor.
	e.clock.Set(at(7))
	e.connectApp("servicenow", nil)
	e.connectUser(carol, "servicenow", "carol")
	e.clock.Set(at(8))
	if _, err := e.svc.SaveSettings(ctx, manager, "servicenow", lifecycle.SettingsRequest{InstanceURL: ptr(snInstance), ClientID: ptr(snClientID), ClientSecret: ptr("rotated-" + e.snSecret)}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(at(9))
	if err := e.svc.Disconnect(ctx, carol, lifecycle.DisconnectRequest{Vendor: "servicenow", Flow: "user"}); err != nil {
		t.Fatal(err)
	}
	es = e.timeline(account)
	wantLines(t, es[:4],
		line{connection.AuditRemoved, connection.LevelUser, carol.UserID, "user:" + carol.UserID, at(9)},
		line{connection.AuditSettingsChanged, connection.LevelApp, "", ada, at(8)},
		line{connection.AuditConnected, connection.LevelUser, carol.UserID, "user:" + carol.UserID, at(7)},
		line{connection.AuditConnected, connection.LevelApp, "", ada, at(7)},
	)
	if d := es[1].Details; !reflect.DeepEqual(d, map[string]string{"changed": "clientSecret"}) {
		t.Errorf("a rotated secret's details %v", d)
	}
	if es[1].ConnectionID == "" {
		t.Error("settings changed on a connected vendor name no connection")
	}
	if d := es[0].Details; len(d) != 0 {
		t.Errorf("removed (own) details %v", d)
	}
}

// A refused or failed change leaves nothing on the timeline.
func TestAuditNothingForRefusedChanges(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.connectApp("confluence", knobs("sandbox_user", "ada"))
	before := e.timeline(account)

	// Refused by the rules.
	_, err := e.svc.SaveSettings(ctx, bob, "servicenow", lifecycle.SettingsRequest{InstanceURL: ptr(snInstance), ClientID: ptr(snClientID), ClientSecret: ptr("x")})
	wantProblem(t, err, http.StatusForbidden, "forbidden")
	_, err = e.svc.SaveSettings(ctx, manager, "servicenow", lifecycle.SettingsRequest{InstanceURL: ptr("https://evil.example.com"), ClientID: ptr(snClientID), ClientSecret: ptr("x")})
	wantProblem(t, err, http.StatusBadRequest, "invalid_instance")
	_, err = e.complete(manager, e.authorize(manager, "confluence", "app", "reconnect", knobs("sandbox_user", "mallory")))
	wantProblem(t, err, http.StatusConflict, "user_mismatch")
	err = e.svc.Disconnect(ctx, bob, lifecycle.DisconnectRequest{Vendor: "confluence", Flow: "user"})
	wantProblem(t, err, http.StatusNotFound, "not_connected")
	err = e.svc.Disconnect(ctx, bob, lifecycle.DisconnectRequest{Vendor: "confluence", Flow: "app"})
	wantProblem(t, err, http.StatusForbidden, "forbidden")

	// Failing at the write: nothing of the change, its entry included.
	fail := func(context.Context, []store.Op) error { return fmt.Errorf("injected: %w", store.ErrConflict) }
	e.store.setApply(fail)
	_, err = e.complete(bob, e.authorize(bob, "confluence", "user", "", knobs("sandbox_user", "bob")))
	wantProblem(t, err, http.StatusConflict, "already_connected")
	err = e.svc.Disconnect(ctx, manager, lifecycle.DisconnectRequest{Vendor: "confluence", Flow: "app"})
	wantProblem(t, err, http.StatusConflict, "conflict")
	_, err = e.svc.SaveSettings(ctx, manager, "confluence", lifecycle.SettingsRequest{SiteURL: ptr("https://acme.atlassian.net")})
	wantProblem(t, err, http.StatusConflict, "conflict")
	e.store.setApply(nil)

	if got := e.timeline(account); !reflect.DeepEqual(lines(got), lines(before)) {
		t.Fatalf("timeline after refused changes:\n got %+v\nwant %+v", lines(got), lines(before))
	}
}

// A repair whose write meets a change of the connection and is tried again
// records one entry, under the id it fixed before its first write.
func TestAuditIDKeptAcrossRetries(t *testing.T) {
	e := newEnv(t)
	e.connectApp("confluence", knobs("sandbox_user", "ada"))
	var ids []string
	e.store.setApply(func(_ context.Context, ops []store.Op) error {
		for _, op := range ops {
			if a, ok := op.(store.AppendAudit); ok {
				ids = append(ids, a.Entry.ID)
			}
		}
		if len(ids) == 1 {
			return fmt.Errorf("injected: %w", store.ErrConflict)
		}
		return nil
	})
	e.connect(manager, "confluence", "app", "reconnect", knobs("sandbox_user", "ada"))
	e.store.setApply(nil)
	if len(ids) != 2 || ids[0] != ids[1] {
		t.Fatalf("audit ids of the two writes: %v, want one id twice", ids)
	}
	es := e.timeline(account)
	if len(es) != 2 || es[0].ID != ids[0] || es[0].Action != connection.AuditReconnected {
		t.Fatalf("timeline %+v", lines(es))
	}
}
