package vault_test

import (
	"testing"

	"github.com/workplace/connections/shared/vault"
)

// TestSecretNamesKeepKindsApart: tokens, account client secrets and the
// deployment's app credentials each live under their own prefix, whatever
// the ids (IAM grants each function only the prefixes it uses), every name
// is one Secrets Manager accepts, and no two different secrets share a name.
func TestSecretNamesKeepKindsApart(t *testing.T) {
	const prefix = "connections"
	// Ids chosen to walk into another kind's prefix or segment: the kind
	// names themselves, separators, traversal, escapes, wildcards.
	ids := []string{
		"a1", "deployment", "clients", "tokens", "client", "app", "user",
		"..", ".", "a/b", "deployment/confluence", "../clients/a1", "x/../../deployment",
		"a=2Fb", "=", "auth0|123", "*", "?", "a b", "é", "",
	}
	vendors := []string{"servicenow", "confluence", "deployment", "a/b"}
	kinds := map[string]string{} // name → what it is
	add := func(t *testing.T, kind, name, what string) {
		t.Helper()
		if err := vault.CheckName(name); err != nil {
			t.Errorf("%s: %v", what, err)
		}
		for _, k := range []string{vault.TokensDir, vault.ClientsDir, vault.DeploymentDir} {
			if got := vault.Under(prefix, k, name); got != (k == kind) {
				t.Errorf("%s: %q under %s/%s/ is %v", what, name, prefix, k, got)
			}
		}
		if prev, ok := kinds[name]; ok {
			t.Errorf("%s and %s share the name %q", prev, what, name)
		}
		kinds[name] = what
	}
	for _, v := range vendors {
		add(t, vault.DeploymentDir, vault.DeploymentSecretName(prefix, v), "deployment app of "+v)
		for _, a := range ids {
			add(t, vault.ClientsDir, vault.ClientSecretName(prefix, a, v), "client secret of "+a+"/"+v)
			add(t, vault.TokensDir, vault.ConnectionSecretName(prefix, a, v, "app", ""), "app tokens of "+a+"/"+v)
			for _, u := range ids {
				add(t, vault.TokensDir, vault.ConnectionSecretName(prefix, a, v, "user", u), "user tokens of "+a+"/"+v+"/"+u)
			}
		}
	}
	// The default name of the Atlassian app, as the README tells operators
	// to create it.
	if got := vault.DeploymentSecretName(prefix, "confluence"); got != "connections/deployment/confluence/client" {
		t.Errorf("deployment secret of confluence is %q", got)
	}
}
