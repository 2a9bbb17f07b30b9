package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/lifetime"
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
func (f *Factory) Refresh(ctx context.Context, c *connection.Connection, now time.Time) (vault.Tokens, error) {
	v, ok := vendors.Lookup(c.Vendor)
	if !ok {
		return vault.Tokens{}, fmt.Errorf("connection of an unknown vendor %q", c.Vendor)
	}
	client, err := f.ForConnection(ctx, *c)
	if err != nil {
		return vault.Tokens{}, err
	}
	toks, err := vault.GetTokens(ctx, f.Vault, c.SecretName, c.SecretVersion)
	if err != nil {
		return vault.Tokens{}, fmt.Errorf("read tokens: %w", err)
	}
	tok, err := client.Refresh(ctx, toks.RefreshToken)
	if errors.Is(err, ErrRefused) {
		// An earlier refresh may have stored rotated tokens and failed before
		// pointing the connection at them: adopt that version — only one a
		// refresh of this very version wrote, never tokens of a refused or
		// losing authorization (which may be another vendor user's).
		cur, cerr := vault.GetTokens(ctx, f.Vault, c.SecretName, "")
		if cerr != nil || cur.RefreshToken == "" || cur.RefreshToken == toks.RefreshToken || cur.RotatedFrom != c.SecretVersion {
			return vault.Tokens{}, err
		}
		if tok, err = client.Refresh(ctx, cur.RefreshToken); err != nil {
			return vault.Tokens{}, err
		}
	}
	if err != nil {
		return vault.Tokens{}, err
	}
	exp := lifetime.Refreshed(v, *c, tok, now)
	rotated := exp.Tokens(tok)
	if rotated.Scope == "" {
		rotated.Scope = toks.Scope
	}
	rotated.RotatedFrom = c.SecretVersion
	version, err := vault.PutTokens(ctx, f.Vault, c.SecretName, rotated)
	if err != nil {
		return vault.Tokens{}, fmt.Errorf("store rotated tokens: %w", err)
	}
	c.SecretVersion = version
	exp.Apply(c)
	c.LastRefreshedAt = now
	c.VendorErrorSince = time.Time{}
	return rotated, nil
}
