package provider

import (
	"context"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
)

func init() { registerIdentity("dropbox", dropboxIdentity) }

// dropboxIdentity is POST /2/users/get_current_account, an RPC without a
// body: account_id, name.display_name, email, and the team (id, name) of a
// team member, the grant's site (FullAccount in users.stone,
// https://github.com/dropbox/dropbox-api-spec).
func dropboxIdentity(ctx context.Context, c *Client, tok *oauth2.Token) (Who, error) {
	var a struct {
		AccountID string `json:"account_id"`
		Name      struct {
			DisplayName string `json:"display_name"`
		} `json:"name"`
		Email string `json:"email"`
		Team  *Site  `json:"team"`
	}
	if err := c.callJSON(ctx, http.MethodPost, c.endpoint("{api}/2/users/get_current_account"), tok, &a); err != nil {
		return Who{}, err
	}
	if a.AccountID == "" {
		return Who{}, &VendorError{Cause: "identity lookup: no account id"}
	}
	who := Who{User: connection.Identity{ID: a.AccountID, Name: a.Name.DisplayName, Email: a.Email}}
	if a.Team != nil && a.Team.ID != "" {
		who.Sites = []Site{{ID: a.Team.ID, Name: a.Team.Name}}
	}
	return who, nil
}
