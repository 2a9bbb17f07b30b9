package vendors

import "time"

// Dropbox, a scoped app. token_access_type=offline brings a refresh token;
// the redirect carries code and state, no iss
// (https://dropbox.tech/developers/using-oauth-2-0-with-offline-access).
// Access tokens live four hours
// (https://dropboxforum.com/discussions/101000014/access-token/544001/replies/544017);
// a refresh token works "as long as a user's approval remains valid"
// (https://docs.rs/dropbox-sdk/latest/dropbox_sdk/oauth2/enum.TokenType.html)
// and a refresh returns none (not rotating). Dropbox's SDKs send the client
// credentials as HTTP Basic (dropbox-sdk-java DbxCredential.java) or in the
// body (dropbox-sdk-python oauth.py): Basic here. A dead grant is 400
// invalid_grant, "refresh token is invalid or revoked" (DbxRefreshTest.java).
// /2/auth/token/revoke takes the access token as Bearer and also disables
// its refresh token (auth.stone, github.com/dropbox/dropbox-api-spec). PKCE
// S256 (https://dropbox.tech/developers/pkce--what-and-why-); the docs do
// not say a client with a secret may send it too: sent (RFC 9700 2.1.1).
var dropbox = Vendor{
	ID:          "dropbox",
	Name:        "Dropbox",
	Type:        TypeFileStorage,
	Credentials: Deployment,
	Bases:       map[string]string{"www": "https://www.dropbox.com", "api": "https://api.dropboxapi.com"},
	AuthURL:     "{www}/oauth2/authorize",
	TokenURL:    "{api}/oauth2/token",
	RevokeURL:   "{api}/2/auth/token/revoke",
	Revocation:  RevokeBearer,
	Issuer:      "{www}",   // the id_token's iss (https://developers.dropbox.com/oidc-guide)
	APIBase:     "{api}/2", // the RPC endpoints (content ones are on content.dropboxapi.com)
	// account_info.read is get_current_account's (users.stone); the token
	// response's scope is the granted ones, space-separated (DbxAuthFinish.java).
	Scopes:         []string{"account_info.read", "files.metadata.read", "files.content.read"},
	RequiredScopes: []string{"account_info.read", "files.metadata.read", "files.content.read"},
	AuthParams:     map[string]string{"token_access_type": "offline"},
	PKCE:           true,
	Identity:       "dropbox",
	Refresh:        RefreshPolicy{NeverExpires: true, AccessTTL: 4 * time.Hour},
	Refusals:       []Refusal{{Status: 400, Codes: []string{"invalid_grant"}}},
}
