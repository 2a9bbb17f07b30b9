package vendors

import "time"

// Google Drive: OAuth 2.0 for web server apps
// (https://developers.google.com/identity/protocols/oauth2/web-server);
// endpoints and issuer from the discovery document
// (https://developers.google.com/identity/openid-connect/reference).
// access_type=offline returns a refresh token only "the first time" a code
// is exchanged for the user's consent; prompt=consent asks again each time,
// so every connect, reconnect and change of user gets one (#creatingclient).
// Client credentials go in the body (the page's requests; the discovery
// document lists client_secret_post and _basic); PKCE S256 or plain. A
// refresh answers no refresh_token: no rotation. No fixed lifespan: a
// refresh token dies unused six months (a refresh is a use), when revoked,
// after 7 days for an app in Testing with external users (publish it), and
// past 100 per Google Account per client, the newest silently ending the
// oldest (#expiration); each connection keeps one, a reconnect leaves the
// old one live. Time-based access sends refresh_token_expires_in, which
// wins. Dead: 400 invalid_grant "Token has been expired or revoked."
// (https://developers.google.com/google-ads/api/docs/get-started/common-errors).
// Revocation takes the access or refresh token alone in the body and ends
// the app's access (#tokenrevoke); our client credentials, sent as at the
// token endpoint, are not asked for. Google documents no iss on the
// redirect nor RFC 9207 support, yet sends it to some users since 2026
// (openiddict/openiddict-core#2428): checked when present.
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
	// email and profile by the names the token response's scope gives
	// them; all required: Drive (which Google's consent screen lets a
	// user untick) is the point, the rest the identity lookup's.
	Scopes:             googleScopes,
	RequiredScopes:     googleScopes,
	AuthParams:         map[string]string{"access_type": "offline", "prompt": "consent"},
	PKCE:               true,
	ClientSecretInBody: true,
	Identity:           "google",
	// Drive API v3: service endpoint www.googleapis.com, paths under
	// /drive/v3 (https://developers.google.com/drive/api/reference/rest).
	APIBase:  "{api}/drive/v3",
	Refresh:  RefreshPolicy{Inactivity: 180 * day, AccessTTL: time.Hour},
	Refusals: []Refusal{{Status: 400, Codes: []string{"invalid_grant"}}},
}

var googleScopes = []string{"openid", "https://www.googleapis.com/auth/userinfo.email",
	"https://www.googleapis.com/auth/userinfo.profile", "https://www.googleapis.com/auth/drive.readonly"}
