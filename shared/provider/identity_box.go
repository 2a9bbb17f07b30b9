package provider

import (
	"context"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
)

func init() { registerIdentity("box", boxIdentity) }

// boxIdentity reads GET /2.0/users/me, "the user who authorized the app"
// (https://developer.box.com/reference/get-users-me/): id, name and login
// (the primary email), and the enterprise, a field of the full user only
// returned when asked for in fields; asking for fields returns the mini
// user's, so id, name and login are named too
// (https://developer.box.com/reference/resources/user--full/). The site
// is the enterprise id; a personal account has none.
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
