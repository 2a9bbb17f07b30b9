package vendors

import "time"

// Confluence (Atlassian OAuth 2.0 3LO,
// https://developer.atlassian.com/cloud/confluence/oauth-2-3lo-apps/).
// The token request carries client_id and client_secret in its body, as
// the 3LO page shows; the authorization server's metadata
// (https://auth.atlassian.com/.well-known/openid-configuration) lists
// client_secret_basic as well. No RevokeURL: the 3LO docs offer apps no
// token revocation (a user revokes an app in their Atlassian account's
// connected apps); the same metadata names a revocation_endpoint,
// /oauth/revoke, but Atlassian does not document it for 3LO apps, so
// it is not relied on and disconnect deletes the tokens instead.
//
// PKCE: the 3LO page neither requires nor mentions PKCE, but the
// server metadata lists code_challenge_methods_supported ["S256"], so
// S256 is sent. Had it been silent, S256 would be sent all the same:
// RFC 9700 section 2.1.1 recommends PKCE for confidential clients too,
// RFC 7636 section 5 tells clients to send it to every server, and RFC
// 6749 section 3.1 makes a server that does not know the parameters
// ignore them.
var confluence = Vendor{
	ID:          "confluence",
	Name:        "Confluence",
	Type:        TypeKnowledge,
	Credentials: Deployment,
	Bases: map[string]string{
		"auth": "https://auth.atlassian.com",
		"api":  "https://api.atlassian.com",
	},
	AuthURL:  "{auth}/authorize",
	TokenURL: "{auth}/oauth/token",
	// Atlassian's authorization server is auth.atlassian.com. It
	// documents its redirect as carrying the code (and the state) only,
	// with no iss and no published issuer metadata
	// (https://developer.atlassian.com/cloud/oauth/getting-started/implementing-oauth-3lo),
	// so iss is checked only when one comes.
	Issuer:      "{auth}",
	SendsIssuer: false,
	Scopes: []string{
		"read:confluence-content.all", "read:confluence-space.summary",
		"search:confluence", "read:me", "offline_access",
	},
	// All of them: the Confluence scopes are what the integration is
	// for, read:me is the identity lookup's, and offline_access is the
	// one that brings the refresh token. Atlassian's token response
	// carries "scope", the granted scopes as one space-separated string
	// (offline_access among them when granted), and a refresh token only
	// when offline_access was granted
	// (https://developer.atlassian.com/cloud/oauth/getting-started/refresh-tokens/).
	RequiredScopes: []string{
		"read:confluence-content.all", "read:confluence-space.summary",
		"search:confluence", "read:me", "offline_access",
	},
	AuthParams:         map[string]string{"audience": "api.atlassian.com", "prompt": "consent"},
	PKCE:               true,
	ClientSecretInBody: true,
	Identity:           "atlassian",
	// 3LO access tokens work only through Atlassian's API gateway, never on
	// the site's own host: requests go to
	// https://api.atlassian.com/ex/confluence/{cloudid}/{api}, the cloud id
	// being the accessible-resources "id" of the site
	// (https://developer.atlassian.com/cloud/confluence/oauth-2-3lo-apps/,
	// "Make calls to the API using the access token";
	// https://developer.atlassian.com/cloud/oauth/getting-started/making-calls-to-api/).
	APIBase:    "{api}/ex/confluence/{site}",
	SiteChoice: true,
	Refresh: RefreshPolicy{
		Rotating:   true,
		Inactivity: 90 * day,
		Absolute:   365 * day,
		AccessTTL:  time.Hour,
	},
	Refusals: []Refusal{
		{Codes: []string{"invalid_grant", "unauthorized_client"}},
	},
}
