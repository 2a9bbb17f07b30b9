package provider_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vendors"
)

// A deployment app's secret as the stack creates it (the empty
// placeholder) is "not configured", like no secret at all; once the
// operator puts the credentials in it, the client is built.
func TestDeploymentAppPlaceholderIsNotConfigured(t *testing.T) {
	ctx := context.Background()
	for _, id := range []string{"confluence", "jira", "dropbox"} {
		v, ok := vendors.Lookup(id)
		if !ok || v.Credentials != vendors.Deployment {
			t.Fatalf("%s: not a vendor with deployment credentials", id)
		}
		name := "p/deployment/" + v.AppID() + "/client"
		for _, tc := range []struct {
			what, value string // value "" stores no secret
		}{
			{"no secret", ""},
			{"the stack's placeholder", `{"client_id":"","client_secret":""}`},
			{"no client_id", `{"client_secret":"s"}`},
		} {
			mv := memvault.New()
			if tc.value != "" {
				if _, err := mv.Put(ctx, name, []byte(tc.value)); err != nil {
					t.Fatal(err)
				}
			}
			f := &provider.Factory{Vault: mv, DeploymentSecrets: map[string]string{v.AppID(): name}}
			_, err := f.Client(ctx, v, nil, "")
			var p *problem.Problem
			if !errors.As(err, &p) || p.Status != http.StatusConflict || p.Code != "not_configured" ||
				p.Message != "this deployment has no "+v.Name+" app credentials" {
				t.Errorf("%s, %s: got %v, want 409 not_configured", id, tc.what, err)
			}
		}

		mv := memvault.New()
		if _, err := mv.Put(ctx, name, []byte(`{"client_id":"cid","client_secret":"s"}`)); err != nil {
			t.Fatal(err)
		}
		f := &provider.Factory{Vault: mv, DeploymentSecrets: map[string]string{v.AppID(): name}}
		if _, err := f.Client(ctx, v, nil, ""); err != nil {
			t.Errorf("%s with its credentials put: %v", id, err)
		}
	}
}
