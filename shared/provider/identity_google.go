package provider

import (
	"context"
	"strings"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
)

func init() { registerIdentity("google", googleIdentity) }

// googleIdentity reads OpenID Connect's userinfo: sub, Google's stable id
// of the account ("never reused"), and hd, the Google Workspace domain, as
// the grant's one site; a personal account has none
// (https://developers.google.com/identity/openid-connect/openid-connect#an-id-tokens-payload).
func googleIdentity(ctx context.Context, c *Client, tok *oauth2.Token) (Who, error) {
	var u struct {
		Sub   string `json:"sub"`
		Name  string `json:"name"`
		Email string `json:"email"`
		HD    string `json:"hd"`
	}
	if err := c.getJSON(ctx, c.endpoint("{openidconnect}/v1/userinfo"), tok, &u); err != nil {
		return Who{}, err
	}
	if u.Sub == "" {
		return Who{}, &VendorError{Cause: "identity lookup: no sub"}
	}
	w := Who{User: connection.Identity{ID: u.Sub, Name: u.Name, Email: u.Email}}
	if u.HD != "" {
		hd := strings.ToLower(u.HD)
		w.Sites = []Site{{ID: hd, Name: hd}}
	}
	return w, nil
}
