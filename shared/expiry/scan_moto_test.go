package expiry_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store/dynamostore"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// The ServiceNow lifespan in short, on DynamoDB as moto emulates it: the
// due index finds the connections in the window, concurrent runs and a held
// lease send each notice once, expiry flags both connections and moves the
// counters, and later runs send nothing more.
func TestScanOnDynamoDB(t *testing.T) {
	srv := awstest.Moto(t)
	db := srv.DynamoDBClient(t)
	table := awstest.Unique("expiry")
	if err := dynamostore.CreateTable(t.Context(), db, table); err != nil {
		t.Fatal(err)
	}
	awstest.DropTableAtCleanup(t, db, table)
	e := newEnv(t, dynamostore.New(awstest.Serialized(db), table))
	app := e.connectApp("servicenow")
	user := e.connectUser(bob, "servicenow", "bob")

	for _, d := range []float64{0, 45, 89.9} {
		if rep := e.run(at(d)); rep.Checked != 0 {
			t.Fatalf("day %v: %+v", d, rep)
		}
	}

	// A lease held by another run: the app connection is skipped, untouched.
	if _, err := e.store.AcquireLease(t.Context(), app.Key, "another-run", at(90), at(90).Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	held := e.conn(app.Key)
	// And the mail provider throttles the one email this run may send.
	e.outbox.ThrottleNext(1)
	if rep := e.run(at(90)); rep.Busy != 1 || rep.Notices != 0 {
		t.Fatalf("report with a held lease and a throttle = %+v", rep)
	}
	e.wantEmails(0)
	e.wantNotices(bob, "servicenow", connection.NoticeExpiring) // recorded, unsent
	// The next run, at the same scheduled time, sends it.
	if rep := e.run(at(90)); rep.Busy != 1 || rep.Notices != 1 {
		t.Fatalf("report of the retry = %+v", rep)
	}
	if got := e.conn(app.Key); !reflect.DeepEqual(got, held) {
		t.Fatalf("a held connection changed:\n got %+v\nwant %+v", got, held)
	}
	n := e.wantEmails(0, expiring(bob, "ServiceNow", userLink))

	// Once the lease lapses, two runs at once: the app manager's one email.
	e.runConcurrently(at(90).Add(10 * time.Minute))
	n = e.wantEmails(n, expiring(manager, "ServiceNow", appLink))
	for _, d := range []float64{91, 95} {
		e.run(at(d))
	}
	n = e.wantEmails(n)
	e.wantNotices(manager, "servicenow", connection.NoticeExpiring)
	e.wantNotices(bob, "servicenow", connection.NoticeExpiring)

	if rep := e.run(at(100)); rep.Expired != 2 || rep.Notices != 2 {
		t.Fatalf("report at expiry = %+v", rep)
	}
	n = e.wantEmails(n, disconnected(manager, "ServiceNow", appLink), disconnected(bob, "ServiceNow", userLink))
	for _, k := range []connection.Key{app.Key, user.Key} {
		if c := e.conn(k); !c.Expired || !c.NextCheckAt.IsZero() || c.LeaseOwner != "" {
			t.Errorf("%s after expiry: %+v", k, c)
		}
	}
	e.wantNotices(manager, "servicenow", connection.NoticeDisconnected)
	e.wantNotices(bob, "servicenow", connection.NoticeDisconnected)
	if got := e.counts("servicenow"); got.Total != 1 || got.Connected != 0 {
		t.Errorf("counters after expiry = %+v", got)
	}
	if v := e.view(manager, "servicenow"); !v.RefreshTokenExpired {
		t.Errorf("view after expiry = %+v", v)
	}
	e.runConcurrently(at(101))
	e.wantEmails(n)

	e.clock.Set(at(102))
	e.connect(bob, "servicenow", "user", "reconnect", "bob")
	e.wantNotices(bob, "servicenow")
	if got := e.counts("servicenow"); got.Connected != 1 {
		t.Errorf("counters after reconnect = %+v", got)
	}
}
