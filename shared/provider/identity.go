package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
)

// identities are the per-vendor "who authorized?" lookups, named by
// vendor.Vendor.Identity.
var identities = map[string]func(context.Context, *Client, *oauth2.Token) (Who, error){
	"servicenow": serviceNowIdentity,
	"atlassian":  atlassianIdentity,
}

// getJSON GETs a vendor API with the access token and decodes the answer.
func (c *Client) getJSON(ctx context.Context, rawURL string, tok *oauth2.Token, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
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
