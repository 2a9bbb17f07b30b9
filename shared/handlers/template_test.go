package handlers_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/workplace/connections/shared/handlers"
)

// TestTemplateDeclaresEveryRoute: each route of the API is an HttpApi event
// of the function that serves it in template.yaml (found through the
// Makefile's build-<LogicalId> targets, which sam build runs), so the
// deployed API and the local server cannot disagree.
func TestTemplateDeclaresEveryRoute(t *testing.T) {
	tmpl := read(t, "../../template.yaml")
	mk := read(t, "../../Makefile")
	logical := map[string]string{} // function dir → logical id
	for _, m := range regexp.MustCompile(`(?m)^build-(\w+):\s+FUNCTION := ([\w-]+)`).FindAllStringSubmatch(mk, -1) {
		logical[m[2]] = m[1]
	}
	resources := map[string]string{} // logical id → its text
	starts := regexp.MustCompile(`(?m)^  (\w+):\n    Type: `).FindAllStringSubmatchIndex(tmpl, -1)
	for i, s := range starts {
		end := len(tmpl)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		resources[tmpl[s[2]:s[3]]] = tmpl[s[0]:end]
	}
	declared := 0
	for _, r := range handlers.Routes {
		id, ok := logical[r.Function]
		if !ok {
			t.Errorf("%s: no build target for function %s in the Makefile", r.RouteKey(), r.Function)
			continue
		}
		res, ok := resources[id]
		if !ok {
			t.Errorf("%s: no resource %s in template.yaml", r.RouteKey(), id)
			continue
		}
		ev := regexp.MustCompile(`ApiId: !Ref HttpApi\s+Method: ` + r.Method + `\s+Path: ` + regexp.QuoteMeta(r.Path) + `\s`)
		if !ev.MatchString(res) {
			t.Errorf("%s: %s has no HttpApi event for it (with ApiId: !Ref HttpApi)", r.RouteKey(), id)
			continue
		}
		declared++
	}
	if got := strings.Count(tmpl, "Type: HttpApi\n"); got != declared {
		t.Errorf("template.yaml has %d HttpApi events, the route table %d routes", got, declared)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTemplateAuthorizers: every route is behind the JWT authorizer (the
// API's default) except the internal ones, which are authorized by IAM
// (AWS_IAM) — and only they. SAM needs EnableIamAuthorizer for that.
func TestTemplateAuthorizers(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(read(t, "../../template.yaml")), &doc); err != nil {
		t.Fatal(err)
	}
	res := field(doc.Content[0], "Resources")
	auth := field(field(field(res, "HttpApi"), "Properties"), "Auth")
	if field(auth, "DefaultAuthorizer").Value != "JwtAuthorizer" || field(auth, "EnableIamAuthorizer").Value != "true" {
		t.Fatal("HttpApi: the JWT authorizer must be the default, with the IAM authorizer enabled for the internal routes")
	}
	internal := map[string]bool{}
	for _, r := range handlers.Routes {
		internal[r.RouteKey()] = r.Internal()
	}
	seen := 0
	for i := 0; i+1 < len(res.Content); i += 2 {
		evs := field(field(res.Content[i+1], "Properties"), "Events")
		for j := 0; evs != nil && j+1 < len(evs.Content); j += 2 {
			ev := evs.Content[j+1]
			if field(ev, "Type").Value != "HttpApi" {
				continue
			}
			props := field(ev, "Properties")
			key := field(props, "Method").Value + " " + field(props, "Path").Value
			isInternal, ok := internal[key]
			if !ok {
				t.Errorf("%s: no route %s", res.Content[i].Value, key)
				continue
			}
			seen++
			a := field(props, "Auth")
			switch {
			case isInternal && (a == nil || field(a, "Authorizer") == nil || field(a, "Authorizer").Value != "AWS_IAM"):
				t.Errorf("%s: an internal route must be authorized by AWS_IAM", key)
			case !isInternal && a != nil:
				t.Errorf("%s: a route for people keeps the API's JWT authorizer (no Auth of its own)", key)
			}
		}
	}
	if seen != len(handlers.Routes) {
		t.Errorf("%d HttpApi events for %d routes", seen, len(handlers.Routes))
	}
}

// TestTemplateKeepsDataAndLogsJSON: the table cannot be deleted by the
// stack nor by hand (deletion protection), and every function's log lines
// are JSON events (LogFormat JSON, set once in Globals for all of them).
func TestTemplateKeepsDataAndLogsJSON(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(read(t, "../../template.yaml")), &doc); err != nil {
		t.Fatal(err)
	}
	value := func(n *yaml.Node) string {
		if n == nil {
			return ""
		}
		return n.Value
	}
	root := doc.Content[0]
	table := field(field(root, "Resources"), "ConnectionsTable")
	if value(field(table, "DeletionPolicy")) != "Retain" || value(field(field(table, "Properties"), "DeletionProtectionEnabled")) != "true" {
		t.Error("ConnectionsTable: Retain and DeletionProtectionEnabled must both hold")
	}
	if value(field(field(field(field(root, "Globals"), "Function"), "LoggingConfig"), "LogFormat")) != "JSON" {
		t.Error("Globals.Function.LoggingConfig.LogFormat must be JSON")
	}
}

// TestTemplateScanScheduleRetriesAndDeadLetters: the scan's schedule
// retries an invocation it could not make, then keeps it in a queue of the
// template instead of dropping it.
func TestTemplateScanScheduleRetriesAndDeadLetters(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(read(t, "../../template.yaml")), &doc); err != nil {
		t.Fatal(err)
	}
	res := field(doc.Content[0], "Resources")
	ev := field(field(field(field(res, "ExpiryScanFunction"), "Properties"), "Events"), "Schedule")
	if field(ev, "Type") == nil || field(ev, "Type").Value != "ScheduleV2" {
		t.Fatal("ExpiryScanFunction has no ScheduleV2 event Schedule")
	}
	props := field(ev, "Properties")
	retry := field(props, "RetryPolicy")
	if n := field(retry, "MaximumRetryAttempts"); n == nil || n.Value == "0" {
		t.Error("the schedule has no RetryPolicy.MaximumRetryAttempts")
	}
	if field(retry, "MaximumEventAgeInSeconds") == nil {
		t.Error("the schedule has no RetryPolicy.MaximumEventAgeInSeconds")
	}
	arn := field(field(props, "DeadLetterConfig"), "Arn")
	if arn == nil || arn.Tag != "!GetAtt" || !strings.HasSuffix(arn.Value, ".Arn") {
		t.Fatal("the schedule's DeadLetterConfig.Arn is no !GetAtt <queue>.Arn")
	}
	q := field(res, strings.TrimSuffix(arn.Value, ".Arn"))
	if q == nil || field(q, "Type").Value != "AWS::SQS::Queue" {
		t.Fatalf("the schedule's dead-letter target %s is no SQS queue of the template", arn.Value)
	}
}

// TestSamconfigStages: samconfig.toml has a dev and a prod stage and no
// value for any required parameter, so a deploy never ships a placeholder.
func TestSamconfigStages(t *testing.T) {
	cfg := read(t, "../../samconfig.toml")
	for _, stage := range []string{"[dev.deploy.parameters]", "[prod.deploy.parameters]"} {
		if !strings.Contains(cfg, stage) {
			t.Errorf("samconfig.toml has no %s", stage)
		}
	}
	for _, required := range []string{"JwtIssuer=", "JwtAudience=", "FrontendUrl=", "AllowedOrigin=", "OAuthRedirectUrl=", "MailFrom=", "example.com"} {
		if strings.Contains(cfg, required) {
			t.Errorf("samconfig.toml sets %s: a required parameter must come from the operator, not a placeholder", strings.TrimSuffix(required, "="))
		}
	}
}
