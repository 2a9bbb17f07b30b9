package handlers_test

// Every function runs, as its Lambda would, on DynamoDB, Secrets Manager and
// SES (moto) through clients that record each AWS action and the resource
// it acts on. Then each recorded call must be allowed by that function's
// role in template.yaml, and each grant of the role must have been used:
// the roles are neither too narrow for the code nor wider than it.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ses"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/infra/streampoll"
	"github.com/workplace/connections/shared/apigw"
	"github.com/workplace/connections/shared/awsdeps"
	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/eventbus/eventbridgebus"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/keys/kmskeys"
	"github.com/workplace/connections/shared/mail/sesmail"
	"github.com/workplace/connections/shared/notices"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/publisher"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/dynamostore"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vault/secretsvault"
	"github.com/workplace/connections/shared/vendors"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// The account and region the recorded ARNs are in.
const (
	iamRegion  = "us-east-1"
	iamAccount = "123456789012"
)

// recorder keeps, per function, the AWS calls made: action → resources.
type recorder struct {
	mu    sync.Mutex
	calls map[string]map[grant]bool
}

func (r *recorder) add(fn, action string, resources ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls[fn] == nil {
		r.calls[fn] = map[grant]bool{}
	}
	for _, res := range resources {
		r.calls[fn][grant{action, res}] = true
	}
}

func tableARN(table *string, index *string) string {
	a := "arn:aws:dynamodb:" + iamRegion + ":" + iamAccount + ":table/" + aws.ToString(table)
	if index != nil {
		a += "/index/" + *index
	}
	return a
}

// secretARN is the ARN of a secret named name: Secrets Manager adds a
// random six-character suffix.
func secretARN(name *string) string {
	return "arn:aws:secretsmanager:" + iamRegion + ":" + iamAccount + ":secret:" + aws.ToString(name) + "-AbC123"
}

// recDynamo is a DynamoDB client that records what IAM authorises: a
// transaction by the item actions in it.
type recDynamo struct {
	r   *recorder
	fn  string
	api dynamostore.API
}

func (d recDynamo) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	d.r.add(d.fn, "dynamodb:GetItem", tableARN(in.TableName, nil))
	return d.api.GetItem(ctx, in, o...)
}

func (d recDynamo) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	d.r.add(d.fn, "dynamodb:PutItem", tableARN(in.TableName, nil))
	return d.api.PutItem(ctx, in, o...)
}

func (d recDynamo) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	d.r.add(d.fn, "dynamodb:UpdateItem", tableARN(in.TableName, nil))
	return d.api.UpdateItem(ctx, in, o...)
}

func (d recDynamo) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	d.r.add(d.fn, "dynamodb:DeleteItem", tableARN(in.TableName, nil))
	return d.api.DeleteItem(ctx, in, o...)
}

func (d recDynamo) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	d.r.add(d.fn, "dynamodb:Query", tableARN(in.TableName, in.IndexName))
	return d.api.Query(ctx, in, o...)
}

func (d recDynamo) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	d.r.add(d.fn, "dynamodb:Scan", tableARN(in.TableName, in.IndexName))
	return d.api.Scan(ctx, in, o...)
}

func (d recDynamo) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	for table := range in.RequestItems {
		d.r.add(d.fn, "dynamodb:BatchGetItem", tableARN(&table, nil))
	}
	return d.api.BatchGetItem(ctx, in, o...)
}

func (d recDynamo) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			d.r.add(d.fn, "dynamodb:PutItem", tableARN(it.Put.TableName, nil))
		case it.Update != nil:
			d.r.add(d.fn, "dynamodb:UpdateItem", tableARN(it.Update.TableName, nil))
		case it.Delete != nil:
			d.r.add(d.fn, "dynamodb:DeleteItem", tableARN(it.Delete.TableName, nil))
		case it.ConditionCheck != nil:
			d.r.add(d.fn, "dynamodb:ConditionCheckItem", tableARN(it.ConditionCheck.TableName, nil))
		}
	}
	return d.api.TransactWriteItems(ctx, in, o...)
}

// recSecrets is a Secrets Manager client that records each action on the
// secret it names.
type recSecrets struct {
	r  *recorder
	fn string
	c  secretsvault.Client
}

func (s recSecrets) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, o ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	s.r.add(s.fn, "secretsmanager:CreateSecret", secretARN(in.Name))
	return s.c.CreateSecret(ctx, in, o...)
}

func (s recSecrets) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	s.r.add(s.fn, "secretsmanager:PutSecretValue", secretARN(in.SecretId))
	return s.c.PutSecretValue(ctx, in, o...)
}

func (s recSecrets) RestoreSecret(ctx context.Context, in *secretsmanager.RestoreSecretInput, o ...func(*secretsmanager.Options)) (*secretsmanager.RestoreSecretOutput, error) {
	s.r.add(s.fn, "secretsmanager:RestoreSecret", secretARN(in.SecretId))
	return s.c.RestoreSecret(ctx, in, o...)
}

func (s recSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.r.add(s.fn, "secretsmanager:GetSecretValue", secretARN(in.SecretId))
	return s.c.GetSecretValue(ctx, in, o...)
}

func (s recSecrets) DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, o ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	s.r.add(s.fn, "secretsmanager:DeleteSecret", secretARN(in.SecretId))
	return s.c.DeleteSecret(ctx, in, o...)
}

// recKMS records the data-key calls on the key they name.
type recKMS struct {
	r  *recorder
	fn string
	c  kmskeys.Client
}

func (k recKMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, o ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	k.r.add(k.fn, "kms:GenerateDataKey", aws.ToString(in.KeyId))
	return k.c.GenerateDataKey(ctx, in, o...)
}

func (k recKMS) Decrypt(ctx context.Context, in *kms.DecryptInput, o ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	k.r.add(k.fn, "kms:Decrypt", aws.ToString(in.KeyId))
	return k.c.Decrypt(ctx, in, o...)
}

// recSES records sends on the sender's identity; GetSendQuota has no
// resource.
type recSES struct {
	r  *recorder
	fn string
	c  sesmail.Client
}

func (s recSES) SendEmail(ctx context.Context, in *ses.SendEmailInput, o ...func(*ses.Options)) (*ses.SendEmailOutput, error) {
	s.r.add(s.fn, "ses:SendEmail", "arn:aws:ses:"+iamRegion+":"+iamAccount+":identity/"+aws.ToString(in.Source))
	return s.c.SendEmail(ctx, in, o...)
}

func (s recSES) GetSendQuota(ctx context.Context, in *ses.GetSendQuotaInput, o ...func(*ses.Options)) (*ses.GetSendQuotaOutput, error) {
	s.r.add(s.fn, "ses:GetSendQuota", "*")
	return s.c.GetSendQuota(ctx, in, o...)
}

// auditOf is an account's whole audit timeline.
func auditOf(t *testing.T, st store.Store, account string) []connection.AuditEntry {
	t.Helper()
	var out []connection.AuditEntry
	cursor := ""
	for {
		page, next, err := st.ListAudit(t.Context(), account, "", cursor, 100)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

// streamOf writes entries into a new table with its stream on and
// returns the stream's records.
func streamOf(t *testing.T, ac aws.Config, entries []connection.AuditEntry) []events.DynamoDBEventRecord {
	t.Helper()
	ctx := t.Context()
	db := dynamodb.NewFromConfig(ac)
	table := awstest.Unique("stream")
	if err := dynamostore.CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	arn, err := dynamostore.EnableStream(ctx, db, table)
	if err != nil {
		t.Fatal(err)
	}
	st := dynamostore.New(db, table)
	for chunk := range slices.Chunk(entries, 25) {
		var ops []store.Op
		for _, e := range chunk {
			ops = append(ops, store.AppendAudit{Entry: e})
		}
		if err := st.Apply(ctx, ops...); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := streampoll.New(dynamodbstreams.NewFromConfig(ac), arn).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// recEvents records puts on the event bus they name.
type recEvents struct {
	r  *recorder
	fn string
	c  eventbridgebus.API
}

func (e recEvents) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, o ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	for _, en := range in.Entries {
		e.r.add(e.fn, "events:PutEvents", "arn:aws:events:"+iamRegion+":"+iamAccount+":event-bus/"+aws.ToString(en.EventBusName))
	}
	return e.c.PutEvents(ctx, in, o...)
}

// iamMatch reports whether an IAM pattern (* any run, ? one character)
// matches s.
func iamMatch(pattern, s string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(s)
}

// allows reports whether one of gs lets action act on resource.
func allows(gs []grant, action, resource string) bool {
	for _, g := range gs {
		if iamMatch(g.Action, action) && iamMatch(g.Resource, resource) {
			return true
		}
	}
	return false
}

// unusedOK are grants no flow below reaches, by function and action, each
// with the path that needs it.
var unusedOK = map[string]map[string]string{
	"integration-settings": {"dynamodb:GetItem": "reads the settings back when a conditional write whose answer was lost meets itself"},
	"oauth-url":            {"dynamodb:GetItem": "reads the state back when a put whose answer was lost meets itself"},
	"expiry-scan": {"dynamodb:GetItem": "reads a notice back when another run recorded or claimed it first, and the settings " +
		"to refresh a grant of a vendor whose OAuth client is the account's (none the scan refreshes today) or to move its client secret"},
	"oauth-callback": {"kms:Decrypt": "opens sealed tokens another container sealed, to revoke a grant a change of user replaced (no flow here changes a sealed connection's user)"},
	"event-publisher": {
		"dynamodb:DescribeStream":   "the event source mapping reads the stream with the function's role",
		"dynamodb:GetRecords":       "the event source mapping reads the stream with the function's role",
		"dynamodb:GetShardIterator": "the event source mapping reads the stream with the function's role",
		"dynamodb:ListStreams":      "the event source mapping reads the stream with the function's role",
		"sqs:SendMessage":           "the event source mapping sends batches it gave up on to the dead-letter queue with the function's role",
	},
}

// TestFunctionsStayInsideTheirIAM runs every route and the scan through
// their flows — settings, connect, reconnect, change of user, user level,
// list, keep-alive, notices and their emails, dismiss, disconnect, a
// connect that restores the secret a disconnect scheduled for deletion, the
// token broker and the live check (valid, refreshed, refused) — for every
// vendor of the registry.
func TestFunctionsStayInsideTheirIAM(t *testing.T) {
	moto := awstest.Moto(t)
	ac := moto.Config(t)
	ctx := t.Context()
	table, prefix := awstest.Unique("iam"), awstest.Unique("iam")
	const from = "no-reply@acme.example"
	if err := dynamostore.CreateTable(ctx, dynamodb.NewFromConfig(ac), table); err != nil {
		t.Fatal(err)
	}
	bus := awstest.Unique("iam")
	received := awstest.Subscribe(t, ac, bus, publisher.Source)
	if _, err := ses.NewFromConfig(ac).VerifyEmailIdentity(ctx, &ses.VerifyEmailIdentityInput{EmailAddress: aws.String(from)}); err != nil {
		t.Fatal(err)
	}
	clock := sandboxtest.NewClock(time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC))
	sb := sandboxtest.StartSandbox(t, clock.Now)
	var bases []string
	for k, v := range sb.VendorBaseURLs() {
		bases = append(bases, k+"="+v)
	}
	key, err := kms.NewFromConfig(ac).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	env := map[string]string{
		"USER_TOKEN_STORE": "secrets", "USER_TOKEN_KEY": keyARN,
		"TABLE_NAME": table, "SECRET_PREFIX": prefix, "MAIL_FROM": from,
		"OAUTH_REDIRECT_URL": sandboxtest.RedirectURL, "VENDOR_BASE_URLS": strings.Join(bases, ","),
		"PRIVATE_VENDOR_HOSTS": strings.TrimPrefix(sb.Server.URL, "http://"), "EVENT_BUS_NAME": bus,
	}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{calls: map[string]map[grant]bool{}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Each function's vault, so that the flows can switch USER_TOKEN_STORE
	// as an operator would (a new deployment of the parameter).
	var vaults []*vault.Router
	setMode := func(mode string) {
		for _, v := range vaults {
			v.Mode = mode
		}
	}
	depsOf := func(fn string) *handlers.Deps {
		db := recDynamo{rec, fn, awstest.Serialized(moto.DynamoDBClient(t))}
		v := awsdeps.Vault(cfg, recSecrets{rec, fn, secretsmanager.NewFromConfig(ac)}, db, recKMS{rec, fn, kms.NewFromConfig(ac)})
		vaults = append(vaults, v)
		return &handlers.Deps{
			Config: cfg,
			Backends: handlers.Backends{
				Store:  dynamostore.New(db, table),
				Vault:  v,
				Mailer: sesmail.New(recSES{rec, fn, ses.NewFromConfig(ac)}, from),
				Bus:    eventbridgebus.New(recEvents{rec, fn, eventbridge.NewFromConfig(ac)}, cfg.EventBusName),
				Stream: dynamostore.AuditFromStreamRecord,
			},
			HTTP: sb.Server.Client(), Now: clock.Now, Log: quiet,
		}
	}
	// The operator creates the deployment's app credentials (not a
	// function), one secret per app.
	for id, name := range cfg.DeploymentSecrets {
		app, _ := json.Marshal(provider.Credentials{ClientID: id + "-app", ClientSecret: id + "-app-secret"})
		if _, err := secretsvault.New(secretsmanager.NewFromConfig(ac)).Put(ctx, name, app); err != nil {
			t.Fatal(err)
		}
	}
	routes := map[string]apigw.Handler{}
	for _, r := range handlers.Routes {
		routes[r.RouteKey()] = r.Handler(depsOf(r.Function))
	}
	scan := handlers.ExpiryScan(depsOf("expiry-scan"))

	ada, bob, carol := jwtCaller{"a1", "u1", "appManager"}, jwtCaller{"a1", "u2", "member"}, jwtCaller{"a1", "u3", "appManager"}
	dave := jwtCaller{"a1", "u4", "member"}
	erin, frank := jwtCaller{"a2", "u5", "appManager"}, jwtCaller{"a3", "u6", "appManager"}
	rc := routeCaller{t: t, ctx: ctx, routes: routes, sb: sb}
	call, connect := rc.call, rc.connect
	runScan := func(after time.Duration) {
		t.Helper()
		clock.Advance(after)
		rep, err := scan(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.scheduler", Time: clock.Now()})
		if err != nil || !rep.Complete {
			t.Fatalf("scan: %+v %v", rep, err)
		}
	}

	for _, v := range vendors.Registry {
		if v.NeedsSettings() {
			// Twice: the second writes a new version of the client secret.
			for _, secret := range []string{"first-secret", "second-secret"} {
				call(ada, "PUT", "/v1/account/integrations/"+v.ID+"/settings", "",
					`{"instanceUrl":"https://acme.service-now.com","clientId":"c1","clientSecret":"`+secret+`"}`, 200)
			}
		}
		if v.NeedsSettings() {
			// An account whose grant lasts 55 days: the first scan (sealed
			// mode) visits it and seals its client secret.
			call(frank, "PUT", "/v1/account/integrations/"+v.ID+"/settings", "",
				`{"instanceUrl":"https://acme.service-now.com","clientId":"c1","clientSecret":"second-secret","refreshTokenLifespanDays":55}`, 200)
			connect(frank, v.ID, "app", "", "frank")
		}
		connect(ada, v.ID, "app", "", "ada")
		connect(bob, v.ID, "user", "", "bob")
		connect(ada, v.ID, "app", "reconnect", "ada")
		connect(carol, v.ID, "app", "changeUser", "carol")
	}
	call(ada, "GET", "/v1/account/integrations", "includeUserLevelConnectionData=true", "", 200)
	call(bob, "GET", "/v1/account/integrations", "", "", 200)
	// Sealed user-level tokens from here: dave's are sealed at connect;
	// bob's, in Secrets Manager, move when the scan visits them.
	setMode(vault.StoreSealed)
	for _, v := range vendors.Registry {
		if v.NeedsSettings() {
			// A new client secret, sealed, its Secrets Manager copy deleted;
			// then one in secrets mode (restoring that secret, deleting the
			// sealed copy) and sealed again: the scan moves it back below.
			for _, mode := range []string{vault.StoreSealed, vault.StoreSecrets, vault.StoreSealed} {
				setMode(mode)
				call(ada, "PUT", "/v1/account/integrations/"+v.ID+"/settings", "",
					`{"instanceUrl":"https://acme.service-now.com","clientId":"c1","clientSecret":"second-secret"}`, 200)
			}
			// Another account's client secret, sealed from the start: the
			// scan creates its secret when it moves it back.
			call(erin, "PUT", "/v1/account/integrations/"+v.ID+"/settings", "",
				`{"instanceUrl":"https://acme.service-now.com","clientId":"c1","clientSecret":"second-secret"}`, 200)
			connect(erin, v.ID, "app", "", "erin")
		}
		connect(dave, v.ID, "user", "", "dave")
	}
	// Keep-alive refreshes, then warnings, then expiries: notices and
	// emails; from the second run on in secrets mode again: the scan moves
	// the sealed tokens back (restoring bob's secrets, creating dave's).
	// Each run's token sweep (SCAN_SWEEP_PAGES by default) pages through
	// the table (dynamodb:Scan) and keeps its mark (GetItem, PutItem).
	for i, d := range []time.Duration{50, 45, 6, 300} {
		runScan(d * 24 * time.Hour)
		if i == 0 {
			setMode(vault.StoreSecrets)
		}
	}

	var inbox []notices.Notification
	if err := json.Unmarshal([]byte(call(carol, "GET", "/v1/me/notifications", "", "", 200)), &inbox); err != nil || len(inbox) == 0 {
		t.Fatalf("carol's notices: %v %v", inbox, err)
	}
	call(carol, "POST", "/v1/me/notifications/"+inbox[0].ID+"/dismiss", "", "", 204)
	var page struct {
		Entries    []json.RawMessage
		NextCursor *string
	}
	if err := json.Unmarshal([]byte(call(ada, "GET", "/v1/account/integrations/audit", "limit=5", "", 200)), &page); err != nil ||
		len(page.Entries) != 5 || page.NextCursor == nil {
		t.Fatalf("audit page: %+v %v", page, err)
	}
	call(ada, "GET", "/v1/account/integrations/audit", "vendor=confluence&cursor="+url.QueryEscape(*page.NextCursor), "", 400)
	call(ada, "GET", "/v1/account/integrations/audit", "cursor="+url.QueryEscape(*page.NextCursor), "", 200)
	service := jwtCaller{user: "search-connector"} // an internal caller (IAM)
	for i, v := range vendors.Registry {
		// Every other vendor with sealed user-level tokens, the others in
		// Secrets Manager: each function's grants of both stores are used.
		setMode([]string{vault.StoreSecrets, vault.StoreSealed}[i%2])
		base := "/v1/account/integrations/" + v.ID
		call(bob, "DELETE", base, "flow=user", "", 204)
		// The same secret name again: restored from its scheduled deletion.
		connect(ada, v.ID, "app", "reconnect", "carol")
		connect(bob, v.ID, "user", "", "bob")
		// The broker and the check: a valid token, then refreshes two
		// hours on, then a grant the vendor refuses (marked, told).
		tok := func(user string, want int) {
			t.Helper()
			call(service, "POST", "/v1/internal/token", "", `{"account":"a1","vendor":"`+v.ID+`","user":"`+user+`"}`, want)
		}
		tok("", 200)
		call(bob, "POST", base+"/check", "flow=user", "", 200)
		clock.Advance(2 * time.Hour)
		call(carol, "POST", base+"/check", "flow=app", "", 200)
		tok("u2", 200)
		sb.Knob(t, v.ID+"/revoke?user=bob")
		clock.Advance(2 * time.Hour)
		tok("u2", 409)
		connect(bob, v.ID, "user", "reconnect", "bob")
		clock.Advance(2 * time.Hour)
		call(bob, "POST", base+"/check", "flow=user", "", 200) // refreshes: sealed anew
		sb.Knob(t, v.ID+"/revoke?user=bob")
		clock.Advance(2 * time.Hour)
		call(bob, "POST", base+"/check", "flow=user", "", 200)
		call(ada, "DELETE", base, "flow=app&cascade=true", "", 204)
	}

	// The publisher on a stream of the flows' audit entries: copied into
	// a table of their own with its stream on (moto copies a whole table,
	// stream included, on every transaction: this one stays small).
	recs := streamOf(t, ac, auditOf(t, dynamostore.New(awstest.Serialized(moto.DynamoDBClient(t)), table), "a1"))
	filter := streamFilter(t)
	var batch events.DynamoDBEvent
	for _, r := range recs {
		if filter.matches(t, r) {
			batch.Records = append(batch.Records, r)
		}
	}
	resp, err := handlers.EventPublisher(depsOf("event-publisher"))(ctx, batch)
	if err != nil || len(resp.BatchItemFailures) != 0 || len(batch.Records) == 0 {
		t.Fatalf("event publisher: %+v %v (%d records)", resp, err, len(batch.Records))
	}
	if got := len(received()); got != len(batch.Records) {
		t.Fatalf("%d events received for %d audit entries", got, len(batch.Records))
	}

	ids := functionIDs(t)
	real := cfnValues{
		vars: map[string]string{
			"AWS::Partition": "aws", "AWS::Region": iamRegion, "AWS::AccountId": iamAccount,
			"SecretPrefix": prefix, "MailFrom": from, "MailIdentity": "",
			"ConnectionsTable.Arn": tableARN(&table, nil), "EventBusName": bus,
			"EventsDeadLetterQueue.Arn": "arn:aws:sqs:" + iamRegion + ":" + iamAccount + ":dlq",
			"UserTokenKey.Arn":          keyARN,
		},
		conds: map[string]bool{"HasMailIdentity": false},
	}
	grants := functionGrants(t, read(t, "../../template.yaml"), real)
	fns := []string{"expiry-scan", "event-publisher"}
	for _, r := range handlers.Routes {
		fns = append(fns, r.Function)
	}
	sort.Strings(fns)
	done := map[string]bool{}
	for _, fn := range fns {
		if done[fn] {
			continue
		}
		done[fn] = true
		gs := grants[ids[fn]]
		t.Logf("%s: %d grants, %d distinct calls", fn, len(gs), len(rec.calls[fn]))
		var denied []string
		for c := range rec.calls[fn] {
			if !allows(gs, c.Action, c.Resource) {
				denied = append(denied, c.String())
			}
		}
		sort.Strings(denied)
		if len(denied) > 0 {
			t.Errorf("%s makes calls its role does not allow:\n  %s", fn, strings.Join(denied, "\n  "))
		}
		var unused []string
		for _, g := range gs {
			used := false
			for c := range rec.calls[fn] {
				if iamMatch(g.Action, c.Action) && iamMatch(g.Resource, c.Resource) {
					used = true
					break
				}
			}
			if _, ok := unusedOK[fn][g.Action]; !used && !ok {
				unused = append(unused, g.String())
			}
		}
		sort.Strings(unused)
		if len(unused) > 0 {
			t.Errorf("%s is granted what no flow used:\n  %s", fn, strings.Join(unused, "\n  "))
		}
	}
	if t.Failed() {
		for _, fn := range fns {
			var cs []string
			for c := range rec.calls[fn] {
				cs = append(cs, c.String())
			}
			sort.Strings(cs)
			t.Logf("%s called:\n  %s", fn, strings.Join(cs, "\n  "))
		}
	}
}
