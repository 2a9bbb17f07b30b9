package faults_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/faulttest"
	"github.com/workplace/connections/shared/notices"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vendors"
)

// check asserts what must hold after any failure, and after a retry:
//
//   - every connection that was there is still there (unless the flow
//     removes connections), and a user connection only under its app's;
//   - every connection's tokens are readable at the version it names, and
//     a connection not marked expired works — the vendor would take its
//     refresh token now (or that of a newer version rotated from it, which
//     the next refresh adopts), for the vendor user the connection names —
//     unless it was already dead at the vendor when the flow started (a
//     grant the flow is there to find dead, or not yet marked: the scan's
//     next run marks it); a connection marked expired really is dead;
//   - the counters match the user connections;
//   - every secret version written by calls is the one its connection or
//     settings name, or a warning or error log line names its secret (a
//     version named once and replaced later is not looked at again: calls
//     are those of one run); every secret
//     of a removed connection is scheduled for deletion, or a log line
//     names it;
//   - a notice marked sent had its email sent;
//   - once the change stream is drained, every committed change is
//     published, none that did not commit (checkEvents).
func (w *world) check(stage string, removes bool, calls []faulttest.Call) {
	w.t.Helper()
	ctx := w.t.Context()
	conns := w.conns()
	if !removes {
		for k := range w.before {
			if _, ok := conns[k]; !ok {
				w.t.Fatalf("%s: connection %s is gone", stage, k)
			}
		}
	}
	type counts struct{ total, connected int }
	want := map[string]counts{}
	for k, c := range conns {
		if k.Level == connection.LevelUser {
			if _, ok := conns[connection.AppKey(k.Account, k.Vendor)]; !ok {
				w.t.Fatalf("%s: user connection %s without its app connection", stage, k)
			}
			n := want[k.Vendor]
			n.total++
			if !c.Expired {
				n.connected++
			}
			want[k.Vendor] = n
		}
		login, live := w.works(stage, c)
		switch {
		case c.Expired && live:
			w.t.Fatalf("%s: %s is marked expired (%s) but its grant works", stage, k, c.ExpiredReason)
		case !c.Expired && !live && (w.worked[k] || w.before[k].SecretVersion != c.SecretVersion):
			w.t.Fatalf("%s: %s does not work: the vendor would refuse its refresh token", stage, k)
		case !c.Expired && live && userID(k.Vendor, login) != c.ConnectedUser.ID:
			w.t.Fatalf("%s: %s names vendor user %s, its tokens are %s's", stage, k, c.ConnectedUser.ID, login)
		}
	}
	for _, v := range vendorIDs {
		snaps, err := w.mem.Snapshot(ctx, account, "", []string{v})
		if err != nil {
			w.t.Fatal(err)
		}
		got := snaps[v].Counts
		if n := want[v]; got.Total != n.total || got.Connected != n.connected {
			w.t.Fatalf("%s: %s counters %+v, connections total %d connected %d", stage, v, got, n.total, n.connected)
		}
	}
	w.checkSecrets(stage, conns, calls)
	w.checkNotices(stage)
	w.checkEvents(stage, false)
}

// works reads a connection's tokens (which must be there) and asks the
// sandbox, without spending the token, for whom a refresh would work now.
// A refresh token the vendor no longer takes counts as working when the
// secret's current version was rotated from it: the next refresh adopts
// that version (see provider.Factory.Refresh).
func (w *world) works(stage string, c connection.Connection) (login string, live bool) {
	w.t.Helper()
	ctx := w.t.Context()
	tok, err := vault.GetTokens(ctx, w.vault, c.SecretName, c.SecretVersion)
	if err != nil {
		w.t.Fatalf("%s: tokens of %s at version %s: %v", stage, c.Key, c.SecretVersion, err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		w.t.Fatalf("%s: tokens of %s are incomplete", stage, c.Key)
	}
	if login, live = w.sandbox.Vendor.RefreshTokenUser(tok.RefreshToken); live {
		return login, true
	}
	cur, err := vault.GetTokens(ctx, w.vault, c.SecretName, "")
	if err == nil && cur.RotatedFrom == c.SecretVersion {
		return w.sandbox.Vendor.RefreshTokenUser(cur.RefreshToken)
	}
	return "", false
}

// checkSecrets: no secret version written is left unused, and no secret of
// a removed connection left in place, without a log line naming it.
func (w *world) checkSecrets(stage string, conns map[connection.Key]connection.Connection, calls []faulttest.Call) {
	w.t.Helper()
	ctx := w.t.Context()
	named := map[string]string{} // secret name → the version in use
	for _, c := range conns {
		named[c.SecretName] = c.SecretVersion
	}
	for _, v := range vendorIDs {
		if s, err := w.mem.GetSettings(ctx, account, v); err == nil && s.ClientSecretName != "" {
			named[s.ClientSecretName] = s.ClientSecretVersion
		}
	}
	logged := w.secretsLogged()
	for _, c := range calls {
		if c.Name != "vault.Put" || !c.Performed || c.Detail == "" {
			continue
		}
		if named[c.Detail] == c.Version && c.Version != "" {
			continue
		}
		if _, removed := w.removedSecret(c.Detail, conns); removed {
			continue // checked below
		}
		if !logged[c.Detail] {
			w.t.Fatalf("%s: secret %s has an unused version (written by call %d%s) and no log line says so",
				stage, c.Detail, c.N, map[bool]string{true: ", its answer lost"}[c.Injected])
		}
	}
	for k, c := range w.before {
		if _, ok := conns[k]; ok {
			continue
		}
		if _, err := w.vault.Get(ctx, c.SecretName, ""); errors.Is(err, vault.ErrNotFound) {
			continue // scheduled for deletion
		}
		if !logged[c.SecretName] {
			w.t.Fatalf("%s: %s was removed, its secret %s is not scheduled for deletion and no log line says so", stage, k, c.SecretName)
		}
	}
}

// removedSecret reports whether name is the secret of a connection that
// was there before and is gone now.
func (w *world) removedSecret(name string, conns map[connection.Key]connection.Connection) (connection.Key, bool) {
	for k, c := range w.before {
		if _, still := conns[k]; !still && c.SecretName == name {
			return k, true
		}
	}
	return connection.Key{}, false
}

// secretsLogged are the secret names of warning and error log lines.
func (w *world) secretsLogged() map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(w.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Level  string `json:"level"`
			Secret string `json:"secret"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Secret != "" && (line.Level == "WARN" || line.Level == "ERROR") {
			out[line.Secret] = true
		}
		if strings.Count(sc.Text(), `"level":`) > 1 {
			w.t.Errorf("a log line has two level keys: %s", sc.Text())
		}
	}
	return out
}

// checkNotices: a notice marked sent had its email sent.
func (w *world) checkNotices(stage string) {
	w.t.Helper()
	for _, who := range []string{manager.UserID, bob.UserID, carol.UserID, dave.UserID} {
		ns, err := w.mem.ListNotices(w.t.Context(), account, who)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, n := range ns {
			if n.SentAt.IsZero() {
				continue
			}
			if w.emailsOf(n) == 0 {
				w.t.Fatalf("%s: notice %s (%s %s) is marked sent, no email went out", stage, n.ID, n.Vendor, n.Kind)
			}
		}
	}
}

// emailsOf counts the emails sent for a notice.
func (w *world) emailsOf(n connection.Notice) int {
	v, _ := vendors.Lookup(n.Vendor)
	subject := notices.Email(v, n, "").Subject
	count := 0
	for _, m := range w.outbox.Messages() {
		if len(m.To) == 1 && m.To[0] == n.Email && m.Subject == subject {
			count++
		}
	}
	return count
}

// refreshAll renews every live connection through the service's own
// refresh (and keeps what it stored), the last proof that each works.
func (w *world) refreshAll(stage string) {
	w.t.Helper()
	f := w.clientFactory()
	for k, c := range w.conns() {
		if c.Expired {
			continue
		}
		if _, err := f.Refresh(w.t.Context(), &c, w.clock.Now()); err != nil {
			w.t.Fatalf("%s: refresh of %s: %v", stage, k, err)
		}
	}
}

// describe names the injected call for messages.
func describeCall(c faulttest.Call) string {
	if c.Detail == "" {
		return fmt.Sprintf("#%d %s", c.N, c.Name)
	}
	return fmt.Sprintf("#%d %s (%s)", c.N, c.Name, c.Detail)
}
