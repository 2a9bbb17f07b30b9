package localserver_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workplace/connections/infra/localserver"
	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/vault"
)

// TestLocalServerOnAWSAPIs: BACKEND=aws runs the same server on DynamoDB,
// Secrets Manager and SES (here moto, through AWS_ENDPOINT_URL): it
// creates the table with its stream, and settings, a connection, the list,
// the audit timeline and the events (read from the table's stream through
// the event publisher's handler) work.
func TestLocalServerOnAWSAPIs(t *testing.T) {
	moto := awstest.Moto(t)
	t.Setenv("AWS_ENDPOINT_URL", moto.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_REGION", "us-east-1")
	env := map[string]string{
		"BACKEND":          "aws",
		"AWS_ENDPOINT_URL": moto.URL,
		"TABLE_NAME":       awstest.Unique("local"),
		"SECRET_PREFIX":    awstest.Unique("local"),
		"MAIL_FROM":        "no-reply@acme.example",
		"LOG_LEVEL":        "ERROR",
		"USER_TOKEN_STORE": "sealed",
	}
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().(*net.TCPAddr).String()
	srv, _, err := localserver.Local(t.Context(), localserver.Options{Getenv: func(k string) string { return env[k] }, BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler, _ = validated(t, srv)
	ts.Start()
	defer ts.Close()

	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Account-Id", "a1")
		req.Header.Set("X-User-Id", "u1")
		req.Header.Set("X-User-Email", "ada@acme.example")
		req.Header.Set("X-User-Role", "appManager")
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do("PUT", "/v1/account/integrations/servicenow/settings",
		`{"instanceUrl":"https://acme.service-now.com","clientId":"c1","clientSecret":"s3cret-on-moto"}`); code != 200 {
		t.Fatalf("settings: %d %s", code, body)
	}
	code, body := do("GET", "/v1/account/integrations/servicenow/oauth2/url?flow=app", "")
	if code != 200 {
		t.Fatalf("url: %d %s", code, body)
	}
	var u struct{ URL string }
	if err := json.Unmarshal([]byte(body), &u); err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(u.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	connect := func(flow string) {
		t.Helper()
		code, body := do("GET", "/v1/account/integrations/servicenow/oauth2/url?flow="+flow, "")
		var u struct{ URL string }
		if code != 200 || json.Unmarshal([]byte(body), &u) != nil {
			t.Fatalf("url: %d %s", code, body)
		}
		resp, err := noFollow.Get(u.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		back, err := resp.Location()
		if err != nil {
			t.Fatal(err)
		}
		q := back.Query()
		cb, _ := json.Marshal(map[string]string{"state": q.Get("state"), "code": q.Get("code")})
		if code, body := do("POST", "/v1/account/integrations/servicenow/oauth2/callback", string(cb)); code != 200 {
			t.Fatalf("callback: %d %s", code, body)
		}
	}
	q := back.Query()
	cb, _ := json.Marshal(map[string]string{"state": q.Get("state"), "code": q.Get("code")})
	if code, body := do("POST", "/v1/account/integrations/servicenow/oauth2/callback", string(cb)); code != 200 {
		t.Fatalf("callback: %d %s", code, body)
	}
	code, body = do("GET", "/v1/account/integrations?type=supportAndTicketing", "")
	if code != 200 || !strings.Contains(body, `"integrated":true`) || strings.Contains(body, "s3cret-on-moto") {
		t.Fatalf("list: %d %s", code, body)
	}
	code, body = do("GET", "/v1/account/integrations/audit?vendor=servicenow", "")
	var page struct {
		Entries []struct {
			ID     string
			Action string
			Actor  struct{ Type, ID string }
		}
		NextCursor *string
	}
	if code != 200 || json.Unmarshal([]byte(body), &page) != nil || len(page.Entries) != 2 || page.NextCursor != nil ||
		page.Entries[0].Action != "connected" || page.Entries[1].Action != "settingsChanged" || page.Entries[0].Actor.ID != "u1" ||
		strings.Contains(body, "s3cret-on-moto") {
		t.Fatalf("audit: %d %s", code, body)
	}
	// The connect is one event; the settings none. Listed again: the same.
	for range 2 {
		code, body = do("GET", "/_local/events", "")
		var evs []struct {
			DetailType string
			Detail     struct{ EventID, Account, Level string }
		}
		if code != 200 || json.Unmarshal([]byte(body), &evs) != nil || len(evs) != 1 || evs[0].DetailType != "Connection Connected" ||
			evs[0].Detail.EventID != page.Entries[0].ID || evs[0].Detail.Account != "a1" || evs[0].Detail.Level != "app" {
			t.Fatalf("events: %d %s", code, body)
		}
	}
	// A user-level connection in sealed mode: its tokens sealed under the
	// KMS key the server gave the emulator, in an item of the table.
	connect("user")
	code, body = do("GET", "/v1/account/integrations?type=supportAndTicketing&includeUserLevelConnectionData=true", "")
	if code != 200 || !strings.Contains(body, `"userConnection":{"connected":true`) {
		t.Fatalf("list after the user-level connect: %d %s", code, body)
	}
	// So are the app-level tokens and the account's client secret.
	for _, name := range []string{
		vault.ConnectionSecretName(env["SECRET_PREFIX"], "a1", "servicenow", "user", "u1"),
		vault.ConnectionSecretName(env["SECRET_PREFIX"], "a1", "servicenow", "app", ""),
		vault.ClientSecretName(env["SECRET_PREFIX"], "a1", "servicenow"),
	} {
		item, err := dynamodb.NewFromConfig(moto.Config(t)).GetItem(t.Context(), &dynamodb.GetItemInput{
			TableName: aws.String(env["TABLE_NAME"]),
			Key: map[string]types.AttributeValue{
				"PK": &types.AttributeValueMemberS{Value: "SECRET#" + name},
				"SK": &types.AttributeValueMemberS{Value: "CURRENT"},
			},
		})
		if err != nil || item.Item["Value"] == nil {
			t.Fatalf("no sealed %s in the table: %v", name, err)
		}
	}
}
