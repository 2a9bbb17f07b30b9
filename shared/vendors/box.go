package vendors

import "time"

// Box (OAuth 2.0 of a Platform App with user authentication,
// https://developer.box.com/guides/authentication/oauth2/without-sdk/).
// Authorization at account.box.com/api/oauth2/authorize (response_type,
// client_id, redirect_uri, state, scope;
// https://developer.box.com/reference/get-authorize/); the redirect
// carries code and state, no iss, and Box publishes no issuer metadata,
// so iss is checked only when one comes, against account.box.com. Token
// requests are forms with client_id and client_secret in the body
// (https://developer.box.com/reference/post-oauth2-token--refresh);
// HTTP Basic is not documented. Revocation takes client_id,
// client_secret and the access or refresh token in the body, and answers
// empty on success (https://developer.box.com/reference/post-oauth2-revoke,
// https://developer.box.com/guides/authentication/tokens/revoke).
//
// PKCE: Box's OAuth pages neither require nor mention it; S256 is sent
// all the same, as for Atlassian (RFC 9700 section 2.1.1; RFC 6749
// section 3.1 makes a server ignore parameters it does not know).
//
// Scopes: root_readonly ("Read all files and folders"); without a scope
// parameter Box grants every scope the app is configured with
// (https://developer.box.com/guides/api-calls/permissions-and-errors/scopes/).
// Box's token answer has no scope field (access_token, expires_in,
// token_type, restricted_to, refresh_token, issued_token_type;
// https://developer.box.com/reference/resources/access-token), so the
// absent-scope rule applies: the grant is taken as requested and
// scope_not_granted never fires for Box; scope drift still works on the
// recorded request.
//
// Lifetimes (https://developer.box.com/guides/authentication/tokens/refresh,
// https://developer.box.com/guides/api-calls/permissions-and-errors/expiration/):
// access tokens 60 minutes; a refresh token is valid for 60 days and one
// use, each refresh returning a new one: rotating, single use (no reuse
// leeway), a 60-day inactivity window, no absolute limit. A dead refresh
// token is 400 {"error":"invalid_grant","error_description":"Refresh
// token has expired"} (Box staff on
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
	// API calls go to api.box.com/2.0 with the access token as a Bearer
	// token (https://developer.box.com/guides/authentication/tokens/api-calls/).
	APIBase: "{api}/2.0",
	Refresh: RefreshPolicy{
		Rotating:   true,
		SingleUse:  true,
		Inactivity: 60 * day,
		AccessTTL:  time.Hour,
	},
	Refusals: []Refusal{{Status: 400, Codes: []string{"invalid_grant"}}},
}
