package provider

import (
	"context"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
)

func init() { registerIdentity("box", boxIdentity) }

// boxIdentity reads the user who authorized, GET /2.0/users/me
// (https://developer.box.com/reference/get-users-me/): id, name, login
// (the email) and the enterprise, a full-user field returned only when
// named in fields (which drops the standard fields not named); the site
// is the enterprise id, none for a personal account.
func boxIdentity(ctx context.Context, c *Client, tok *oauth2.Token) (Who, error) {
	var me struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		Login      string `json:"login"`
		Enterprise *struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"enterprise"`
	}
	if err := c.getJSON(ctx, c.endpoint("{api}/2.0/users/me")+"?fields=id,name,login,enterprise", tok, &me); err != nil {
		return Who{}, err
	}
	if me.ID == "" {
		return Who{}, &VendorError{Cause: "identity lookup: no user id"}
	}
	w := Who{User: connection.Identity{ID: me.ID, Name: me.Name, Email: me.Login}}
	if me.Enterprise != nil && me.Enterprise.ID != "" {
		w.Sites = []Site{{ID: me.Enterprise.ID, Name: me.Enterprise.Name}}
	}
	return w, nil
}
