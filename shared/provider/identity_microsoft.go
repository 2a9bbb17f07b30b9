package provider

import (
	"context"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
)

func init() { registerIdentity("microsoft", microsoftIdentity) }

// microsoftIdentity reads Graph's /me (mail, else userPrincipalName;
// https://learn.microsoft.com/graph/api/user-get) and /organization, the
// Entra tenant, which User.Read may read (https://learn.microsoft.com/graph/api/organization-list).
func microsoftIdentity(ctx context.Context, c *Client, tok *oauth2.Token) (Who, error) {
	var me struct{ ID, DisplayName, Mail, UserPrincipalName string }
	if err := c.getJSON(ctx, c.endpoint("{graph}/v1.0/me?$select=id,displayName,mail,userPrincipalName"), tok, &me); err != nil {
		return Who{}, err
	}
	var orgs struct {
		Value []struct{ ID, DisplayName string }
	}
	if err := c.getJSON(ctx, c.endpoint("{graph}/v1.0/organization?$select=id,displayName"), tok, &orgs); err != nil {
		return Who{}, err
	}
	if me.ID == "" || len(orgs.Value) == 0 || orgs.Value[0].ID == "" {
		return Who{}, &VendorError{Cause: "identity lookup: no user id or tenant"}
	}
	if me.Mail == "" {
		me.Mail = me.UserPrincipalName
	}
	w := Who{User: connection.Identity{ID: me.ID, Name: me.DisplayName, Email: me.Mail}}
	for _, o := range orgs.Value {
		w.Sites = append(w.Sites, Site{ID: o.ID, Name: o.DisplayName})
	}
	return w, nil
}
