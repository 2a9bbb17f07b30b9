package localserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/integrations"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/vendors"
)

// A vendor is data: one registry entry (here a synthetic file-storage
// vendor that never expires, speaking Atlassian's dialect) is served by
// the whole local server with nothing else added — its deployment app's
// credentials seeded, its endpoints pointed at the sandbox, listed under
// type=fileStorage, connected, never warned, and found dead by the scan's
// idle check once revoked at the vendor.
func TestLocalVendorIsData(t *testing.T) {
	sandboxtest.Synthetic(t, "confluence", "dropbox-like", "Dropbox (synthetic)", vendors.TypeFileStorage,
		vendors.RefreshPolicy{NeverExpires: true, AccessTTL: 4 * time.Hour})
	e := newEnv(t, nil)

	raw, err := e.deps.Vault.Get(context.Background(), "connections/deployment/dropbox-like/client", "")
	if err != nil {
		t.Fatalf("the deployment app's credentials were not seeded: %v", err)
	}
	var creds provider.Credentials
	if err := json.Unmarshal(raw, &creds); err != nil || creds.ClientID != "sandbox-dropbox-like-app" {
		t.Fatalf("seeded credentials: %v, client id %q", err, creds.ClientID)
	}
	e.secret(creds.ClientSecret, "the synthetic app's client secret")

	views := e.list(ada, "?type=fileStorage")
	if ids := idsOf(views); !slices.Equal(ids, vendors.IDs(vendors.OfType(vendors.TypeFileStorage))) || !slices.Contains(ids, "dropbox-like") {
		t.Fatalf("type=fileStorage lists %v", ids)
	}
	e.connect(ada, "dropbox-like", "app", "", nil)
	c := e.stored(connection.AppKey("a1", "dropbox-like"))
	if !c.RefreshTokenExpiresAt.IsZero() || !c.NextCheckAt.Equal(t0.Add(30*day)) {
		t.Fatalf("a grant that never expires: refresh expiry %v, next check %v", c.RefreshTokenExpiresAt, c.NextCheckAt)
	}

	e.clock.Set(t0.Add(day))
	e.want(e.call(http.MethodPost, "/_sandbox/dropbox-like/revoke?user=admin", nil, ""), http.StatusNoContent, "revoke at the vendor")
	if rep := e.scan(t0.Add(29 * day)); rep.Checked != 0 {
		t.Fatalf("checked before its idle check: %+v", rep)
	}
	rep := e.scan(t0.Add(30 * day))
	if rep.Checked != 1 || rep.Expired != 1 || rep.Notices != 1 {
		t.Fatalf("the idle check: %+v", rep)
	}
	ns := e.notifications(ada)
	if len(ns) != 1 || ns[0].Kind != connection.NoticeDisconnected {
		t.Fatalf("notifications %+v", ns)
	}
	if v := find(e, e.list(ada, ""), "dropbox-like"); !v.RefreshTokenExpired || v.Status != connection.StatusExpired {
		t.Fatalf("listed %+v", v)
	}
	e.assertNoLeaks()
}

// idsOf are the vendors of a list, in its order.
func idsOf(views []integrations.View) []string {
	ids := make([]string, 0, len(views))
	for _, v := range views {
		ids = append(ids, v.Vendor)
	}
	return ids
}
