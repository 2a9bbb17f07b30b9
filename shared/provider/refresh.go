package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/lifetime"
	"github.com/workplace/connections/shared/logctx"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vendors"
)

// Refresh renews the grant of connection c, whose lease the caller holds:
// it refreshes at the vendor, stores the rotated tokens as a new secret
// version before anything uses them, and points c at that version with its
// new expiries (the caller saves c). It returns the stored tokens.
//
// A dead grant is ErrRefused; anything else (outage, timeout, bad client
// secret, a vault error) is a plain error and c is left unchanged.
//
// Vendors that rotate refresh tokens take a rotated-away token back only
// for a short leeway; presented later it is taken as stolen and the whole
// grant ends (Atlassian: 10 minutes,
// https://community.developer.atlassian.com/t/updated-31-january-2022-action-required-deprecating-persistent-refresh-tokens/54172).
// So a refresh never presents a token that an earlier refresh of c
// replaced, and a refresh that failed after the vendor may have rotated
// the token (its answer lost, or the vault write failed) is tried once
// more at once, inside the leeway, rather than by the next run, past it.
//
// A single-use token (Box: no leeway) is spent as soon as the vendor
// answers: when that answer is lost the grant is lost with it (the new
// token is only in the answer), and the retry, presenting the spent
// token, is refused and finds the grant dead in the same run. So the
// rotated tokens, once in hand, are written to the vault twice if need
// be before anything is presented again, and the retry presents a write
// whose answer was lost (RotatedFrom); for a single-use grant the second
// vendor call helps only when the first never reached the vendor or was
// answered without a rotation (an outage).
func (f *Factory) Refresh(ctx context.Context, c *connection.Connection, now time.Time) (vault.Tokens, error) {
	v, ok := vendors.Lookup(c.Vendor)
	if !ok {
		return vault.Tokens{}, fmt.Errorf("connection of an unknown vendor %q", c.Vendor)
	}
	client, err := f.ForConnection(ctx, *c)
	if err != nil {
		return vault.Tokens{}, err
	}
	rotated, version, exp, err := f.refresh(ctx, v, client, *c, now)
	if err != nil && v.Refresh.Rotating && !errors.Is(err, ErrRefused) {
		rotated, version, exp, err = f.refresh(ctx, v, client, *c, now)
	}
	if err != nil {
		return vault.Tokens{}, err
	}
	c.SecretVersion = version
	exp.Apply(c)
	if sc := strings.Join(strings.Fields(rotated.Scope), " "); sc != "" {
		// The vendor's word on what the grant covers now (or, when its
		// answer says nothing, the last one stored): a connection stored
		// before scopes were recorded learns them here.
		c.GrantedScope = sc
	}
	c.LastRefreshedAt = now
	c.VendorErrorSince = time.Time{}
	return rotated, nil
}

// refresh is one attempt: read the tokens to present, refresh at the
// vendor, store what it answered.
func (f *Factory) refresh(ctx context.Context, v vendors.Vendor, client *Client, c connection.Connection, now time.Time) (vault.Tokens, string, lifetime.Expiries, error) {
	toks, err := vault.GetTokens(ctx, f.Vault, c.SecretName, c.SecretVersion)
	if err != nil {
		return vault.Tokens{}, "", lifetime.Expiries{}, fmt.Errorf("read tokens: %w", err)
	}
	// An earlier refresh may have stored rotated tokens and failed before
	// pointing the connection at them: present those (the token they
	// replaced may end the grant) — only ones a refresh of this very
	// version wrote, never tokens of a refused or losing authorization
	// (which may be another vendor user's).
	if cur, err := vault.GetTokens(ctx, f.Vault, c.SecretName, ""); err == nil &&
		cur.RotatedFrom == c.SecretVersion && cur.RefreshToken != "" {
		toks.RefreshToken = cur.RefreshToken
	}
	tok, err := client.Refresh(ctx, toks.RefreshToken)
	if err != nil {
		return vault.Tokens{}, "", lifetime.Expiries{}, err
	}
	exp := lifetime.Refreshed(v, c, tok, now)
	rotated := exp.Tokens(tok)
	if rotated.Scope == "" {
		rotated.Scope = toks.Scope
	}
	rotated.RotatedFrom = c.SecretVersion
	// Twice, with the tokens in hand, before anything is presented again:
	// presenting the replaced token again ends a single-use grant (Box).
	var version string
	for try := 0; try < 2; try++ {
		if version, err = vault.PutTokens(ctx, f.Vault, c.SecretName, rotated); err == nil {
			return rotated, version, exp, nil
		}
		// The write may have happened with its answer lost.
		logctx.From(ctx, nil).WarnContext(ctx, "rotated tokens not stored; a secret version nothing uses may have been written",
			"secret", c.SecretName, "error", err.Error())
	}
	return vault.Tokens{}, "", lifetime.Expiries{}, fmt.Errorf("store rotated tokens: %w", err)
}
