// Package vaulttest is the contract every vault.Vault must meet. Run it
// against each implementation (memvault, secretsvault on moto) so that the
// in-memory twin and the real adapter cannot drift apart.
package vaulttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/shared/vault"
)

// Run runs the contract as subtests. newVault is called once per subtest.
// Every subtest uses names under its own random prefix, so the backend may
// be shared between subtests, tests and runs (secrets scheduled for
// deletion linger for days in Secrets Manager).
func Run(t *testing.T, newVault func(t *testing.T) vault.Vault) {
	t.Helper()
	RunUnder(t, func(t *testing.T, _ string) vault.Vault { return newVault(t) })
}

// RunUnder is Run for a vault that treats names by their prefix (a
// vault.Router): newVault learns the subtest's prefix, under which the
// user-level token names are <prefix>/tokens/<account>/<vendor>/user/<id>
// (vault.UserTokenName) and the others are not.
func RunUnder(t *testing.T, newVault func(t *testing.T, prefix string) vault.Vault) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := uniquePrefix()
			c.fn(t, newVault(t, p), p)
		})
	}
}

// Cases is the number of subtests Run runs.
func Cases() int { return len(cases) }

type contractCase struct {
	name string
	fn   func(t *testing.T, v vault.Vault, prefix string)
}

var cases = []contractCase{
	{"PutThenGetCurrent", putThenGetCurrent},
	{"OverwriteKeepsOldVersion", overwriteKeepsOldVersion},
	{"UnknownNameIsNotFound", unknownNameIsNotFound},
	{"UnknownVersionIsNotFound", unknownVersionIsNotFound},
	{"DeleteThenGetIsNotFound", deleteThenGetIsNotFound},
	{"DeleteMissingIsNil", deleteMissingIsNil},
	{"PutAfterDeleteRestores", putAfterDeleteRestores},
	{"TokensRoundTrip", tokensRoundTrip},
	{"ConcurrentPuts", concurrentPuts},
	{"NamesWithSlashes", namesWithSlashes},
	{"InvalidNameRefused", invalidNameRefused},
	{"ValueSizeLimit", valueSizeLimit},
	{"ValuesAreCopies", valuesAreCopies},
}

const userSecret = "tokens/acct-1/servicenow/user/u-9"

func putThenGetCurrent(t *testing.T, v vault.Vault, p string) {
	name := p + "/" + userSecret
	val := []byte(`{"access_token":"a1","refresh_token":"r1"}`)
	id := mustPut(t, v, name, val)
	if id == "" {
		t.Fatal("Put returned an empty version id")
	}
	expectValue(t, v, name, "", val)
	expectValue(t, v, name, id, val)
}

func overwriteKeepsOldVersion(t *testing.T, v vault.Vault, p string) {
	name := p + "/" + userSecret
	v1, v2 := []byte(`{"n":1}`), []byte(`{"n":2}`)
	id1 := mustPut(t, v, name, v1)
	id2 := mustPut(t, v, name, v2)
	if id1 == id2 {
		t.Fatalf("two Puts returned the same version id %q", id1)
	}
	expectValue(t, v, name, "", v2)
	expectValue(t, v, name, id1, v1)
	expectValue(t, v, name, id2, v2)
}

func unknownNameIsNotFound(t *testing.T, v vault.Vault, p string) {
	name := p + "/never/written"
	expectNotFound(t, v, name, "")
	expectNotFound(t, v, name, fakeVersion())
}

func unknownVersionIsNotFound(t *testing.T, v vault.Vault, p string) {
	name := p + "/" + userSecret
	mustPut(t, v, name, []byte(`{"n":1}`))
	expectNotFound(t, v, name, fakeVersion()) // well-formed, never issued
	expectNotFound(t, v, name, "nope")        // not even the shape of one
}

func deleteThenGetIsNotFound(t *testing.T, v vault.Vault, p string) {
	ctx := context.Background()
	name := p + "/" + userSecret
	id := mustPut(t, v, name, []byte(`{"n":1}`))
	if err := v.Delete(ctx, name, 7); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	expectNotFound(t, v, name, "")
	expectNotFound(t, v, name, id)
	if err := v.Delete(ctx, name, 7); err != nil {
		t.Fatalf("Delete of a secret already scheduled for deletion: %v, want nil", err)
	}
	expectNotFound(t, v, name, "")
}

func deleteMissingIsNil(t *testing.T, v vault.Vault, p string) {
	ctx := context.Background()
	// Recovery windows outside 7..30 days are clamped, not refused.
	for _, days := range []int{7, 30, 0, -1, 365} {
		if err := v.Delete(ctx, fmt.Sprintf("%s/tokens/acct-1/box/user/missing-%d", p, days), days); err != nil {
			t.Errorf("Delete(missing, %d days) = %v, want nil", days, err)
		}
	}
	name := p + "/tokens/acct-1/box/user/clamped"
	mustPut(t, v, name, []byte(`{"n":1}`))
	if err := v.Delete(ctx, name, 0); err != nil {
		t.Fatalf("Delete(existing, 0 days) = %v, want nil (clamped to 7)", err)
	}
	expectNotFound(t, v, name, "")
}

func putAfterDeleteRestores(t *testing.T, v vault.Vault, p string) {
	ctx := context.Background()
	name := p + "/" + userSecret
	v1, v2 := []byte(`{"n":1}`), []byte(`{"n":2}`)
	id1 := mustPut(t, v, name, v1)
	if err := v.Delete(ctx, name, 30); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	id2 := mustPut(t, v, name, v2)
	if id1 == id2 {
		t.Fatalf("Put after Delete reused version id %q", id1)
	}
	expectValue(t, v, name, "", v2)
	expectValue(t, v, name, id2, v2)
	expectValue(t, v, name, id1, v1) // restored with its history
}

func tokensRoundTrip(t *testing.T, v vault.Vault, p string) {
	ctx := context.Background()
	name := p + "/tokens/acct-1/confluence/user/u-1"
	zone := time.FixedZone("UTC+2", 2*60*60)
	want := vault.Tokens{
		AccessToken:           "at-é-" + strings.Repeat("x", 40),
		RefreshToken:          "rt-1",
		TokenType:             "Bearer",
		RotatedFrom:           "a-previous-version",
		AccessTokenExpiresAt:  time.Date(2027, 1, 30, 10, 0, 0, 123456789, zone),
		RefreshTokenExpiresAt: time.Date(2027, 5, 10, 10, 0, 0, 0, time.UTC),
		Scope:                 "offline_access read:me",
	}
	id, err := vault.PutTokens(ctx, v, name, want)
	if err != nil {
		t.Fatalf("PutTokens: %v", err)
	}
	second := want
	second.AccessToken, second.RefreshToken = "at-2", ""
	second.RefreshTokenExpiresAt = time.Time{}
	if _, err := vault.PutTokens(ctx, v, name, second); err != nil {
		t.Fatalf("PutTokens: %v", err)
	}
	for _, c := range []struct {
		version string
		want    vault.Tokens
	}{{id, want}, {"", second}} {
		got, err := vault.GetTokens(ctx, v, name, c.version)
		if err != nil {
			t.Fatalf("GetTokens(%q): %v", c.version, err)
		}
		if !tokensEqual(got, c.want) {
			t.Errorf("GetTokens(%q) = %+v, want %+v", c.version, got, c.want)
		}
	}
}

func concurrentPuts(t *testing.T, v vault.Vault, p string) {
	ctx := context.Background()
	name := p + "/" + userSecret // never written: the Puts race to create it
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ids[i], errs[i] = v.Put(ctx, name, value(i))
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent Put %d: %v", i, errs[i])
		}
		if seen[ids[i]] {
			t.Fatalf("concurrent Puts returned version id %q twice", ids[i])
		}
		seen[ids[i]] = true
	}
	cur, err := v.Get(ctx, name, "")
	if err != nil {
		t.Fatalf("Get current: %v", err)
	}
	found := false
	for i := range n {
		found = found || bytes.Equal(cur, value(i))
		expectValue(t, v, name, ids[i], value(i))
	}
	if !found {
		t.Errorf("current value %s is none of the values put", cur)
	}
}

func value(i int) []byte { return fmt.Appendf(nil, `{"writer":%d}`, i) }

func namesWithSlashes(t *testing.T, v vault.Vault, p string) {
	ctx := context.Background()
	names := []string{
		p + "/" + userSecret,
		p + "/tokens/acct-1/servicenow/user/u-90",
		p + "/tokens/acct-1/servicenow/app",
		p + "/tokens/acct-1/servicenow",
		p + "/tokens/acct-2/servicenow/user/u-9",
	}
	for i, n := range names {
		mustPut(t, v, n, value(i))
	}
	for i, n := range names {
		expectValue(t, v, n, "", value(i))
	}
	if err := v.Delete(ctx, names[0], 7); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	expectNotFound(t, v, names[0], "")
	for i, n := range names[1:] {
		expectValue(t, v, n, "", value(i+1))
	}
	expectNotFound(t, v, p+"/tokens/acct-1", "")
}

func invalidNameRefused(t *testing.T, v vault.Vault, p string) {
	ctx := context.Background()
	for _, name := range []string{
		p + "/tokens/acct-1/servicenow/user/auth0|123", // JWT subs look like this
		p + "/with space",
		p + "/" + strings.Repeat("n", vault.MaxNameLen),
		"",
	} {
		_, err := v.Put(ctx, name, []byte(`{"n":1}`))
		if !errors.Is(err, vault.ErrInvalid) {
			t.Errorf("Put(%.40q…) = %v, want vault.ErrInvalid", name, err)
		}
		expectNotFound(t, v, name, "")
		if err := v.Delete(ctx, name, 7); err != nil {
			t.Errorf("Delete(%.40q…) = %v, want nil", name, err)
		}
	}
}

func valueSizeLimit(t *testing.T, v vault.Vault, p string) {
	ctx := context.Background()
	name := p + "/tokens/acct-1/box/user/big"
	big := bytes.Repeat([]byte("a"), vault.MaxValueSize)
	mustPut(t, v, name, big)
	expectValue(t, v, name, "", big)
	tooBig := bytes.Repeat([]byte("b"), vault.MaxValueSize+1)
	if _, err := v.Put(ctx, name, tooBig); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("Put(%d bytes) = %.80v, want vault.ErrInvalid", len(tooBig), err)
	}
	if _, err := v.Put(ctx, name, nil); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("Put(empty) = %v, want vault.ErrInvalid", err)
	}
	expectValue(t, v, name, "", big)
}

func valuesAreCopies(t *testing.T, v vault.Vault, p string) {
	ctx := context.Background()
	name := p + "/tokens/acct-1/box/user/copies"
	in := []byte(`{"n":1}`)
	id := mustPut(t, v, name, in)
	in[2] = 'X'
	got, err := v.Get(ctx, name, id)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got[2] = 'Y'
	expectValue(t, v, name, id, []byte(`{"n":1}`))
}

func mustPut(t *testing.T, v vault.Vault, name string, val []byte) string {
	t.Helper()
	id, err := v.Put(context.Background(), name, val)
	if err != nil {
		t.Fatalf("Put(%s): %v", name, err)
	}
	return id
}

func expectValue(t *testing.T, v vault.Vault, name, version string, want []byte) {
	t.Helper()
	got, err := v.Get(context.Background(), name, version)
	if err != nil {
		t.Fatalf("Get(%s, %q): %v", name, version, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%s, %q) = %.60q, want %.60q", name, version, got, want)
	}
}

func expectNotFound(t *testing.T, v vault.Vault, name, version string) {
	t.Helper()
	got, err := v.Get(context.Background(), name, version)
	if !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("Get(%.60s, %q) = %.40q, %v; want vault.ErrNotFound", name, version, got, err)
	}
}

func tokensEqual(a, b vault.Tokens) bool {
	return a.AccessToken == b.AccessToken && a.RefreshToken == b.RefreshToken &&
		a.TokenType == b.TokenType && a.Scope == b.Scope && a.RotatedFrom == b.RotatedFrom &&
		a.AccessTokenExpiresAt.Equal(b.AccessTokenExpiresAt) &&
		a.RefreshTokenExpiresAt.Equal(b.RefreshTokenExpiresAt)
}

// fakeVersion is shaped like a version id (a UUID) but was never issued.
func fakeVersion() string { return vault.NewVersionID() }

func uniquePrefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "vaulttest-" + hex.EncodeToString(b)
}
