package sandboxtest

import (
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox"
	"github.com/workplace/connections/shared/vendors"
	"github.com/workplace/connections/shared/vendors/vendortest"
)

// Synthetic adds, until the test ends, a vendor that is like (a registry
// vendor the sandbox speaks) in every way but its id, name, type and
// refresh policy p: in the registry (vendortest.Use, with its own
// deployment app) and in the sandbox, whose tokens for it live as p says
// (Rules). It returns the registry entry.
//
// It walks a refresh policy through the real service and a vendor that
// keeps it, before any real vendor has that policy. Call it before
// StartSandbox and NewService (they take the vendors there are), and never
// in a parallel test.
func Synthetic(tb testing.TB, like, id, name string, typ vendors.Type, p vendors.RefreshPolicy) vendors.Vendor {
	tb.Helper()
	v := vendortest.Entry(tb, like)
	v.ID, v.Name, v.Type, v.Refresh, v.App = id, name, typ, p, ""
	vendortest.Use(tb, v)
	rules, l := Rules(p)
	tb.Cleanup(sandbox.Speak(id, like, rules, l))
	return v
}

// Rules are the sandbox rules and lifetimes of a vendor that keeps policy
// p exactly: a rotating one retires each refresh token when it is used
// (at once when single use; else after a 10-minute leeway, Atlassian's),
// an inactivity window counts from the last use, a lifespan from the
// authorization, and an absolute limit applies when p has one.
func Rules(p vendors.RefreshPolicy) (sandbox.Rules, sandbox.Lifetimes) {
	r := sandbox.Rules{Rotates: p.Rotating, Absolute: p.Absolute > 0}
	if p.Rotating && !p.SingleUse {
		r.ReuseLeeway = 10 * time.Minute
	}
	l := sandbox.Lifetimes{Access: p.AccessTTL, Absolute: p.Absolute}
	switch {
	case p.NeverExpires:
		r.Expiry = sandbox.ExpiryNever
	case p.Extendable():
		r.Expiry, l.Refresh = sandbox.ExpiryInactivity, p.Inactivity
	default:
		r.Expiry, l.Refresh = sandbox.ExpiryLifespan, p.Lifespan
	}
	return r, l
}
