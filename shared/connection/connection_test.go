package connection_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
)

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want connection.Level
		ok   bool
	}{
		{"app", connection.LevelApp, true},
		{"user", connection.LevelUser, true},
		{"", "", false},
		{"App", "", false},
		{"system", "", false},
		{" app", "", false},
	} {
		got, err := connection.ParseLevel(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseLevel(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseAction(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want connection.Action
		ok   bool
	}{
		{"", connection.ActionConnect, true},
		{"reconnect", connection.ActionReconnect, true},
		{"changeUser", connection.ActionChangeUser, true},
		{"connect", "", false}, // connecting is the absence of an action
		{"changeuser", "", false},
		{"Reconnect", "", false},
		{"delete", "", false},
	} {
		got, err := connection.ParseAction(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseAction(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestKeyString(t *testing.T) {
	if got := connection.AppKey("a1", "servicenow").String(); got != "a1/servicenow/app" {
		t.Errorf("app key %q", got)
	}
	if got := connection.UserKey("a1", "confluence", "u1").String(); got != "a1/confluence/user/u1" {
		t.Errorf("user key %q", got)
	}
	k := connection.UserKey("a1", "servicenow", "u1")
	if k.Level != connection.LevelUser || k.UserID != "u1" || connection.AppKey("a1", "x").UserID != "" {
		t.Errorf("keys %+v", k)
	}
}

var (
	now  = time.Date(2027, 1, 20, 10, 0, 0, 0, time.UTC)
	day  = 24 * time.Hour
	warn = 10 * day
)

func TestHardExpiry(t *testing.T) {
	rte, abs := now.Add(30*day), now.Add(200*day)
	for _, tc := range []struct {
		name     string
		c        connection.Connection
		rotating bool
		want     time.Time
	}{
		{"fixed: the refresh token's expiry", connection.Connection{RefreshTokenExpiresAt: rte, AbsoluteExpiresAt: abs}, false, rte},
		{"fixed without expiry", connection.Connection{}, false, time.Time{}},
		{"rotating: the absolute limit", connection.Connection{RefreshTokenExpiresAt: rte, AbsoluteExpiresAt: abs}, true, abs},
		{"rotating without absolute limit: none", connection.Connection{RefreshTokenExpiresAt: rte}, true, time.Time{}},
	} {
		if got := tc.c.HardExpiry(tc.rotating); !got.Equal(tc.want) {
			t.Errorf("%s: HardExpiry = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		name     string
		c        connection.Connection
		rotating bool
		want     connection.Status
	}{
		{"fixed, far", connection.Connection{RefreshTokenExpiresAt: now.Add(50 * day)}, false, connection.StatusConnected},
		{"fixed, just outside the window", connection.Connection{RefreshTokenExpiresAt: now.Add(warn + time.Second)}, false, connection.StatusConnected},
		{"fixed, at the window", connection.Connection{RefreshTokenExpiresAt: now.Add(warn)}, false, connection.StatusExpiring},
		{"fixed, inside the window", connection.Connection{RefreshTokenExpiresAt: now.Add(time.Hour)}, false, connection.StatusExpiring},
		{"fixed, at expiry", connection.Connection{RefreshTokenExpiresAt: now}, false, connection.StatusExpired},
		{"fixed, past expiry", connection.Connection{RefreshTokenExpiresAt: now.Add(-time.Second)}, false, connection.StatusExpired},
		{"fixed, no expiry known", connection.Connection{}, false, connection.StatusConnected},
		{"marked expired though time remains", connection.Connection{Expired: true, RefreshTokenExpiresAt: now.Add(50 * day)}, false, connection.StatusExpired},
		{"rotating, inactivity expiry near (keep-alive extends it)", connection.Connection{RefreshTokenExpiresAt: now.Add(day), AbsoluteExpiresAt: now.Add(300 * day)}, true, connection.StatusConnected},
		{"rotating, absolute limit near", connection.Connection{RefreshTokenExpiresAt: now.Add(80 * day), AbsoluteExpiresAt: now.Add(5 * day)}, true, connection.StatusExpiring},
		{"rotating, absolute limit at the window", connection.Connection{RefreshTokenExpiresAt: now.Add(80 * day), AbsoluteExpiresAt: now.Add(warn)}, true, connection.StatusExpiring},
		{"rotating, inactivity expiry passed", connection.Connection{RefreshTokenExpiresAt: now.Add(-time.Minute), AbsoluteExpiresAt: now.Add(300 * day)}, true, connection.StatusExpired},
		{"rotating, refused", connection.Connection{Expired: true, RefreshTokenExpiresAt: now.Add(80 * day), AbsoluteExpiresAt: now.Add(300 * day)}, true, connection.StatusExpired},
		{"rotating, no absolute limit", connection.Connection{RefreshTokenExpiresAt: now.Add(day)}, true, connection.StatusConnected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.Status(now, tc.rotating, warn); got != tc.want {
				t.Fatalf("Status = %q, want %q", got, tc.want)
			}
			if tc.c.IsExpired(now) != (tc.want == connection.StatusExpired) {
				t.Fatalf("IsExpired disagrees with Status %q", tc.want)
			}
		})
	}
	t.Run("no warning window", func(t *testing.T) {
		c := connection.Connection{RefreshTokenExpiresAt: now.Add(time.Minute)}
		if got := c.Status(now, false, 0); got != connection.StatusConnected {
			t.Fatalf("Status = %q, want connected", got)
		}
	})
}

var hexID = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestNoticeID(t *testing.T) {
	keys := []connection.Key{
		connection.AppKey("acct-1", "servicenow"),
		connection.AppKey("acct-1", "confluence"),
		connection.AppKey("acct-2", "servicenow"),
		connection.UserKey("acct-1", "servicenow", "u-1"),
		connection.UserKey("acct-1", "servicenow", "u-2"),
		connection.UserKey("acct-1", "confluence", "u-1"),
		connection.UserKey("acct-2", "servicenow", "u-1"),
		connection.UserKey("acct-1", "servicenow", "auth0|123"),
		connection.UserKey("acct-1", "servicenow", "auth0|1234"),
		connection.UserKey("acct-1", "servicenow", "app"),
	}
	seen := map[string]string{}
	for _, k := range keys {
		for _, kind := range connection.NoticeKinds {
			for gen := range 3 {
				id := connection.NoticeID(k, kind, gen)
				if !hexID.MatchString(id) {
					t.Fatalf("NoticeID(%s, %s, %d) = %q, want 24 hex digits", k, kind, gen, id)
				}
				if again := connection.NoticeID(k, kind, gen); again != id {
					t.Fatalf("NoticeID is not deterministic: %q then %q", id, again)
				}
				what := fmt.Sprintf("%s %s %d", k, kind, gen)
				if prev, dup := seen[id]; dup {
					t.Fatalf("NoticeID collision: %s and %s both get %s", prev, what, id)
				}
				seen[id] = what
			}
		}
	}
	if len(connection.NoticeKinds) != 2 {
		t.Fatalf("NoticeKinds = %v", connection.NoticeKinds)
	}
}

func TestNoticeRecipient(t *testing.T) {
	p := connection.Person{UserID: "u-ada", Email: "ada@acme.com", Name: "Ada"}
	c := connection.Connection{Key: connection.AppKey("a", "servicenow"), ConnectedBy: p, ConnectedUser: connection.Identity{ID: "sys-1"}}
	if c.NoticeRecipient() != p {
		t.Fatalf("NoticeRecipient = %+v, want the platform user who connected", c.NoticeRecipient())
	}
}
