package vendors

import "time"

// Google Drive: OAuth for web server apps
// (https://developers.google.com/identity/protocols/oauth2/web-server),
// endpoints and issuer per the discovery document
// (https://developers.google.com/identity/openid-connect/reference).
// access_type=offline gives a refresh token only "the first time" a code is
// exchanged; prompt=consent makes every connect and repair a first time
// (#creatingclient). Secret in the body (client_secret_post; _basic too),
// PKCE S256. No rotation: a refresh answers no refresh_token. No fixed
// lifespan: dies unused 6 months (a refresh is a use), revoked, past 100
// per Google Account per app (a reconnect leaves its old one live), or in
// 7 days while the app is in Testing (#expiration); refresh_token_expires_in
// (time-based access) wins. Dead: 400 invalid_grant (see
// https://developers.google.com/google-ads/api/docs/get-started/common-errors).
// /revoke takes the token alone, in the body, and ends the account's
// access to the app (#tokenrevoke). No documented iss, yet some users get
// it (openiddict/openiddict-core#2428): checked when present.
var googleDrive = Vendor{
	ID:          "googledrive",
	Name:        "Google Drive",
	Type:        TypeFileStorage,
	Credentials: Deployment,
	Bases: map[string]string{
		"accounts":      "https://accounts.google.com",
		"oauth2":        "https://oauth2.googleapis.com",
		"openidconnect": "https://openidconnect.googleapis.com",
		"api":           "https://www.googleapis.com",
	},
	AuthURL:   "{accounts}/o/oauth2/v2/auth",
	TokenURL:  "{oauth2}/token",
	RevokeURL: "{oauth2}/revoke",
	Issuer:    "{accounts}",
	// A revocation removes "the permissions previously granted to the
	// application"
	// (https://developers.google.com/identity/protocols/oauth2/web-server#tokenrevoke):
	// every refresh token of that Google account for this app dies with
	// it, those held by other connections too.
	RevokeEndsAccountGrant: true,
	// Named as the token response names them; Drive can be unticked.
	Scopes:             googleScopes,
	RequiredScopes:     googleScopes,
	AuthParams:         map[string]string{"access_type": "offline", "prompt": "consent"},
	PKCE:               true,
	ClientSecretInBody: true,
	Identity:           "google",
	// https://developers.google.com/drive/api/reference/rest
	APIBase:  "{api}/drive/v3",
	Refresh:  RefreshPolicy{Inactivity: 180 * day, AccessTTL: time.Hour},
	Refusals: []Refusal{{Status: 400, Codes: []string{"invalid_grant"}}},
}

var googleScopes = []string{"openid", "https://www.googleapis.com/auth/userinfo.email",
	"https://www.googleapis.com/auth/userinfo.profile", "https://www.googleapis.com/auth/drive.readonly"}
