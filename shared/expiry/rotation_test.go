package expiry_test

import (
	"net/http"
	"testing"

	"github.com/workplace/connections/shared/connection"
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

// TestSingleUseRotation: Box's refresh tokens are single use, with no
// reuse leeway. A keep-alive whose first attempt never reached Box, or
// whose rotated tokens the vault did not take at once (failed, or taken
// with the answer lost), keeps the grant: the write is tried again with
// the tokens in hand, and nothing spent is presented. One whose answer Box
// sent but the service never got has lost the grant with it (the new token
// exists only in the lost answer): the retry presents the spent token, Box
// refuses it, and the connection is found dead in the same run, with its
// notice, instead of lingering as connected.
func TestSingleUseRotation(t *testing.T) {
	const token = "http POST /_sandbox/box/oauth2/token"
	for name, tc := range map[string]struct {
		call  string
		kind  faulttest.Kind
		alive bool
	}{
		"token request never sent": {token, faulttest.Fail, true},
		"vault write fails":        {"vault.Put", faulttest.Fail, true},
		"vault write answer lost":  {"vault.Put", faulttest.LostAnswer, true},
		"token answer lost":        {token, faulttest.LostAnswer, false},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, memstore.New())
			c := e.connectApp("box")
			inj := faulttest.New()
			e.svc.Clients.HTTP = &http.Client{Transport: inj.Transport(e.sandbox.Server.Client().Transport)}
			e.svc.Clients.Vault = inj.Vault(e.vault)
			inj.ArmFirst(tc.call, tc.kind)
			rep := e.run(at(30))
			if _, ok := inj.Injected(); !ok {
				t.Fatal("nothing failed")
			}
			cur := e.conn(c.Key)
			_, live := e.sandbox.Vendor.RefreshTokenUser(e.tokens(cur).RefreshToken)
			if !tc.alive {
				if rep.Expired != 1 || !cur.Expired || live {
					t.Fatalf("report %+v; expired %v, stored token works %v", rep, cur.Expired, live)
				}
				if ns := e.notices(manager); len(ns) != 1 || ns[0].Kind != connection.NoticeDisconnected {
					t.Fatalf("notices %+v", ns)
				}
				return
			}
			if rep.Refreshed != 1 || rep.Expired != 0 || cur.Expired || !live {
				t.Fatalf("report %+v; expired %v, stored token works %v", rep, cur.Expired, live)
			}
			if rep := e.run(at(60)); rep.Refreshed != 1 || rep.Expired != 0 {
				t.Fatalf("the next keep-alive: %+v", rep)
			}
		})
	}
}
