package expiry_test

import (
	"net/http"
	"testing"

	"github.com/workplace/connections/shared/faulttest"
	"github.com/workplace/connections/shared/store/memstore"
)

// TestRotationNotKept: a keep-alive whose rotated tokens the service did
// not get or could not store (the vendor's answer lost, the vault write
// failed) is tried again in the same run, inside the vendor's reuse
// leeway: the grant lives on, rather than being presented a day later an
// old token the vendor then takes as stolen.
func TestRotationNotKept(t *testing.T) {
	for name, fault := range map[string]struct {
		call string
		kind faulttest.Kind
	}{
		"token answer lost": {"http POST /_sandbox/confluence/oauth/token", faulttest.LostAnswer},
		"vault write fails": {"vault.Put", faulttest.Fail},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, memstore.New())
			c := e.connectApp("confluence")
			inj := faulttest.New()
			e.svc.Clients.HTTP = &http.Client{Transport: inj.Transport(e.sandbox.Server.Client().Transport)}
			e.svc.Clients.Vault = inj.Vault(e.vault)
			inj.ArmFirst(fault.call, fault.kind)
			rep := e.run(at(50))
			if rep.Refreshed != 1 || rep.Expired != 0 {
				t.Fatalf("report %+v", rep)
			}
			if _, ok := inj.Injected(); !ok {
				t.Fatal("nothing failed")
			}
			cur := e.conn(c.Key)
			e.clock.Set(at(51)) // long past the leeway
			if _, live := e.sandbox.Vendor.RefreshTokenUser(e.tokens(cur).RefreshToken); !live || cur.Expired {
				t.Fatalf("after the scan: expired %v, stored token works %v", cur.Expired, live)
			}
			if rep := e.run(at(100)); rep.Refreshed != 1 || rep.Expired != 0 {
				t.Fatalf("the next keep-alive: %+v", rep)
			}
		})
	}
}
