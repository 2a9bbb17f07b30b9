package expiry_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vendors"
)

// idleCheck is IDLE_CHECK_DAYS's default, as the scanner of these tests has it.
const idleCheck = 30 * day

// policyRow is one refresh policy walked through 400 days. A real vendor
// is a row with its registry id and no policy; a policy the registry has
// no vendor for yet is a synthetic vendor: Confluence's entry with that
// policy, and a sandbox vendor that keeps it (sandboxtest.Synthetic).
type policyRow struct {
	vendor string
	policy *vendors.RefreshPolicy // nil: the registry's own entry of vendor

	// With a scan every 30 days (days 30, 60, …, 390) and one on day 400:
	refreshedOn []int // the scans that refreshed the grant
	idleChecks  bool  // those refreshes were idle checks of a grant that never expires
	warnedOn    int   // the scan that sent the expiring notice (0: none)
	expiredOn   int   // the scan that found it dead and sent the disconnected notice (0: alive on day 400)

	// With a scan every day, and the grant revoked at the vendor on day
	// 31 (after that day's scan): the scan that finds it dead.
	revokedFoundOn int
}

// every is the days from first to last, step apart.
func every(first, last, step int) []int {
	var out []int
	for d := first; d <= last; d += step {
		out = append(out, d)
	}
	return out
}

// The table: each of the five shapes of DESIGN §10 with its numbers, the
// real ServiceNow (fixed lifespan) and Confluence (Atlassian: rotating,
// inactivity and absolute limit). Each vendor added to the registry adds
// its row here.
var policyRows = []policyRow{
	{vendor: "servicenow", // 100 days from the authorization
		warnedOn: 90, expiredOn: 120, revokedFoundOn: 100},
	{vendor: "jira", // Atlassian, as Confluence
		refreshedOn: every(60, 300, 60), warnedOn: 360, expiredOn: 390, revokedFoundOn: 45},
	{vendor: "confluence", // rotating, 90 days unused, 365 days at most
		refreshedOn: every(60, 300, 60), warnedOn: 360, expiredOn: 390, revokedFoundOn: 45},
	{vendor: "sharepoint", // rotating, 90 days unused, no absolute limit
		refreshedOn: every(60, 360, 60), revokedFoundOn: 45},
	{vendor: "box", // rotating, single use, 60 days unused
		refreshedOn: every(30, 390, 30), revokedFoundOn: 60},
	{vendor: "googledrive", // not rotating, 180 days unused; a refresh is a use
		refreshedOn: every(90, 360, 90), revokedFoundOn: 90},
	{vendor: "dropbox", // never expires: idle checks only
		refreshedOn: every(30, 390, 30), idleChecks: true, revokedFoundOn: 60},
}

// setUp makes the row's synthetic vendor, if any, and the world.
func (r policyRow) setUp(t *testing.T) *env {
	t.Helper()
	if r.policy != nil {
		name := strings.TrimSuffix(r.vendor, "-like")
		sandboxtest.Synthetic(t, "confluence", r.vendor, name+" (synthetic)", vendors.TypeFileStorage, *r.policy)
	}
	e := newEnv(t, memstore.New())
	e.scanner.IdleCheck = idleCheck
	return e
}

// TestPoliciesFor400Days walks each refresh policy through 400 days of
// monthly scans, on the sandbox's clock: the grant is refreshed exactly
// when its policy needs it (before an inactivity window closes, or an idle
// check), warned only before an expiry no refresh can move, and the vendor
// takes its stored refresh token for as long as the service says it is
// connected. Then, with daily scans, a grant revoked at the vendor is found.
func TestPoliciesFor400Days(t *testing.T) {
	for _, r := range policyRows {
		t.Run(r.vendor+"/monthly scans", func(t *testing.T) { r.walk(t) })
		t.Run(r.vendor+"/revoked at the vendor", func(t *testing.T) { r.revoked(t) })
	}
}

func (r policyRow) walk(t *testing.T) {
	e := r.setUp(t)
	c := e.connectApp(r.vendor)
	v, _ := vendors.Lookup(r.vendor)

	var refreshed []int
	warned, expired := 0, 0
	scans := append(every(30, 390, 30), 400)
	for _, d := range scans {
		rep := e.run(at(float64(d)))
		if rep.Refreshed > 0 {
			refreshed = append(refreshed, d)
			if (rep.IdleChecks == rep.Refreshed) != r.idleChecks {
				t.Errorf("day %d: %d refreshes, %d of them idle checks", d, rep.Refreshed, rep.IdleChecks)
			}
		}
		for _, n := range e.notices(manager) {
			switch {
			case n.Kind == connection.NoticeExpiring && warned == 0:
				warned = d
			case n.Kind == connection.NoticeDisconnected && expired == 0:
				expired = d
				if !strings.Contains(n.Message, v.Name+" has unexpectedly been disconnected") {
					t.Errorf("disconnected notice %q", n.Message)
				}
			}
		}
		// What the service says, the vendor does: a connection shown as
		// usable has a refresh token the vendor takes (asked without
		// spending it), and one marked expired has none.
		cur := e.conn(c.Key)
		_, live := e.sandbox.Vendor.RefreshTokenUser(e.tokens(cur).RefreshToken)
		if live == cur.Expired {
			t.Fatalf("day %d: marked expired %v, but the vendor takes its refresh token: %v", d, cur.Expired, live)
		}
		status := e.view(manager, r.vendor).Status
		if want := cur.Status(at(float64(d)), v.Refresh.Extendable(), warnWindow); status != want || cur.Expired != (status == connection.StatusExpired) {
			t.Fatalf("day %d: listed %s (expired %v)", d, status, cur.Expired)
		}
	}
	if !slices.Equal(refreshed, r.refreshedOn) {
		t.Errorf("refreshed on days %v, want %v", refreshed, r.refreshedOn)
	}
	if warned != r.warnedOn || expired != r.expiredOn {
		t.Errorf("expiring notice on day %d, disconnected on day %d; want %d and %d", warned, expired, r.warnedOn, r.expiredOn)
	}
	// One email per notice, to the app manager who connected it.
	want := 0
	for _, d := range []int{r.warnedOn, r.expiredOn} {
		if d != 0 {
			want++
		}
	}
	if got := len(e.outbox.Messages()); got != want {
		t.Errorf("%d emails, want %d", got, want)
	}
}

// revokedOn is the day the row's grant is revoked at the vendor.
const revokedOn = 31

func (r policyRow) revoked(t *testing.T) {
	e := r.setUp(t)
	c := e.connectApp(r.vendor)
	found := 0
	for d := 1; d <= 400 && found == 0; d++ {
		rep := e.run(at(float64(d)))
		if d == revokedOn {
			e.sandbox.Knob(t, r.vendor+"/revoke?user=admin")
		}
		if rep.Expired > 0 {
			found = d
			if d <= revokedOn {
				t.Fatalf("found dead on day %d, before it was revoked", d)
			}
		}
	}
	if found != r.revokedFoundOn {
		t.Fatalf("a grant revoked on day %d was found dead on day %d, want %d", revokedOn, found, r.revokedFoundOn)
	}
	if v, _ := vendors.Lookup(r.vendor); v.Refresh.NeverExpires && at(float64(found)).Sub(at(revokedOn)) > idleCheck {
		t.Errorf("a grant that never expires was found %v after its revocation, more than IDLE_CHECK_DAYS", at(float64(found)).Sub(at(revokedOn)))
	}
	cur := e.conn(c.Key)
	ns := e.notices(manager)
	if !cur.Expired || len(ns) != 1 || ns[0].Kind != connection.NoticeDisconnected {
		t.Fatalf("after it was found: expired %v, notices %+v", cur.Expired, ns)
	}
}

// A connection stored before scopes were recorded learns them at its next
// keep-alive (from the vendor's answer, or the tokens stored with it).
func TestKeepAliveRecordsScopes(t *testing.T) {
	e := newEnv(t, memstore.New())
	c := e.connectApp("confluence")
	want := c.GrantedScope
	c.GrantedScope = ""
	if err := e.store.Apply(t.Context(), store.UpdateConnection{Conn: c}); err != nil {
		t.Fatal(err)
	}
	if rep := e.run(at(45)); rep.Refreshed != 1 {
		t.Fatalf("report %+v", rep)
	}
	if got := e.conn(c.Key).GrantedScope; got != want || got == "" {
		t.Fatalf("scope after the keep-alive = %q, want %q", got, want)
	}
}
