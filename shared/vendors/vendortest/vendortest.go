// Package vendortest lets tests change the vendor registry: add a
// synthetic vendor (a refresh policy no real vendor has yet), or replace a
// real one's entry (a registry that later requires more scopes).
//
// It is for tests only: no production code imports it.
package vendortest

import (
	"slices"
	"testing"

	"github.com/workplace/connections/shared/vendors"
)

// Use puts vs in vendors.Registry until the test ends: each replaces the
// entry of its id, or is appended (in the order given). Each must have a
// valid refresh policy.
//
// The registry is a package variable that every use case reads, so Use
// refuses to run in a parallel test (it calls tb.Setenv, which panics
// there): no other test of the package reads the registry meanwhile.
func Use(tb testing.TB, vs ...vendors.Vendor) {
	tb.Helper()
	tb.Setenv("VENDORTEST_REGISTRY_CHANGED", "1")
	for _, v := range vs {
		if err := v.Refresh.Check(); err != nil {
			tb.Fatalf("vendor %s: refresh policy: %v", v.ID, err)
		}
	}
	saved := vendors.Registry
	next := slices.Clone(saved)
	for _, v := range vs {
		if i := slices.IndexFunc(next, func(o vendors.Vendor) bool { return o.ID == v.ID }); i >= 0 {
			next[i] = v
		} else {
			next = append(next, v)
		}
	}
	vendors.Registry = next
	tb.Cleanup(func() { vendors.Registry = saved })
}

// Entry is a copy of the registry's entry of id (the test fails without
// one), safe to change: its slices and maps are its own.
func Entry(tb testing.TB, id string) vendors.Vendor {
	tb.Helper()
	v, ok := vendors.Lookup(id)
	if !ok {
		tb.Fatalf("no vendor %q in the registry", id)
	}
	v.Scopes = slices.Clone(v.Scopes)
	v.RequiredScopes = slices.Clone(v.RequiredScopes)
	v.InstanceHosts = slices.Clone(v.InstanceHosts)
	v.Refusals = slices.Clone(v.Refusals)
	bases, params := map[string]string{}, map[string]string{}
	for k, b := range v.Bases {
		bases[k] = b
	}
	for k, p := range v.AuthParams {
		params[k] = p
	}
	v.Bases, v.AuthParams = bases, params
	return v
}
