package provider

import (
	"context"
	"strings"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
)

func init() { registerIdentity("google", googleIdentity) }

// googleIdentity reads OpenID Connect's userinfo: sub, the account's id, and
// hd, its Workspace domain, the grant's one site (none for a personal account)
// (https://developers.google.com/identity/openid-connect/openid-connect#an-id-tokens-payload).
func googleIdentity(ctx context.Context, c *Client, tok *oauth2.Token) (Who, error) {
	var u struct{ Sub, Name, Email, HD string } // JSON keys sub, name, email, hd
	if err := c.getJSON(ctx, c.endpoint("{openidconnect}/v1/userinfo"), tok, &u); err != nil {
		return Who{}, err
	}
	if u.Sub == "" {
		return Who{}, &VendorError{Cause: "identity lookup: no sub"}
	}
	w := Who{User: connection.Identity{ID: u.Sub, Name: u.Name, Email: u.Email}}
	if hd := strings.ToLower(u.HD); hd != "" {
		w.Sites = []Site{{ID: hd, Name: hd}}
	}
	return w, nil
}
