package handlers_test

// The state-change events on the AWS mechanism itself, emulated by moto:
// changes made through the functions' handlers on DynamoDB with the
// table's stream on; the stream read as Lambda's event source mapping
// reads it (through the template's filter, in batches); the event
// publisher's handler putting the events on an EventBridge bus whose rule
// sends them to an SQS queue; the queue read as a subscriber would.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ses"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/infra/streampoll"
	"github.com/workplace/connections/shared/apigw"
	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/eventbus"
	"github.com/workplace/connections/shared/eventbus/eventbridgebus"
	"github.com/workplace/connections/shared/faulttest"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/mail/sesmail"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/publisher"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/vault/secretsvault"
)

const eventsFrom = "no-reply@events.acme.example"

// eventsWorld is the service on moto with the table's stream on, the
// event publisher, and a subscriber's queue. Its store goes through a fault
// injector (only the store: the injector counts store calls).
type eventsWorld struct {
	t        *testing.T
	ac       aws.Config
	clock    *sandboxtest.Clock
	sb       *sandboxtest.Sandbox
	inj      *faulttest.Injector
	raw      *applyLog // past the injector
	routes   map[string]apigw.Handler
	scan     func(context.Context, events.EventBridgeEvent) (any, error)
	publish  lambda.Handler
	poll     *streampoll.Poller
	filter   filter
	received func() []eventbus.Event
	// deliveries are the batches the publisher handled.
	deliveries int
}

// applyLog is a store that notes the event actions each Apply carried.
type applyLog struct {
	store.Store
	mu      sync.Mutex
	actions [][]connection.AuditAction // per Apply that reached the store
}

func (a *applyLog) Apply(ctx context.Context, ops ...store.Op) error {
	var acts []connection.AuditAction
	for _, op := range ops {
		if e, ok := op.(store.AppendAudit); ok && publisher.DetailType(e.Entry.Action) != "" {
			acts = append(acts, e.Entry.Action)
		}
	}
	a.mu.Lock()
	a.actions = append(a.actions, acts)
	a.mu.Unlock()
	return a.Store.Apply(ctx, ops...)
}

// newEventsWorld builds a world on fresh moto resources (table, stream,
// secrets prefix, event bus and queue) around a shared sandbox.
func newEventsWorld(t *testing.T, ac aws.Config, sb *sandboxtest.Sandbox, clock *sandboxtest.Clock) *eventsWorld {
	t.Helper()
	ctx := t.Context()
	table, prefix, bus := awstest.Unique("events"), awstest.Unique("events"), awstest.Unique("events")
	db := dynamodb.NewFromConfig(ac, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	if err := dynamostore.CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	arn, err := dynamostore.EnableStream(ctx, db, table)
	if err != nil {
		t.Fatal(err)
	}
	var bases []string
	for k, v := range sb.VendorBaseURLs() {
		bases = append(bases, k+"="+v)
	}
	env := map[string]string{
		"TABLE_NAME": table, "SECRET_PREFIX": prefix, "MAIL_FROM": eventsFrom, "EVENT_BUS_NAME": bus,
		"OAUTH_REDIRECT_URL": sandboxtest.RedirectURL, "VENDOR_BASE_URLS": strings.Join(bases, ","),
		"PRIVATE_VENDOR_HOSTS": strings.TrimPrefix(sb.Server.URL, "http://"),
	}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	w := &eventsWorld{t: t, ac: ac, clock: clock, sb: sb, inj: faulttest.New(), filter: streamFilter(t),
		poll: streampoll.New(dynamodbstreams.NewFromConfig(ac), arn)}
	w.received = awstest.Subscribe(t, ac, bus, publisher.Source)
	w.raw = &applyLog{Store: dynamostore.New(awstest.Serialized(db), table)}
	vlt := secretsvault.New(secretsmanager.NewFromConfig(ac))
	app, _ := json.Marshal(provider.Credentials{ClientID: "atl-app", ClientSecret: "atl-app-secret"})
	if _, err := vlt.Put(ctx, cfg.AtlassianClientSecretName, app); err != nil {
		t.Fatal(err)
	}
	d := &handlers.Deps{
		Config: cfg,
		Backends: handlers.Backends{
			Store: w.inj.Store(w.raw), Vault: vlt, Mailer: sesmail.New(ses.NewFromConfig(ac), eventsFrom),
			Bus: w.inj.Bus(eventbridgebus.New(eventbridge.NewFromConfig(ac), bus)), Stream: dynamostore.AuditFromStreamRecord,
		},
		HTTP: sb.Server.Client(), Now: clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	w.routes = map[string]apigw.Handler{}
	for _, r := range handlers.Routes {
		w.routes[r.RouteKey()] = r.Handler(d)
	}
	scan := handlers.ExpiryScan(d)
	w.scan = func(ctx context.Context, ev events.EventBridgeEvent) (any, error) { return scan(ctx, ev) }
	w.publish = lambda.NewHandler(handlers.EventPublisher(d))
	return w
}

// call runs a route as who and answers its status and body.
func (w *eventsWorld) call(who jwtCaller, method, path, query, body string) (int, string) {
	w.t.Helper()
	r, req := routeEvent(w.t, who, method, path, query, body)
	resp, err := w.routes[r.RouteKey()](w.t.Context(), req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, resp.Body
}

// callback runs a whole authorization as who, approved by login, and
// answers the callback's status and body (the URL must be given).
func (w *eventsWorld) callback(who jwtCaller, vendor, flow, action, login string) (int, string) {
	w.t.Helper()
	base := "/v1/account/integrations/" + vendor
	q := "flow=" + flow
	if action != "" {
		q += "&action=" + action
	}
	status, body := w.call(who, "GET", base+"/oauth2/url", q, "")
	if status != http.StatusOK {
		return status, body
	}
	var u struct{ URL string }
	if err := json.Unmarshal([]byte(body), &u); err != nil {
		w.t.Fatal(err)
	}
	back := w.sb.Approve(w.t, vendor, u.URL, url.Values{"sandbox_user": {login}})
	cb, _ := json.Marshal(map[string]string{"state": back.State, "code": back.Code})
	return w.call(who, "POST", base+"/oauth2/callback", "", string(cb))
}

// runScan is the scheduled scan at at.
func (w *eventsWorld) runScan(at time.Time) error {
	w.clock.Set(at)
	_, err := w.scan(w.t.Context(), events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.scheduler", Time: at})
	return err
}

// deliver reads the table's stream and hands what passes the event source
// mapping's filter to the publisher's handler, in batches of batchSize, as
// Lambda does: a batch is delivered again from its lowest failed record
// (at most tries times).
func (w *eventsWorld) deliver(batchSize, tries int) {
	w.t.Helper()
	recs, err := w.poll.Read(w.t.Context())
	if err != nil {
		w.t.Fatal(err)
	}
	var pass []events.DynamoDBEventRecord
	for _, r := range recs {
		if w.filter.matches(w.t, r) {
			pass = append(pass, r)
		}
	}
	for batch := range slices.Chunk(pass, batchSize) {
		for try := 0; len(batch) > 0; try++ {
			if try == tries {
				w.t.Fatalf("%d records still failing after %d deliveries", len(batch), tries)
			}
			raw, _ := json.Marshal(events.DynamoDBEvent{Records: batch})
			out, err := w.publish.Invoke(w.t.Context(), raw)
			if err != nil {
				w.t.Fatalf("event publisher: %v", err)
			}
			w.deliveries++
			var resp events.DynamoDBEventResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				w.t.Fatal(err)
			}
			from := len(batch)
			for _, f := range resp.BatchItemFailures {
				for i, r := range batch {
					if r.Change.SequenceNumber == f.ItemIdentifier {
						from = min(from, i)
					}
				}
			}
			batch = batch[from:]
		}
	}
}

// committed are the account's audit entries of connection actions: the
// committed changes.
func (w *eventsWorld) committed(account string) map[string]connection.AuditEntry {
	w.t.Helper()
	out := map[string]connection.AuditEntry{}
	cursor := ""
	for {
		page, next, err := w.raw.ListAudit(w.t.Context(), account, "", cursor, 100)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, e := range page {
			if publisher.DetailType(e.Action) != "" {
				out[e.ID] = e
			}
		}
		if next == "" {
			return out
		}
		cursor = next
	}
}

// compare checks what the subscriber received against the committed
// changes: each at least once, with its documented event, and nothing
// else; it answers the events received and the duplicates among them.
func (w *eventsWorld) compare(stage string, committed map[string]connection.AuditEntry) (received, duplicates int) {
	w.t.Helper()
	seen := map[string]int{}
	got := w.received()
	for _, ev := range got {
		var d publisher.Detail
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			w.t.Fatalf("%s: detail %s: %v", stage, ev.Detail, err)
		}
		e, ok := committed[d.EventID]
		if !ok {
			w.t.Fatalf("%s: event %s %s names no committed change", stage, ev.DetailType, ev.Detail)
		}
		want, _ := publisher.EventOf(e)
		if ev.Source != publisher.Source || ev.DetailType != want.DetailType || !ev.Time.Equal(e.At.Truncate(time.Second)) || !equalJSON(w.t, ev.Detail, want.Detail) {
			w.t.Fatalf("%s: received %s %s %s, want %s %s", stage, ev.DetailType, ev.Time, ev.Detail, want.DetailType, want.Detail)
		}
		seen[d.EventID]++
	}
	for id, e := range committed {
		if seen[id] == 0 {
			w.t.Fatalf("%s: the committed change %s (%s) was not received", stage, id, e.Action)
		}
		duplicates += seen[id] - 1
	}
	return len(got), duplicates
}

func equalJSON(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

var (
	eAda    = jwtCaller{"a1", "u1", "appManager"}
	eBob    = jwtCaller{"a1", "u2", "member"}
	eCat    = jwtCaller{"a1", "u3", "appManager"}
	events0 = time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)
)

// eventStep is one change of the story: do makes it; again is what the
// person (or the next scheduled scan) does after a failure, where done
// already is fine.
type eventStep struct {
	name  string
	do    func(w *eventsWorld) (int, string)
	again func(w *eventsWorld) (int, string)
}

func ok(status int) bool { return status >= 200 && status < 300 }

var story = []eventStep{
	{name: "settings", do: func(w *eventsWorld) (int, string) {
		w.clock.Set(events0)
		return w.call(eAda, "PUT", "/v1/account/integrations/servicenow/settings", "", `{"instanceUrl":"https://acme.service-now.com","clientId":"c1","clientSecret":"s1"}`)
	}},
	{name: "connect app", do: func(w *eventsWorld) (int, string) {
		w.clock.Set(events0.Add(time.Hour))
		return w.callback(eAda, "servicenow", "app", "", "admin")
	}},
	{name: "connect user", do: func(w *eventsWorld) (int, string) {
		w.clock.Set(events0.Add(2 * time.Hour))
		return w.callback(eBob, "servicenow", "user", "", "bob")
	}},
	{name: "change user", do: func(w *eventsWorld) (int, string) {
		w.clock.Set(events0.Add(3 * time.Hour))
		return w.callback(eCat, "servicenow", "app", "changeUser", "carol")
	}},
	{name: "user disconnects", do: func(w *eventsWorld) (int, string) {
		w.clock.Set(events0.Add(4 * time.Hour))
		return w.call(eBob, "DELETE", "/v1/account/integrations/servicenow", "flow=user", "")
	}},
	{name: "scan: expiring", do: func(w *eventsWorld) (int, string) {
		if err := w.runScan(events0.Add(91 * 24 * time.Hour)); err != nil {
			return 500, err.Error()
		}
		return 200, ""
	}, again: func(w *eventsWorld) (int, string) {
		if err := w.runScan(events0.Add(92 * 24 * time.Hour)); err != nil {
			return 500, err.Error()
		}
		return 200, ""
	}},
	{name: "scan: expired", do: func(w *eventsWorld) (int, string) {
		if err := w.runScan(events0.Add(101 * 24 * time.Hour)); err != nil {
			return 500, err.Error()
		}
		return 200, ""
	}, again: func(w *eventsWorld) (int, string) {
		if err := w.runScan(events0.Add(102 * 24 * time.Hour)); err != nil {
			return 500, err.Error()
		}
		return 200, ""
	}},
	{name: "app disconnects", do: func(w *eventsWorld) (int, string) {
		w.clock.Set(events0.Add(103 * 24 * time.Hour))
		return w.call(eAda, "DELETE", "/v1/account/integrations/servicenow", "flow=app", "")
	}},
}

// settled: a step's second try found its work done already.
func settled(status int, body string) bool {
	return ok(status) || strings.Contains(body, `"already_connected"`) || strings.Contains(body, `"not_connected"`)
}

// play runs the story; a step that failed is done again once, as a person
// (or the next scan) would.
func (w *eventsWorld) play() {
	w.t.Helper()
	for _, s := range story {
		status, body := s.do(w)
		if ok(status) {
			continue
		}
		w.inj.Disarm()
		again := s.again
		if again == nil {
			again = s.do
		}
		if status, body2 := again(w); !settled(status, body2) {
			w.t.Fatalf("%s: %d %s, then again %d %s", s.name, status, body, status, body2)
		}
	}
}

func eventsSetup(t *testing.T) (aws.Config, *sandboxtest.Sandbox, *sandboxtest.Clock) {
	t.Helper()
	ac := awstest.Moto(t).Config(t)
	if _, err := ses.NewFromConfig(ac).VerifyEmailIdentity(t.Context(), &ses.VerifyEmailIdentityInput{EmailAddress: aws.String(eventsFrom)}); err != nil {
		t.Fatal(err)
	}
	clock := sandboxtest.NewClock(events0)
	return ac, sandboxtest.StartSandbox(t, clock.Now), clock
}

// TestEventsOnAWS: every change of the story, made through the handlers
// on DynamoDB, reaches the subscriber's queue as exactly one event with the
// documented detail (the stream is delivered twice: the second delivery
// finds nothing new); refused requests and settings publish nothing.
func TestEventsOnAWS(t *testing.T) {
	ac, sb, clock := eventsSetup(t)
	w := newEventsWorld(t, ac, sb, clock)
	w.play()
	// Refused: nothing changes, nothing is published.
	for _, r := range []struct {
		who                 jwtCaller
		method, path, query string
		status              int
	}{
		{eBob, "DELETE", "/v1/account/integrations/servicenow", "flow=app", http.StatusForbidden},
		{eBob, "DELETE", "/v1/account/integrations/servicenow", "flow=user", http.StatusNotFound},
		{eBob, "GET", "/v1/account/integrations/servicenow/oauth2/url", "flow=user", http.StatusConflict},
		{eAda, "GET", "/v1/account/integrations/servicenow/oauth2/url", "flow=app&action=reconnect", http.StatusConflict},
	} {
		if status, body := w.call(r.who, r.method, r.path, r.query, ""); status != r.status {
			t.Fatalf("%s %s?%s: %d %s, want %d", r.method, r.path, r.query, status, body, r.status)
		}
	}
	w.deliver(5, 1)
	w.deliver(5, 1) // nothing new
	committed := w.committed("a1")
	received, dups := w.compare("the story", committed)
	var got []string
	for _, ev := range w.received() {
		got = append(got, ev.DetailType)
	}
	slices.Sort(got)
	want := []string{"Connection Connected", "Connection Connected", "Connection Disconnected", "Connection Expiring",
		"Connection Removed", "Connection Removed", "Connection User Changed"}
	if !slices.Equal(got, want) || received != len(committed) || dups != 0 {
		t.Fatalf("received %v (%d duplicates) for %d committed changes", got, dups, len(committed))
	}
	t.Logf("%d committed changes, %d events received, %d duplicates, %d deliveries of the stream's batches", len(committed), received, dups, w.deliveries)
}

// TestEventsAfterEveryCommitPoint is the guarantee on the AWS mechanism
// under the failure it is for: the story is played once per commit of a
// change (each store.Apply of a clean play that carries an event's audit
// entry), its answer lost after the commit (the function gone right after
// it), and once per put of the publisher, its answer lost after
// EventBridge took the events (the publisher gone right after it). Each
// time, once the stream is delivered, the subscriber has received every
// committed change (duplicates counted), and nothing else. (Every other
// call and kind of failure is the embedded suite's, infra/faults.)
func TestEventsAfterEveryCommitPoint(t *testing.T) {
	ac, sb, clock := eventsSetup(t)
	clean := newEventsWorld(t, ac, sb, clock)
	clean.inj.Reset()
	clean.play()
	clean.deliver(5, 3)
	calls := clean.inj.Calls()
	clean.compare("clean", clean.committed("a1"))
	type point struct {
		n    int
		name string
		kind faulttest.Kind
	}
	var points []point
	applies := 0
	for _, c := range calls {
		switch c.Name {
		case "store.Apply":
			// Every Apply of a clean play reaches the store, in order.
			if acts := clean.raw.actions[applies]; len(acts) > 0 {
				points = append(points, point{c.N, fmt.Sprintf("store.Apply %v", acts), faulttest.LostAnswer})
			}
			applies++
		case "bus.Put":
			points = append(points, point{c.N, c.Name, faulttest.LostAnswer})
		}
	}
	if applies != len(clean.raw.actions) {
		t.Fatalf("%d store.Apply calls, %d reached the store", applies, len(clean.raw.actions))
	}
	t.Logf("clean: %d store and bus calls, %d injection points", len(calls), len(points))
	var (
		mu                              sync.Mutex
		runs, committed, received, dups int
	)
	t.Cleanup(func() { // after every run
		t.Logf("events on moto over %d injected runs: %d committed changes, %d events received (%d duplicates): received distinct ÷ committed = %.3f",
			runs, committed, received, dups, float64(received-dups)/float64(committed))
	})
	for _, p := range points {
		t.Run(fmt.Sprintf("%02d-%s/%s", p.n, p.name, p.kind), func(t *testing.T) {
			t.Parallel() // each run has its own resources, clock and sandbox
			clock := sandboxtest.NewClock(events0)
			w := newEventsWorld(t, ac, sandboxtest.StartSandbox(t, clock.Now), clock)
			w.inj.Arm(p.n, p.kind)
			w.play()
			w.deliver(5, 3)
			got := w.inj.Calls()
			if len(got) < p.n || !got[p.n-1].Injected {
				t.Fatalf("call %d (%s) was not injected: the story is not deterministic", p.n, p.name)
			}
			c := w.committed("a1")
			r, d := w.compare(fmt.Sprintf("%s %s at call %d", p.kind, p.name, p.n), c)
			mu.Lock()
			defer mu.Unlock()
			runs++
			committed += len(c)
			received += r
			dups += d
		})
	}
}
