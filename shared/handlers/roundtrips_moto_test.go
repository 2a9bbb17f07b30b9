package handlers_test

// Round trips per flow: every flow runs end to end through its handler, as
// its Lambda would, on DynamoDB, Secrets Manager and SES (moto) and the
// vendor sandbox, and the AWS SDK counts every call the code makes (an
// APIOptions middleware), by service and operation; a transport counts the
// vendor calls. The counts
// are pinned: a round trip that comes back fails the test, one that goes
// away has to be taken out of wantTrips (and docs/performance.md).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/aws/smithy-go/middleware"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/apigw"
	"github.com/workplace/connections/shared/awsdeps"
	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/eventbus/membus"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/mail/sesmail"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/vault/secretsvault"
)

// tripCounter counts AWS requests by "Service.Operation" and vendor calls
// by "vendor METHOD /path", for the flow under way.
type tripCounter struct {
	mu  sync.Mutex
	ops map[string]int
	// calls and attempts since the last take: attempts beyond the calls
	// are the SDK's retries (moto under load sometimes needs one).
	calls, attempts int
}

func (c *tripCounter) add(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops[k]++
}

// take returns the counts since the last take and starts afresh.
func (c *tripCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.ops
	c.ops, c.calls, c.attempts = map[string]int{}, 0, 0
	return out
}

// retried reports how many attempts since the last take were retries.
func (c *tripCounter) retried() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.attempts - c.calls
}

// option is the SDK middleware: it counts each call the code makes, once
// (at the Initialize step, before the SDK's retries: a retry moto's server
// needed under load is not the code's round trip).
func (c *tripCounter) option(stack *middleware.Stack) error {
	err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("countTrips",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.add(awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx))
			c.mu.Lock()
			c.calls++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	if err != nil {
		return err
	}
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("countRetries",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.attempts++
			c.mu.Unlock()
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// vendorTrips counts the service's calls to vendors.
type vendorTrips struct {
	c    *tripCounter
	next http.RoundTripper
}

func (v vendorTrips) RoundTrip(r *http.Request) (*http.Response, error) {
	v.c.add("vendor " + r.Method + " " + r.URL.Path)
	return v.next.RoundTrip(r)
}

// The flows' counts, by vendor: Confluence (the deployment's Atlassian
// app, rotating refresh tokens) and ServiceNow (the account's own OAuth
// client). Every flow runs in one container: "connect" is the first to
// need each client secret and reads it (GetSecretValue); the later ones
// find it in the container's cache (SECRET_CACHE_TTL). A scan run's rows
// hold its 4 index Queries (one per shard), shared by every connection the
// run checks, and its first email's GetSendQuota, once per run.
var wantTrips = map[string]map[string]map[string]int{
	"confluence": {
		"connect":                  {"DynamoDB.BatchGetItem": 3, "DynamoDB.PutItem": 1, "DynamoDB.TransactWriteItems": 1, "DynamoDB.UpdateItem": 1, "Secrets Manager.CreateSecret": 1, "Secrets Manager.GetSecretValue": 1, "Secrets Manager.PutSecretValue": 1, "vendor GET /_sandbox/confluence/me": 1, "vendor GET /_sandbox/confluence/oauth/token/accessible-resources": 1, "vendor POST /_sandbox/confluence/oauth/token": 1},
		"reconnect":                {"DynamoDB.BatchGetItem": 3, "DynamoDB.PutItem": 1, "DynamoDB.TransactWriteItems": 1, "DynamoDB.UpdateItem": 1, "Secrets Manager.PutSecretValue": 1, "vendor GET /_sandbox/confluence/me": 1, "vendor GET /_sandbox/confluence/oauth/token/accessible-resources": 1, "vendor POST /_sandbox/confluence/oauth/token": 1},
		"change user":              {"DynamoDB.BatchGetItem": 3, "DynamoDB.PutItem": 1, "DynamoDB.TransactWriteItems": 1, "DynamoDB.UpdateItem": 1, "Secrets Manager.PutSecretValue": 1, "vendor GET /_sandbox/confluence/me": 1, "vendor GET /_sandbox/confluence/oauth/token/accessible-resources": 1, "vendor POST /_sandbox/confluence/oauth/token": 1},
		"broker hit":               {"DynamoDB.GetItem": 1, "Secrets Manager.GetSecretValue": 1},
		"broker refresh":           {"DynamoDB.GetItem": 1, "DynamoDB.PutItem": 1, "DynamoDB.UpdateItem": 1, "Secrets Manager.GetSecretValue": 2, "Secrets Manager.PutSecretValue": 1, "vendor POST /_sandbox/confluence/oauth/token": 1},
		"nothing due (scan)":       {"DynamoDB.PutItem": 1, "DynamoDB.Query": 4, "DynamoDB.UpdateItem": 1},
		"keep-alive (scan)":        {"DynamoDB.PutItem": 1, "DynamoDB.Query": 4, "DynamoDB.UpdateItem": 1, "Secrets Manager.GetSecretValue": 2, "Secrets Manager.PutSecretValue": 1, "vendor POST /_sandbox/confluence/oauth/token": 1},
		"disconnect":               {"DynamoDB.GetItem": 1, "DynamoDB.Query": 1, "DynamoDB.TransactWriteItems": 1, "Secrets Manager.DeleteSecret": 1},
		"connect after disconnect": {"DynamoDB.BatchGetItem": 3, "DynamoDB.PutItem": 1, "DynamoDB.TransactWriteItems": 1, "DynamoDB.UpdateItem": 1, "Secrets Manager.PutSecretValue": 2, "Secrets Manager.RestoreSecret": 1, "vendor GET /_sandbox/confluence/me": 1, "vendor GET /_sandbox/confluence/oauth/token/accessible-resources": 1, "vendor POST /_sandbox/confluence/oauth/token": 1},
		"expiry (scan)":            {"DynamoDB.PutItem": 2, "DynamoDB.Query": 4, "DynamoDB.TransactWriteItems": 2, "DynamoDB.UpdateItem": 2, "SES.GetSendQuota": 1, "SES.SendEmail": 1, "Secrets Manager.GetSecretValue": 2, "vendor POST /_sandbox/confluence/oauth/token": 1},
	},
	"servicenow": {
		"settings":                 {"DynamoDB.BatchGetItem": 1, "DynamoDB.TransactWriteItems": 1, "Secrets Manager.CreateSecret": 1, "Secrets Manager.PutSecretValue": 1},
		"connect":                  {"DynamoDB.BatchGetItem": 3, "DynamoDB.PutItem": 1, "DynamoDB.TransactWriteItems": 1, "DynamoDB.UpdateItem": 1, "Secrets Manager.CreateSecret": 1, "Secrets Manager.GetSecretValue": 1, "Secrets Manager.PutSecretValue": 1, "vendor GET /_sandbox/servicenow/acme/api/now/table/sys_user": 1, "vendor POST /_sandbox/servicenow/acme/oauth_token.do": 1},
		"reconnect":                {"DynamoDB.BatchGetItem": 3, "DynamoDB.PutItem": 1, "DynamoDB.TransactWriteItems": 1, "DynamoDB.UpdateItem": 1, "Secrets Manager.PutSecretValue": 1, "vendor GET /_sandbox/servicenow/acme/api/now/table/sys_user": 1, "vendor POST /_sandbox/servicenow/acme/oauth_token.do": 1},
		"change user":              {"DynamoDB.BatchGetItem": 3, "DynamoDB.PutItem": 1, "DynamoDB.TransactWriteItems": 1, "DynamoDB.UpdateItem": 1, "Secrets Manager.GetSecretValue": 1, "Secrets Manager.PutSecretValue": 1, "vendor GET /_sandbox/servicenow/acme/api/now/table/sys_user": 1, "vendor POST /_sandbox/servicenow/acme/oauth_revoke_token.do": 1, "vendor POST /_sandbox/servicenow/acme/oauth_token.do": 1},
		"broker hit":               {"DynamoDB.GetItem": 1, "Secrets Manager.GetSecretValue": 1},
		"broker refresh":           {"DynamoDB.GetItem": 2, "DynamoDB.PutItem": 1, "DynamoDB.UpdateItem": 1, "Secrets Manager.GetSecretValue": 2, "Secrets Manager.PutSecretValue": 1, "vendor POST /_sandbox/servicenow/acme/oauth_token.do": 1},
		"warning (scan)":           {"DynamoDB.PutItem": 1, "DynamoDB.Query": 4, "DynamoDB.TransactWriteItems": 2, "DynamoDB.UpdateItem": 2, "SES.GetSendQuota": 1, "SES.SendEmail": 1},
		"disconnect":               {"DynamoDB.GetItem": 2, "DynamoDB.Query": 1, "DynamoDB.TransactWriteItems": 1, "Secrets Manager.DeleteSecret": 1, "Secrets Manager.GetSecretValue": 1, "vendor POST /_sandbox/servicenow/acme/oauth_revoke_token.do": 1},
		"connect after disconnect": {"DynamoDB.BatchGetItem": 3, "DynamoDB.PutItem": 1, "DynamoDB.TransactWriteItems": 1, "DynamoDB.UpdateItem": 1, "Secrets Manager.PutSecretValue": 2, "Secrets Manager.RestoreSecret": 1, "vendor GET /_sandbox/servicenow/acme/api/now/table/sys_user": 1, "vendor POST /_sandbox/servicenow/acme/oauth_token.do": 1},
		"expiry (scan)":            {"DynamoDB.PutItem": 2, "DynamoDB.Query": 4, "DynamoDB.TransactWriteItems": 2, "DynamoDB.UpdateItem": 2, "SES.GetSendQuota": 1, "SES.SendEmail": 1},
	},
}

// tripFlows is the order flows are run and reported in.
var tripFlows = []string{
	"settings", "connect", "reconnect", "change user", "broker hit", "broker refresh",
	"nothing due (scan)", "keep-alive (scan)", "warning (scan)", "disconnect", "connect after disconnect", "expiry (scan)",
}

// TestRoundTripsPerFlow runs each flow and pins what it costs in AWS and
// vendor calls.
func TestRoundTripsPerFlow(t *testing.T) {
	moto := awstest.Moto(t)
	counter := &tripCounter{ops: map[string]int{}}
	ac := moto.Config(t)
	ac.APIOptions = append(ac.APIOptions, counter.option)
	ctx := t.Context()
	table, prefix := awstest.Unique("trips"), awstest.Unique("trips")
	const from = "no-reply@acme.example"
	if err := dynamostore.CreateTable(ctx, dynamodb.NewFromConfig(moto.Config(t)), table); err != nil {
		t.Fatal(err)
	}
	if _, err := ses.NewFromConfig(moto.Config(t)).VerifyEmailIdentity(ctx, &ses.VerifyEmailIdentityInput{EmailAddress: aws.String(from)}); err != nil {
		t.Fatal(err)
	}
	clock := sandboxtest.NewClock(time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC))
	sb := sandboxtest.StartSandbox(t, clock.Now)
	var bases []string
	for k, v := range sb.VendorBaseURLs() {
		bases = append(bases, k+"="+v)
	}
	env := map[string]string{
		"TABLE_NAME": table, "SECRET_PREFIX": prefix, "MAIL_FROM": from,
		"OAUTH_REDIRECT_URL": sandboxtest.RedirectURL, "VENDOR_BASE_URLS": strings.Join(bases, ","),
		"PRIVATE_VENDOR_HOSTS": strings.TrimPrefix(sb.Server.URL, "http://"),
	}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	// The operator's app credentials (uncounted: no function writes them).
	for id, name := range cfg.DeploymentSecrets {
		app, _ := json.Marshal(provider.Credentials{ClientID: id + "-app", ClientSecret: id + "-app-secret"})
		if _, err := secretsvault.New(secretsmanager.NewFromConfig(moto.Config(t))).Put(ctx, name, app); err != nil {
			t.Fatal(err)
		}
	}
	// One container: the same backends for every function, as the local
	// server has them (a Lambda container serves one function; the counts
	// below are the same either way once its caches are warm).
	d := &handlers.Deps{
		Config: cfg,
		Backends: handlers.Backends{
			Store:  dynamostore.New(dynamodb.NewFromConfig(ac, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true }), table),
			Vault:  awsdeps.ClientSecretCache(cfg, secretsvault.New(secretsmanager.NewFromConfig(ac))),
			Mailer: sesmail.New(ses.NewFromConfig(ac), from),
			Bus:    membus.New(),
			Stream: dynamostore.AuditFromStreamRecord,
		},
		HTTP: &http.Client{Transport: vendorTrips{counter, sb.Server.Client().Transport}},
		Now:  clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	routes := map[string]apigw.Handler{}
	for _, r := range handlers.Routes {
		routes[r.RouteKey()] = r.Handler(d)
	}
	scan := handlers.ExpiryScan(d)

	got := map[string]map[string]map[string]int{}
	retried := map[string]int{} // by "vendor flow"
	for _, vendor := range []string{"confluence", "servicenow"} {
		got[vendor] = map[string]map[string]int{}
		account := "trips-" + vendor
		ada, carol := jwtCaller{account, "u1", "appManager"}, jwtCaller{account, "u3", "appManager"}
		service := jwtCaller{user: "search-connector"}
		base := "/v1/account/integrations/" + vendor
		rc := routeCaller{t: t, ctx: ctx, routes: routes, sb: sb}
		call := rc.call
		record := func(flow string) {
			retried[vendor+" "+flow] = counter.retried()
			got[vendor][flow] = counter.take()
		}
		connect := func(who jwtCaller, action, login string) {
			t.Helper()
			rc.connect(who, vendor, "app", action, login)
		}
		// runScan runs the scan when the app connection is next due and
		// names the flow by what the run did.
		runScan := func() string {
			t.Helper()
			conn, err := d.Store.GetConnection(ctx, connection.AppKey(account, vendor))
			if err != nil || conn.NextCheckAt.IsZero() {
				t.Fatalf("next check of %s: %v %v", vendor, conn.NextCheckAt, err)
			}
			counter.take() // the read above is the test's
			clock.Set(conn.NextCheckAt)
			rep, err := scan(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.scheduler", Time: clock.Now()})
			if err != nil || !rep.Complete || rep.Checked != 1 || rep.Failed != 0 {
				t.Fatalf("scan of %s: %+v %v", vendor, rep, err)
			}
			switch {
			case rep.Expired == 1:
				return "expiry (scan)"
			case rep.Refreshed == 1:
				return "keep-alive (scan)"
			case rep.Notices == 1:
				return "warning (scan)"
			}
			return "nothing due (scan)"
		}

		counter.take()
		if vendor == "servicenow" {
			call(ada, "PUT", base+"/settings", "", `{"instanceUrl":"https://acme.service-now.com","clientId":"c1","clientSecret":"s1"}`, 200)
			record("settings")
		}
		connect(ada, "", "ada")
		record("connect")
		connect(ada, "reconnect", "ada")
		record("reconnect")
		connect(carol, "changeUser", "carol")
		record("change user")
		tok := `{"account":"` + account + `","vendor":"` + vendor + `"}`
		call(service, "POST", "/v1/internal/token", "", tok, 200)
		record("broker hit")
		clock.Advance(2 * time.Hour)
		call(service, "POST", "/v1/internal/token", "", tok, 200)
		record("broker refresh")
		// The scan until it refreshes or warns once.
		for range 4 {
			if flow := runScan(); got[vendor][flow] == nil {
				record(flow)
			} else {
				counter.take()
			}
			if got[vendor]["keep-alive (scan)"] != nil || got[vendor]["warning (scan)"] != nil {
				break
			}
		}
		call(ada, "DELETE", base, "flow=app", "", 204)
		record("disconnect")
		// The same secret name again, scheduled for deletion: restored.
		connect(ada, "", "ada")
		record("connect after disconnect")
		if vendor == "confluence" {
			sb.Knob(t, vendor+"/revoke?user=ada")
			counter.take()
		}
		for range 5 {
			flow := runScan()
			if flow == "expiry (scan)" {
				record(flow)
				break
			}
			counter.take()
		}
		if got[vendor]["expiry (scan)"] == nil {
			t.Fatalf("%s never expired", vendor)
		}
	}
	t.Logf("round trips per flow:\n%s", tripTable(got))
	if out := os.Getenv("TRIPS_JSON"); out != "" {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for vendor, flows := range got {
		for flow, ops := range flows {
			want := wantTrips[vendor][flow]
			if n := retried[vendor+" "+flow]; n > 0 && !maps.Equal(ops, want) {
				// The SDK retried a request moto answered late: a
				// conditional write whose first attempt had succeeded
				// then meets itself, and the code reads the item back
				// (one GetItem each). Nothing else may differ.
				t.Logf("%s %s: %d SDK retries; %s", vendor, flow, n, tripCell(ops, ""))
				ops = maps.Clone(ops)
				if extra := ops["DynamoDB.GetItem"] - want["DynamoDB.GetItem"]; extra > 0 && extra <= n {
					ops["DynamoDB.GetItem"] -= extra
					if ops["DynamoDB.GetItem"] == 0 {
						delete(ops, "DynamoDB.GetItem")
					}
				}
			}
			if !maps.Equal(ops, want) {
				t.Errorf("%s %s: %s, want %s", vendor, flow, tripCell(ops, ""), tripCell(want, ""))
			}
		}
		for flow := range wantTrips[vendor] {
			if flows[flow] == nil {
				t.Errorf("%s %s: not run", vendor, flow)
			}
		}
	}
}

// tripCell is the counts whose keys start with prefix, as "n (n Op, …)".
func tripCell(ops map[string]int, prefix string) string {
	n, parts := 0, []string{}
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		n += ops[k]
		parts = append(parts, fmt.Sprintf("%d %s", ops[k], strings.TrimPrefix(k, prefix)))
	}
	if n == 0 {
		return "—"
	}
	return fmt.Sprintf("%d (%s)", n, strings.Join(parts, ", "))
}

var dynamoReads = []string{"GetItem", "BatchGetItem", "Query"}

// tripTable is the counts as a Markdown table: flow × DynamoDB reads and
// writes, Secrets Manager by operation, SES and vendor calls.
func tripTable(got map[string]map[string]map[string]int) string {
	var b strings.Builder
	b.WriteString("| vendor | flow | DynamoDB reads | DynamoDB writes | Secrets Manager | SES | vendor calls |\n|---|---|---|---|---|---|---|\n")
	vendors := make([]string, 0, len(got))
	for v := range got {
		vendors = append(vendors, v)
	}
	sort.Strings(vendors)
	for _, v := range vendors {
		for _, flow := range tripFlows {
			ops := got[v][flow]
			if ops == nil {
				continue
			}
			reads, writes := map[string]int{}, map[string]int{}
			for k, n := range ops {
				op, ok := strings.CutPrefix(k, "DynamoDB.")
				switch {
				case !ok:
				case slices.Contains(dynamoReads, op):
					reads[op] = n
				default:
					writes[op] = n
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", v, flow, tripCell(reads, ""), tripCell(writes, ""),
				tripCell(ops, "Secrets Manager."), tripCell(ops, "SES."), tripCell(ops, "vendor "))
		}
	}
	return b.String()
}
