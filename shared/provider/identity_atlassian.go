package provider

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
)

func init() { registerIdentity("atlassian", atlassianIdentity) }

// atlassianIdentity reads /me and the sites the grant covers.
func atlassianIdentity(ctx context.Context, c *Client, tok *oauth2.Token) (Who, error) {
	var me struct {
		AccountID string `json:"account_id"`
		Name      string `json:"name"`
		Email     string `json:"email"`
	}
	if err := c.getJSON(ctx, c.endpoint("{api}/me"), tok, &me); err != nil {
		return Who{}, err
	}
	if me.AccountID == "" {
		return Who{}, &VendorError{Cause: "identity lookup: no account id"}
	}
	var sites []Site
	if err := c.getJSON(ctx, c.endpoint("{api}/oauth/token/accessible-resources"), tok, &sites); err != nil {
		return Who{}, err
	}
	for i := range sites {
		sites[i].URL = strings.TrimRight(strings.ToLower(sites[i].URL), "/")
	}
	if len(sites) == 0 {
		return Who{}, &VendorError{Cause: fmt.Sprintf("the grant covers no %s site", c.Vendor.Name)}
	}
	return Who{User: connection.Identity{ID: me.AccountID, Name: me.Name, Email: me.Email}, Sites: sites}, nil
}
