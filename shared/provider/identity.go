package provider

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	"golang.org/x/oauth2"
)

// IdentityLookup asks a vendor, with a fresh grant's access token, who
// authorized it and which sites (or tenant, or team) it covers. One per
// vendor family, in a file of its own (identity_<family>.go), which
// registers it under the name registry entries give as
// vendors.Vendor.Identity:
//
//	func init() { registerIdentity("atlassian", atlassianIdentity) }
//
// Vendors of one family share it (Jira and Confluence: "atlassian"). A
// lookup answers Who.User.ID, the vendor's stable id of the person (what
// user_mismatch compares on reconnect and change of user tells apart), and,
// for a vendor whose grants can cover several sites (Vendor.SiteChoice),
// every site in Who.Sites. Errors are VendorErrors (getJSON makes them):
// never a body or a token.
type IdentityLookup func(ctx context.Context, c *Client, tok *oauth2.Token) (Who, error)

// identities are the lookups by name; registerIdentity fills it at init.
var identities = map[string]IdentityLookup{}

// registerIdentity makes a lookup available under name. Two lookups of one
// name are a programming error.
func registerIdentity(name string, lookup IdentityLookup) {
	if _, dup := identities[name]; dup || name == "" || lookup == nil {
		panic("provider: identity lookup " + name + " registered twice or empty")
	}
	identities[name] = lookup
}

// HasIdentity reports whether an identity lookup is registered under name
// (every registry entry's Identity must be).
func HasIdentity(name string) bool {
	_, ok := identities[name]
	return ok
}

// getJSON GETs a vendor API with the access token and decodes the answer.
func (c *Client) getJSON(ctx context.Context, rawURL string, tok *oauth2.Token, out any) error {
	return c.callJSON(ctx, http.MethodGet, rawURL, tok, out)
}

// callJSON calls a vendor API without a body (GET, or POST for an RPC
// without arguments) with the access token and decodes the answer.
func (c *Client) callJSON(ctx context.Context, method, rawURL string, tok *oauth2.Token, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	tok.SetAuthHeader(req)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return &VendorError{Status: resp.StatusCode, Cause: "identity lookup"}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return &VendorError{Cause: "identity lookup: unreadable answer"}
	}
	return nil
}
