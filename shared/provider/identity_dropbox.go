package provider

import (
	"context"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
)

func init() { registerIdentity("dropbox", dropboxIdentity) }

// dropboxIdentity is POST /2/users/get_current_account, an RPC without
// arguments (no body): account_id, name.display_name, email, and team
// (id, name) when the account is a team member, absent or null for a
// personal one (FullAccount in users.stone of
// https://github.com/dropbox/dropbox-api-spec). The team is the site.
func dropboxIdentity(ctx context.Context, c *Client, tok *oauth2.Token) (Who, error) {
	var acct struct {
		AccountID string `json:"account_id"`
		Name      struct {
			DisplayName string `json:"display_name"`
		} `json:"name"`
		Email string `json:"email"`
		Team  *struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"team"`
	}
	if err := c.callJSON(ctx, http.MethodPost, c.endpoint("{api}/2/users/get_current_account"), tok, &acct); err != nil {
		return Who{}, err
	}
	if acct.AccountID == "" {
		return Who{}, &VendorError{Cause: "identity lookup: no account id"}
	}
	who := Who{User: connection.Identity{ID: acct.AccountID, Name: acct.Name.DisplayName, Email: acct.Email}}
	if acct.Team != nil && acct.Team.ID != "" {
		who.Sites = []Site{{ID: acct.Team.ID, Name: acct.Team.Name}}
	}
	return who, nil
}
