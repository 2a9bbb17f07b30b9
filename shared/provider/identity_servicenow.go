package provider

import (
	"context"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
)

func init() { registerIdentity("servicenow", serviceNowIdentity) }

// serviceNowIdentity reads the current user from the instance's Table API.
func serviceNowIdentity(ctx context.Context, c *Client, tok *oauth2.Token) (Who, error) {
	var body struct {
		Result []struct {
			SysID    string `json:"sys_id"`
			UserName string `json:"user_name"`
			Name     string `json:"name"`
			Email    string `json:"email"`
		} `json:"result"`
	}
	u := c.endpoint("{instance}/api/now/table/sys_user") +
		"?sysparm_query=sys_id%3Djavascript:gs.getUserID()&sysparm_fields=sys_id,user_name,name,email&sysparm_limit=1"
	if err := c.getJSON(ctx, u, tok, &body); err != nil {
		return Who{}, err
	}
	if len(body.Result) == 0 || body.Result[0].SysID == "" {
		return Who{}, &VendorError{Cause: "identity lookup: no current user"}
	}
	r := body.Result[0]
	name := r.Name
	if name == "" {
		name = r.UserName
	}
	return Who{User: connection.Identity{ID: r.SysID, Name: name, Email: r.Email}}, nil
}
