package vendors

// Jira (Jira Cloud platform, Atlassian OAuth 2.0 3LO,
// https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/).
// Jira and Confluence are products of one Atlassian app (an app of the
// developer console carries the scopes of every product it adds): Jira
// uses Confluence's app and so its deployment secret (App), and
// everything that belongs to Atlassian's authorization server rather than
// to a product is Confluence's, by reference (see confluence.go for the
// sources): auth.atlassian.com's authorize and token endpoints with
// audience=api.atlassian.com and prompt=consent, the client secret in the
// body, PKCE S256, no iss on the redirect, rotating refresh tokens that
// die after 90 days unused and 365 days at most, 403 invalid_grant for a
// dead one
// (https://developer.atlassian.com/cloud/oauth/getting-started/refresh-tokens/),
// and no revocation offered to 3LO apps. A Jira grant is a grant of its
// own: Atlassian says a product authorized in a separate flow gets its own
// refresh token, and refreshing one does not affect the other
// (https://community.developer.atlassian.com/t/superseded-31-january-2022-action-required-deprecating-persistent-refresh-tokens/50348/50).
//
// Who and which site: the Atlassian lookup, GET api.atlassian.com/me
// (read:me) and /oauth/token/accessible-resources, whose "id" is the
// site's cloud id and whose "scopes" are the Jira scopes of the grant
// (https://developer.atlassian.com/cloud/oauth/getting-started/making-calls-to-api/);
// a grant may cover several sites, so settings.siteUrl picks one
// (SiteChoice).
var jira = Vendor{
	ID:          "jira",
	Name:        "Jira",
	Type:        TypeSupportAndTicketing,
	Credentials: Deployment,
	App:         "confluence",
	Bases:       confluence.Bases,
	AuthURL:     confluence.AuthURL,
	TokenURL:    confluence.TokenURL,
	Issuer:      confluence.Issuer,
	// The Jira platform's classic scopes, which Atlassian recommends over
	// the granular ones: read:jira-work (projects, issues, search) and
	// read:jira-user (user profiles)
	// (https://developer.atlassian.com/cloud/jira/platform/scopes-for-oauth-2-3LO-and-forge-apps/);
	// read:me for the identity lookup, offline_access for the refresh
	// token. All required, as for Confluence: the token response's scope
	// is the granted scopes, space-separated, as requested.
	Scopes:             []string{"read:jira-work", "read:jira-user", "read:me", "offline_access"},
	RequiredScopes:     []string{"read:jira-work", "read:jira-user", "read:me", "offline_access"},
	AuthParams:         confluence.AuthParams,
	PKCE:               confluence.PKCE,
	ClientSecretInBody: confluence.ClientSecretInBody,
	Identity:           "atlassian",
	// As for Confluence, 3LO tokens work only through Atlassian's gateway,
	// with the site's cloud id: https://api.atlassian.com/ex/jira/{cloudid}/{api}
	// (https://developer.atlassian.com/cloud/jira/service-desk-ops/security/oauth-2-3lo-apps/;
	// .../rest/api/3/project in https://jira.atlassian.com/browse/JRACLOUD-70684).
	APIBase:    "{api}/ex/jira/{site}",
	SiteChoice: true,
	Refresh:    confluence.Refresh,
	Refusals:   confluence.Refusals,
}
