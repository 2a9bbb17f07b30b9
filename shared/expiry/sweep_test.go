package expiry_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/faulttest"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/logctx"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/tokenhome"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/memvault"
)

// otherManager manages a second account, which has ServiceNow settings
// and no connection at all.
var otherManager = lifecycle.Caller{
	Person:  connection.Person{UserID: "u-cy", Email: "cy@example.org", Name: "Cy"},
	Account: "acct-2", AppManager: true,
}

// neverDue is a world the scan does not visit for months: a ServiceNow
// app connection (due only at its warning, day 90) with its settings, a
// Confluence app connection, Bob's Confluence connection expired (never
// due again), and a second account's ServiceNow settings with no
// connection. It returns the sweep's view: every connection's key.
func neverDue(e *env) []connection.Key {
	e.t.Helper()
	ctx := e.t.Context()
	e.connectApp("servicenow")
	e.connectApp("confluence")
	user := e.connectUser(bob, "confluence", "bob")
	user.Expired, user.ExpiredAt, user.NextCheckAt = true, t0, time.Time{}
	if err := e.store.Apply(ctx, store.UpdateConnection{Conn: user}); err != nil {
		e.t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	if _, err := e.svc.SaveSettings(ctx, otherManager, "servicenow", lifecycle.SettingsRequest{
		InstanceURL: str("https://other.service-now.com"), ClientID: str("sn-client"), ClientSecret: str("sn-secret"),
	}); err != nil {
		e.t.Fatal(err)
	}
	return []connection.Key{connection.AppKey(account, "servicenow"), connection.AppKey(account, "confluence"), user.Key}
}

// placed reads every secret of the neverDue world through r (nothing is
// lost) and counts those sealed and those not; each old copy is gone
// from the store that is not their home.
func placed(e *env, r *vault.Router, keys []connection.Key) (sealedN, secretsN int) {
	e.t.Helper()
	ctx := e.t.Context()
	count := func(version string) {
		if vault.IsSealedVersion(version) {
			sealedN++
		} else {
			secretsN++
		}
	}
	for _, k := range keys {
		c := e.conn(k)
		tok, err := vault.GetTokens(ctx, r, c.SecretName, c.SecretVersion)
		if err != nil || tok.RefreshToken == "" {
			e.t.Fatalf("tokens of %s at %s: %v", k, c.SecretVersion, err)
		}
		count(c.SecretVersion)
	}
	for _, acct := range []string{account, otherManager.Account} {
		set, err := e.store.GetSettings(ctx, acct, "servicenow")
		if err != nil {
			e.t.Fatal(err)
		}
		if got, err := r.Get(ctx, set.ClientSecretName, set.ClientSecretVersion); err != nil || string(got) != "sn-secret" {
			e.t.Fatalf("client secret of %s at %s reads %v", acct, set.ClientSecretVersion, err)
		}
		count(set.ClientSecretVersion)
	}
	return sealedN, secretsN
}

// oldCopiesGone asserts every secret of the neverDue world is gone from
// old (the store that is no longer home).
func oldCopiesGone(e *env, old vault.Vault, keys []connection.Key, where string) {
	e.t.Helper()
	for _, k := range keys {
		gone(e.t, old, e.conn(k).SecretName, where)
	}
	for _, acct := range []string{account, otherManager.Account} {
		set, err := e.store.GetSettings(e.t.Context(), acct, "servicenow")
		if err != nil {
			e.t.Fatal(err)
		}
		gone(e.t, old, set.ClientSecretName, where)
	}
}

// sweepUntilDone runs the scan on days from `from` on, none of them due,
// until every secret is in the home of mode, and returns how many runs it
// took; with partialFirst, some secret is still elsewhere after the first
// (a run sweeps a page of two items). Once done a run sweeps nothing.
func sweepUntilDone(e *env, r *vault.Router, keys []connection.Key, mode string, from float64, partialFirst bool) int {
	e.t.Helper()
	r.Mode = mode
	const secrets = 5
	home := func() int {
		sealedN, secretsN := placed(e, r, keys)
		if mode == vault.StoreSealed {
			return sealedN
		}
		return secretsN
	}
	moved := 0
	for run := 1; run <= 40; run++ {
		rep := e.run(at(from + float64(run)/100))
		if rep.Checked != 0 {
			e.t.Fatalf("run %d checked %d connections: the world was meant never due", run, rep.Checked)
		}
		moved += rep.Moved
		n := home()
		if partialFirst && run == 1 && n == secrets {
			e.t.Fatalf("one run of a page of two moved all %d secrets", secrets)
		}
		if n == secrets {
			// Each move is counted once. On moto a save the SDK retried
			// after a lost answer can meet its own first write: that
			// move is then counted "missed" and found home by the next
			// pass, so one fewer is counted, never more.
			if partialFirst && (moved > secrets || moved < secrets && !e.retriesMayMiss) {
				e.t.Fatalf("the reports count %d moves, want %d", moved, secrets)
			}
			// The pass ends (a run may still have pages to read), then
			// the sweep is done: a run sweeps nothing.
			for extra := 1; ; extra++ {
				rep := e.run(at(from + float64(run+extra)/100))
				if rep.Moved != 0 {
					e.t.Fatalf("a run after every secret was home moved %d", rep.Moved)
				}
				if rep.Swept == 0 {
					return run
				}
				if extra > 40 {
					e.t.Fatal("the sweep never ends")
				}
			}
		}
	}
	e.t.Fatalf("after 40 runs %d of %d secrets in the %s store", home(), secrets, mode)
	return 0
}

func sweepEnv(t *testing.T, st store.Store) (*env, *vault.Router, *memvault.Vault) {
	e := newEnv(t, st)
	r, sealedStore := twoStores(e)
	e.scanner.Sweep = tokenhome.Sweeper{Mover: e.scanner.Tokens, Pages: 1, PageSize: 2}
	return e, r, sealedStore
}

// A mode switch completes for what the scan never visits: the sweep moves
// the tokens of an expired connection, of a ServiceNow connection months
// from its warning, and the client secrets of settings with and without a
// connection, to the new store, a page a run, and deletes the old copies;
// then back.
func testSweepBothWays(t *testing.T, st store.Store, onMoto bool) {
	e, r, sealedStore := sweepEnv(t, st)
	e.retriesMayMiss = onMoto
	keys := neverDue(e)
	if s, _ := placed(e, r, keys); s != 0 {
		t.Fatalf("%d sealed in secrets mode", s)
	}
	// Swept once in secrets mode: nothing to move, the sweep is done.
	sweepUntilDone(e, r, keys, vault.StoreSecrets, 0, false)

	runs := sweepUntilDone(e, r, keys, vault.StoreSealed, 1, true)
	oldCopiesGone(e, e.vault, keys, "Secrets Manager")
	runs2 := sweepUntilDone(e, r, keys, vault.StoreSecrets, 2, true)
	oldCopiesGone(e, sealedStore, keys, "the table")
	t.Logf("runs to sweep: %d to sealed, %d back", runs, runs2)
}

func TestSweepMovesWhatTheScanNeverVisits(t *testing.T) {
	testSweepBothWays(t, memstore.New(), false)
}

// TestSweepOnDynamoDB: the same on DynamoDB as moto emulates it, where a
// page of two reads two items of any kind (counters, notices, audit
// entries too) and keeps the connections and settings among them.
func TestSweepOnDynamoDB(t *testing.T) {
	srv := awstest.Moto(t)
	db := srv.DynamoDBClient(t)
	table := awstest.Unique("sweep")
	if err := dynamostore.CreateTable(t.Context(), db, table); err != nil {
		t.Fatal(err)
	}
	awstest.DropTableAtCleanup(t, db, table)
	testSweepBothWays(t, dynamostore.New(awstest.Serialized(db), table), true)
}

// TestSweepResumesWhereItStopped: a sweep stopped at its budget inside a
// page saves where it stopped; the next sweeps from there, not from the
// start, and the two together move every secret once.
func TestSweepResumesWhereItStopped(t *testing.T) {
	e, r, _ := sweepEnv(t, memstore.New())
	keys := neverDue(e)
	r.Mode = vault.StoreSealed
	sw := e.scanner.Sweep
	sw.Pages, sw.PageSize = 10, 100
	ctx := logctx.With(t.Context(), e.scanner.Log)
	asked := 0
	stopAt := func(n int) func() bool { asked = 0; return func() bool { asked++; return asked > n } }

	// Asked before the page, then before each item: three items, then out
	// of time.
	rep, err := sw.Sweep(ctx, "sweep-1", at(1), stopAt(4))
	if err != nil || rep.Swept != 3 || rep.Done {
		t.Fatalf("first sweep: %+v, %v; want 3 swept, not done", rep, err)
	}
	first := rep.Moved
	if s, _ := placed(e, r, keys); s != first {
		t.Fatalf("%d sealed after a sweep that moved %d", s, first)
	}
	rep, err = sw.Sweep(ctx, "sweep-2", at(1), func() bool { return false })
	if err != nil || rep.Swept != 2 || !rep.Done || first+rep.Moved != 5 {
		t.Fatalf("second sweep: %+v, %v; want the 2 items left, 5 moves in all, done", rep, err)
	}
	if s, _ := placed(e, r, keys); s != 5 {
		t.Fatalf("%d of 5 sealed", s)
	}
	rep, err = sw.Sweep(ctx, "sweep-3", at(1), func() bool { return false })
	if err != nil || rep != (tokenhome.SweepReport{Done: true}) {
		t.Fatalf("a sweep once done: %+v, %v", rep, err)
	}
}

// A saved cursor the store refuses (a format change, an edited mark item)
// starts the pass over instead of failing every run from then on.
func TestSweepRestartsFromARefusedCursor(t *testing.T) {
	e, r, _ := sweepEnv(t, memstore.New())
	keys := neverDue(e)
	r.Mode = vault.StoreSealed
	ctx := logctx.With(t.Context(), e.scanner.Log)
	if err := e.store.PutSweepMark(ctx, store.SweepMark{Mode: vault.StoreSealed, Cursor: "not-a-cursor"}); err != nil {
		t.Fatal(err)
	}
	sw := e.scanner.Sweep
	sw.Pages, sw.PageSize = 10, 100
	rep, err := sw.Sweep(ctx, "sweep-1", at(1), func() bool { return false })
	if err != nil || !rep.Done || rep.Moved != 5 {
		t.Fatalf("sweep from a refused cursor: %+v, %v; want all 5 moved, done", rep, err)
	}
	if s, _ := placed(e, r, keys); s != 5 {
		t.Fatalf("%d of 5 sealed", s)
	}
}

// TestSweepFailsHalfWay: whichever call of a sweep fails (reading the
// mark or a page, a lease, the old store's read, the new store's write,
// the connection's or settings' save, the old copy's deletion, the mark's
// save), no secret is lost: everything reads all along, the run reports
// no failure, and later runs finish the switch and delete every old copy.
func TestSweepFailsHalfWay(t *testing.T) {
	// world is the neverDue world, switched to sealed, with the sweep's
	// store and both vaults behind inj, and a sweep that would do it all
	// in one run.
	world := func(t *testing.T, inj *faulttest.Injector) (*env, *vault.Router, []connection.Key) {
		e, r, _ := sweepEnv(t, memstore.New())
		keys := neverDue(e)
		e.scanner.Sweep.Mover.Store = inj.Store(e.store)
		e.scanner.Sweep.Pages = 10
		r.Sealed, r.Secrets = inj.Vault(r.Sealed), inj.Vault(r.Secrets)
		r.Mode = vault.StoreSealed
		return e, r, keys
	}
	clean := faulttest.New()
	e, _, _ := world(t, clean)
	clean.Reset()
	e.run(at(1))
	calls := clean.Calls()
	if len(calls) < 20 {
		t.Fatalf("a sweep of the world made %d calls", len(calls))
	}
	for n, call := range calls {
		t.Run(fmt.Sprintf("%d-%s", n+1, call.Name), func(t *testing.T) {
			inj := faulttest.New()
			e, r, keys := world(t, inj)
			inj.Arm(n+1, faulttest.Fail)
			e.run(at(1))
			inj.Disarm()
			if c, ok := inj.Injected(); !ok || c.Name != call.Name {
				t.Fatalf("injected %+v, want %s to fail", c, call.Name)
			}
			placed(e, r, keys) // everything reads
			sweepUntilDone(e, r, keys, vault.StoreSealed, 1, false)
			oldCopiesGone(e, e.vault, keys, "Secrets Manager")
		})
	}
	t.Logf("%d injection points", len(calls))
}
