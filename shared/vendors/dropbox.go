package vendors

import "time"

// Dropbox (scoped app, code flow). Authorization with
// token_access_type=offline returns a short-lived access token and a
// refresh token, and redirects with code and state only, no iss
// (https://dropbox.tech/developers/using-oauth-2-0-with-offline-access);
// access tokens live four hours
// (https://dropboxforum.com/discussions/101000014/access-token/544001/replies/544017).
// The refresh token works "as long as a user's approval remains valid"
// (https://docs.rs/dropbox-sdk/latest/dropbox_sdk/oauth2/enum.TokenType.html)
// and does not rotate: a refresh answers access_token, expires_in and
// scope only. A dead one is 400 {"error":"invalid_grant",
// "error_description":"refresh token is invalid or revoked"}; the client
// authenticates with HTTP Basic or in the body (Dropbox's Java and Python
// SDKs: github.com/dropbox/dropbox-sdk-java DbxCredential.java and
// DbxRefreshTest.java, github.com/dropbox/dropbox-sdk-python oauth.py).
// /2/auth/token/revoke takes the access token as Bearer and no client
// authentication, and also disables its refresh token and every access
// token of it (github.com/dropbox/dropbox-api-spec auth.stone). PKCE S256
// (https://dropbox.tech/developers/pkce--what-and-why-); the docs do not
// say whether a client with a secret may send it too: sent, as RFC 9700
// section 2.1.1 recommends.
var dropbox = Vendor{
	ID:          "dropbox",
	Name:        "Dropbox",
	Type:        TypeFileStorage,
	Credentials: Deployment,
	Bases: map[string]string{
		"www": "https://www.dropbox.com",
		"api": "https://api.dropboxapi.com",
	},
	AuthURL:    "{www}/oauth2/authorize",
	TokenURL:   "{api}/oauth2/token",
	RevokeURL:  "{api}/2/auth/token/revoke",
	Revocation: RevokeBearer,
	// The id_token's iss (https://developers.dropbox.com/oidc-guide).
	Issuer: "{www}",
	// account_info.read is users/get_current_account's (users.stone of
	// the API spec). The token response's "scope" is the granted scopes,
	// space-separated (DbxAuthFinish.java).
	Scopes:             []string{"account_info.read", "files.metadata.read", "files.content.read"},
	RequiredScopes:     []string{"account_info.read", "files.metadata.read", "files.content.read"},
	AuthParams:         map[string]string{"token_access_type": "offline"},
	PKCE:               true,
	ClientSecretInBody: false,
	Identity:           "dropbox",
	Refresh:            RefreshPolicy{NeverExpires: true, AccessTTL: 4 * time.Hour},
	Refusals:           []Refusal{{Status: 400, Codes: []string{"invalid_grant"}}},
}
