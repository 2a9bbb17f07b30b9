package handlers_test

import (
	"encoding/json"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vendors"
)

// TestTemplateDeclaresDeploymentSecrets: every deployment OAuth app of the
// registry has exactly one secret in template.yaml, under the name the
// functions read it by, created with the empty placeholder, retained on
// update and delete, and given as an output; the functions' IAM reaches
// those secrets only through <prefix>/deployment/*, and only to read them.
func TestTemplateDeclaresDeploymentSecrets(t *testing.T) {
	tmpl := read(t, "../../template.yaml")
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(tmpl), &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	vals := symbolic()
	res := field(doc.Content[0], "Resources")
	byName := map[string][]string{} // secret name → logical ids
	for i := 0; i+1 < len(res.Content); i += 2 {
		id, r := res.Content[i].Value, res.Content[i+1]
		if field(r, "Type").Value != "AWS::SecretsManager::Secret" {
			continue
		}
		names := vals.resolve(t, field(field(r, "Properties"), "Name"))
		if len(names) != 1 {
			t.Fatalf("%s: Name resolves to %v", id, names)
		}
		byName[names[0]] = append(byName[names[0]], id)
	}
	outputs := map[string]bool{} // logical ids an output refers to
	outs := field(doc.Content[0], "Outputs")
	for i := 0; i+1 < len(outs.Content); i += 2 {
		if v := field(outs.Content[i+1], "Value"); v != nil && v.Tag == "!Ref" {
			outputs[v.Value] = true
		}
	}

	deploymentPattern := "arn:aws:secretsmanager:REGION:ACCOUNT:secret:" + symPrefix + "/" + vault.DeploymentDir + "/*"
	grants := functionGrants(t, tmpl, vals)
	apps := vendors.DeploymentApps()
	if len(apps) == 0 {
		t.Fatal("the registry has no deployment apps")
	}
	for _, app := range apps {
		name := vault.DeploymentSecretName(symPrefix, app)
		ids := byName[name]
		if len(ids) != 1 {
			t.Errorf("app %s: want exactly one secret named %s, have %v", app, name, ids)
			continue
		}
		id := ids[0]
		r := field(res, id)
		for _, k := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
			if p := field(r, k); p == nil || p.Value != "Retain" {
				t.Errorf("%s: %s must be Retain", id, k)
			}
		}
		var placeholder struct {
			ClientID     *string `json:"client_id"`
			ClientSecret *string `json:"client_secret"`
		}
		s := field(field(r, "Properties"), "SecretString")
		if s == nil || json.Unmarshal([]byte(s.Value), &placeholder) != nil ||
			placeholder.ClientID == nil || *placeholder.ClientID != "" || placeholder.ClientSecret == nil || *placeholder.ClientSecret != "" {
			t.Errorf(`%s: SecretString must be the placeholder {"client_id":"","client_secret":""}`, id)
		}
		if !outputs[id] {
			t.Errorf("%s: no output gives it", id)
		}

		// A secret's ARN is its name and a random suffix.
		arn := "arn:aws:secretsmanager:REGION:ACCOUNT:secret:" + name + "-AbC123"
		readers := 0
		for fn, gs := range grants {
			for _, g := range gs {
				secrets := strings.HasPrefix(g.Action, "secretsmanager:") || iamMatch(g.Action, "secretsmanager:GetSecretValue")
				if !secrets || !iamMatch(g.Resource, arn) {
					continue
				}
				if g.Resource != deploymentPattern || g.Action != "secretsmanager:GetSecretValue" {
					t.Errorf("%s: %s reaches %s (only GetSecretValue on %s may)", fn, g, name, deploymentPattern)
				}
				readers++
			}
		}
		if readers == 0 {
			t.Errorf("no function may read %s", name)
		}
	}
	if got, want := len(byName), len(apps); got != want {
		t.Errorf("template.yaml declares %d secret names, the registry has %d deployment apps: %v", got, want, byName)
	}

	// ATLASSIAN_CLIENT_SECRET_NAME, the name Confluence's (and Jira's) app
	// is read under, is the Confluence secret's.
	conf, _ := vendors.Lookup("confluence")
	env := field(field(field(field(doc.Content[0], "Globals"), "Function"), "Environment"), "Variables")
	got := vals.resolve(t, field(env, "ATLASSIAN_CLIENT_SECRET_NAME"))
	if want := vault.DeploymentSecretName(symPrefix, conf.AppID()); len(got) != 1 || got[0] != want || len(byName[want]) != 1 {
		t.Errorf("ATLASSIAN_CLIENT_SECRET_NAME is %v, want %s, the name of a declared secret", got, want)
	}
	if strings.Contains(tmpl, "create-secret") {
		t.Error("template.yaml tells the operator to create-secret: the stack creates the deployment secrets")
	}
}
