package vendors

import "time"

// Box, OAuth 2.0 with user authentication (developer.box.com; every
// page below is under https://developer.box.com/). Authorization:
// reference/get-authorize (response_type, client_id, redirect_uri, state,
// scope); the redirect carries code and state, no iss, and Box publishes
// no issuer: iss is checked only when one comes. Token requests are forms
// with client_id and client_secret in the body, no Basic documented
// (reference/post-oauth2-token--refresh); revocation takes them and the
// access or refresh token in the body and answers empty
// (reference/post-oauth2-revoke). PKCE is not documented: S256 is sent as
// for Atlassian (RFC 9700 section 2.1.1; RFC 6749 section 3.1).
// Scope root_readonly, "read all files and folders"
// (guides/api-calls/permissions-and-errors/scopes/); the token answer has
// no scope field (reference/resources/access-token), so the grant counts
// as requested and scope_not_granted never fires. Access tokens live 60
// minutes; a refresh token 60 days and one use, each refresh returning a
// new one: rotating, single use, 60 days unused, no absolute limit
// (guides/authentication/tokens/refresh,
// guides/api-calls/permissions-and-errors/expiration/). A dead one is 400
// invalid_grant "Refresh token has expired" (Box staff,
// https://support.box.com/hc/en-us/community/posts/360049133654).
var box = Vendor{
	ID:          "box",
	Name:        "Box",
	Type:        TypeFileStorage,
	Credentials: Deployment,
	Bases: map[string]string{
		"account": "https://account.box.com",
		"api":     "https://api.box.com",
	},
	AuthURL:            "{account}/api/oauth2/authorize",
	TokenURL:           "{api}/oauth2/token",
	RevokeURL:          "{api}/oauth2/revoke",
	Issuer:             "{account}",
	Scopes:             []string{"root_readonly"},
	RequiredScopes:     []string{"root_readonly"},
	PKCE:               true,
	ClientSecretInBody: true,
	Identity:           "box",
	// guides/authentication/tokens/api-calls/: Bearer token on api.box.com/2.0.
	APIBase: "{api}/2.0",
	Refresh: RefreshPolicy{
		Rotating:   true,
		SingleUse:  true,
		Inactivity: 60 * day,
		AccessTTL:  time.Hour,
	},
	Refusals: []Refusal{{Status: 400, Codes: []string{"invalid_grant"}}},
}
