package handlers_test

// The functions' IAM, read from template.yaml: what each role may do on
// which resource. TestTemplateIAMIsExact pins it (a widening fails);
// TestFunctionsStayInsideTheirIAM (iam_moto_test.go) runs every function on
// moto and checks that each AWS call it makes is one its role allows, and
// that each grant is used.

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/workplace/connections/shared/handlers"
)

// grant is one action on one resource (an ARN pattern, with IAM's * and ?).
type grant struct{ Action, Resource string }

func (g grant) String() string { return g.Action + " on " + g.Resource }

// cfnValues resolve the template's intrinsic functions: parameters and
// pseudo parameters (Ref, Sub), attributes (GetAtt) and conditions (If).
type cfnValues struct {
	vars  map[string]string // "SecretPrefix", "AWS::Region", "ConnectionsTable.Arn", …
	conds map[string]bool
}

// resolve is the list of values a node stands for (none for AWS::NoValue).
func (c cfnValues) resolve(t *testing.T, n *yaml.Node) []string {
	t.Helper()
	lookup := func(name string) string {
		v, ok := c.vars[name]
		if !ok {
			t.Fatalf("line %d: no value for %q", n.Line, name)
		}
		return v
	}
	switch {
	case n.Kind == yaml.SequenceNode && n.Tag == "!If":
		if len(n.Content) != 3 {
			t.Fatalf("line %d: !If takes [condition, then, else]", n.Line)
		}
		cond, ok := c.conds[n.Content[0].Value]
		if !ok {
			t.Fatalf("line %d: unknown condition %q", n.Line, n.Content[0].Value)
		}
		if cond {
			return c.resolve(t, n.Content[1])
		}
		return c.resolve(t, n.Content[2])
	case n.Kind == yaml.SequenceNode && (n.Tag == "!!seq" || n.Tag == ""):
		var out []string
		for _, e := range n.Content {
			out = append(out, c.resolve(t, e)...)
		}
		return out
	case n.Kind != yaml.ScalarNode:
		t.Fatalf("line %d: unexpected %s node (tag %s) in a policy", n.Line, kindName(n.Kind), n.Tag)
	case n.Tag == "!!str":
		return []string{n.Value}
	case n.Tag == "!Ref" && n.Value == "AWS::NoValue":
		return nil
	case n.Tag == "!Ref":
		return []string{lookup(n.Value)}
	case n.Tag == "!GetAtt":
		return []string{lookup(n.Value)}
	case n.Tag == "!Sub":
		return []string{regexp.MustCompile(`\$\{([^}]+)\}`).ReplaceAllStringFunc(n.Value, func(m string) string {
			return lookup(m[2 : len(m)-1])
		})}
	}
	t.Fatalf("line %d: unsupported %s %q in a policy", n.Line, n.Tag, n.Value)
	return nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	}
	return fmt.Sprint(k)
}

// field is the value of key in a mapping node, or nil.
func field(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// functionGrants reads every AWS::Serverless::Function's role from the
// template: logical id → what it allows. Only inline statements of Effect
// Allow with Action and Resource are accepted, so nothing can widen a role
// in a form this reader would not see (NotAction, NotResource, managed or
// SAM template policies, an outside Role).
func functionGrants(t *testing.T, tmpl string, vals cfnValues) map[string][]grant {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(tmpl), &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	res := field(doc.Content[0], "Resources")
	if res == nil {
		t.Fatal("template.yaml has no Resources")
	}
	out := map[string][]grant{}
	for i := 0; i+1 < len(res.Content); i += 2 {
		id, r := res.Content[i].Value, res.Content[i+1]
		if field(r, "Type").Value != "AWS::Serverless::Function" {
			continue
		}
		props := field(r, "Properties")
		for _, k := range []string{"Role", "PermissionsBoundary"} {
			if field(props, k) != nil {
				t.Fatalf("%s: %s is not allowed: every function has its own inline policy", id, k)
			}
		}
		out[id] = []grant{}
		pols := field(props, "Policies")
		if pols == nil {
			continue
		}
		for _, p := range pols.Content {
			stmts := field(p, "Statement")
			if p.Kind != yaml.MappingNode || stmts == nil || len(p.Content) != 4 || field(p, "Version") == nil {
				t.Fatalf("%s line %d: a policy must be {Version, Statement}", id, p.Line)
			}
			for _, s := range stmts.Content {
				keys := []string{}
				for j := 0; j < len(s.Content); j += 2 {
					keys = append(keys, s.Content[j].Value)
				}
				sort.Strings(keys)
				if !slices.Equal(keys, []string{"Action", "Effect", "Resource"}) || field(s, "Effect").Value != "Allow" {
					t.Fatalf("%s line %d: a statement must be exactly {Effect: Allow, Action, Resource}, has %v", id, s.Line, keys)
				}
				for _, a := range vals.resolve(t, field(s, "Action")) {
					for _, r := range vals.resolve(t, field(s, "Resource")) {
						out[id] = append(out[id], grant{a, r})
					}
				}
			}
		}
	}
	return out
}

// functionIDs maps each functions/<name> to its logical id, through the
// Makefile's build-<LogicalId> targets.
func functionIDs(t *testing.T) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^build-(\w+):\s+FUNCTION := ([\w-]+)`).FindAllStringSubmatch(read(t, "../../Makefile"), -1) {
		ids[m[2]] = m[1]
	}
	return ids
}

// Symbolic values: the pinned grants below read as the template does.
const (
	symPrefix = "PREFIX"
	symTable  = "arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE"
	symKey    = "arn:aws:kms:REGION:ACCOUNT:key/KEY"
)

func symbolic() cfnValues {
	return cfnValues{
		vars: map[string]string{
			"AWS::Partition": "aws", "AWS::Region": "REGION", "AWS::AccountId": "ACCOUNT",
			"SecretPrefix": symPrefix, "MailFrom": "MAILFROM", "MailIdentity": "MAILIDENTITY",
			"ConnectionsTable.Arn": symTable, "EventBusName": "BUS",
			"EventsDeadLetterQueue.Arn": "arn:aws:sqs:REGION:ACCOUNT:DLQ",
			"UserTokenKey.Arn":          symKey,
		},
		conds: map[string]bool{"HasMailIdentity": true},
	}
}

// TestTemplateIAMIsExact pins every function's grants: which secrets
// (tokens, account client secrets, the deployment's app) with which
// actions, which table actions, which SES identities. Widening a role
// fails here; narrowing one fails TestFunctionsStayInsideTheirIAM if the
// code still needs it.
func TestTemplateIAMIsExact(t *testing.T) {
	secret := func(kind string) string {
		return "arn:aws:secretsmanager:REGION:ACCOUNT:secret:" + symPrefix + "/" + kind + "/*"
	}
	clients, deployment, tokens := secret("clients"), secret("deployment"), secret("tokens")
	on := func(resource string, actions ...string) []grant {
		var out []grant
		for _, a := range actions {
			out = append(out, grant{a, resource})
		}
		return out
	}
	table := func(actions ...string) []grant {
		for i, a := range actions {
			actions[i] = "dynamodb:" + a
		}
		return on(symTable, actions...)
	}
	sm := func(resource string, actions ...string) []grant {
		for i, a := range actions {
			actions[i] = "secretsmanager:" + a
		}
		return on(resource, actions...)
	}
	join := func(gs ...[]grant) []grant { return slices.Concat(gs...) }
	// Sealed account secrets (USER_TOKEN_STORE=sealed: tokens of both
	// levels, client secrets): data keys of the one KMS key, to seal (and
	// open), or only to open.
	seal, open := on(symKey, "kms:GenerateDataKey", "kms:Decrypt"), on(symKey, "kms:Decrypt")
	want := map[string][]grant{
		"list-integrations": table("BatchGetItem"),
		// A new client secret goes to its store (sealed: an item and a
		// data key) and the other store's copy is deleted.
		"integration-settings": join(
			table("BatchGetItem", "PutItem", "GetItem", "UpdateItem"),
			sm(clients, "CreateSecret", "PutSecretValue", "RestoreSecret", "DeleteSecret"),
			on(symKey, "kms:GenerateDataKey")),
		"oauth-url": join(
			table("BatchGetItem", "PutItem", "GetItem"),
			sm(clients, "GetSecretValue"), sm(deployment, "GetSecretValue"), open),
		"oauth-callback": join(
			table("GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"),
			sm(clients, "GetSecretValue"), sm(deployment, "GetSecretValue"),
			sm(tokens, "GetSecretValue", "CreateSecret", "PutSecretValue", "RestoreSecret"), seal),
		"disconnect": join(
			table("GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"),
			sm(clients, "GetSecretValue"),
			sm(deployment, "GetSecretValue"),
			sm(tokens, "GetSecretValue", "DeleteSecret"), open),
		"notifications": table("Query", "UpdateItem"),
		"audit":         table("Query"),
		// The broker and the live check refresh grants (the account's
		// client or the deployment's app; tokens as new versions) and mark
		// dead ones with their notice.
		"token-broker": join(
			table("GetItem", "PutItem", "UpdateItem", "DeleteItem"),
			sm(clients, "GetSecretValue"), sm(deployment, "GetSecretValue"),
			sm(tokens, "GetSecretValue", "PutSecretValue"), seal,
			on("arn:aws:ses:REGION:ACCOUNT:identity/MAILFROM", "ses:SendEmail"),
			on("arn:aws:ses:REGION:ACCOUNT:identity/MAILIDENTITY", "ses:SendEmail"),
			on("*", "ses:GetSendQuota")),
		"connection-check": join(
			table("GetItem", "PutItem", "UpdateItem", "DeleteItem"),
			sm(clients, "GetSecretValue"), sm(deployment, "GetSecretValue"),
			sm(tokens, "GetSecretValue", "PutSecretValue"), seal,
			on("arn:aws:ses:REGION:ACCOUNT:identity/MAILFROM", "ses:SendEmail"),
			on("arn:aws:ses:REGION:ACCOUNT:identity/MAILIDENTITY", "ses:SendEmail"),
			on("*", "ses:GetSendQuota")),
		"expiry-scan": join(
			on(symTable+"/index/DueIndex", "dynamodb:Query"),
			// Scan: the token sweep's pages.
			table("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan"),
			sm(deployment, "GetSecretValue"),
			// Moving tokens and client secrets between stores after
			// USER_TOKEN_STORE changed: create or restore the secret,
			// delete the old copy.
			sm(tokens, "GetSecretValue", "PutSecretValue", "CreateSecret", "RestoreSecret", "DeleteSecret"),
			sm(clients, "GetSecretValue", "PutSecretValue", "CreateSecret", "RestoreSecret", "DeleteSecret"), seal,
			on("arn:aws:ses:REGION:ACCOUNT:identity/MAILFROM", "ses:SendEmail"),
			on("arn:aws:ses:REGION:ACCOUNT:identity/MAILIDENTITY", "ses:SendEmail"),
			on("*", "ses:GetSendQuota")),
		// The event source mapping reads the stream and fills the
		// dead-letter queue with the function's role; the code only puts
		// events, on the one bus.
		"event-publisher": join(
			on(symTable+"/stream/*", "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"),
			on("arn:aws:events:REGION:ACCOUNT:event-bus/BUS", "events:PutEvents"),
			on("arn:aws:sqs:REGION:ACCOUNT:DLQ", "sqs:SendMessage")),
	}
	got := functionGrants(t, read(t, "../../template.yaml"), symbolic())
	ids := functionIDs(t)
	seen := map[string]bool{}
	for fn, w := range want {
		id, ok := ids[fn]
		if !ok {
			t.Errorf("%s: no build target in the Makefile", fn)
			continue
		}
		seen[id] = true
		g := got[id]
		if extra := minus(g, w); len(extra) > 0 {
			t.Errorf("%s (%s) is allowed more than it needs:\n  %s", fn, id, join2(extra))
		}
		if missing := minus(w, g); len(missing) > 0 {
			t.Errorf("%s (%s) lost grants it needs:\n  %s", fn, id, join2(missing))
		}
	}
	for id := range got {
		if !seen[id] {
			t.Errorf("function %s has no pinned grants here", id)
		}
	}
	// Every function serving a route is pinned.
	for _, r := range handlers.Routes {
		if _, ok := want[r.Function]; !ok {
			t.Errorf("%s: function %s has no pinned grants", r.RouteKey(), r.Function)
		}
	}
}

// minus is what a holds that b does not.
func minus(a, b []grant) []grant {
	var out []grant
	for _, g := range a {
		if !slices.Contains(b, g) {
			out = append(out, g)
		}
	}
	return out
}

func join2(gs []grant) string {
	s := make([]string, len(gs))
	for i, g := range gs {
		s[i] = g.String()
	}
	sort.Strings(s)
	return strings.Join(s, "\n  ")
}
