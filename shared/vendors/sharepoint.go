package vendors

import "time"

// SharePoint & OneDrive (Entra v2.0, Graph), per https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow
// (".../" below is https://learn.microsoft.com/entra/identity-platform/):
// tenant segment organizations (work or school accounts of any tenant,
// the only ones with SharePoint and a tenant; .../v2-protocols#endpoints);
// client_secret in the body (Basic also taken); PKCE "recommended for all
// application types"; the redirect has code and state, no iss, and the
// issuer is per tenant ("…/{tenantid}/v2.0" in https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration),
// so an iss cannot match and is refused. A refresh token only for
// offline_access; each refresh returns a new one and "doesn't revoke old
// refresh tokens"; 90 days unused, no absolute limit (.../refresh-tokens,
// .../configurable-token-lifetimes: MaxInactiveTime 90 days, MaxAge
// until-revoked); access 60-90 minutes. Dead grant: 400 invalid_grant
// (AADSTS70008, 700082, 50173; the text is not to be relied on), or
// interaction_required, which only the user can satisfy
// (.../reference-error-codes). No per-token revocation: users remove the
// app in My Apps (Graph's user-revokesigninsessions would end all apps').
var sharePoint = Vendor{
	ID:          "sharepoint",
	Name:        "SharePoint & OneDrive",
	Type:        TypeFileStorage,
	Credentials: Deployment,
	Bases:       map[string]string{"login": "https://login.microsoftonline.com", "graph": "https://graph.microsoft.com"},
	AuthURL:     "{login}/organizations/oauth2/v2.0/authorize",
	TokenURL:    "{login}/organizations/oauth2/v2.0/token",
	Issuer:      "{login}/organizations/v2.0",
	// Delegated, no admin consent (https://learn.microsoft.com/onedrive/developer/rest-api/concepts/permissions_reference).
	// The token response spells them "Mail.Read User.Read": no resource
	// prefix, no offline_access (https://learn.microsoft.com/graph/auth-v2-user).
	Scopes:             []string{"offline_access", "User.Read", "Files.Read.All", "Sites.Read.All"},
	RequiredScopes:     []string{"User.Read", "Files.Read.All", "Sites.Read.All"},
	AuthParams:         map[string]string{"prompt": "select_account", "response_mode": "query"}, // no silent SSO
	PKCE:               true,
	ClientSecretInBody: true,
	Identity:           "microsoft",
	APIBase:            "{graph}/v1.0", // https://learn.microsoft.com/graph/use-the-api
	Refresh:            RefreshPolicy{Rotating: true, Inactivity: 90 * day, AccessTTL: time.Hour},
	Refusals:           []Refusal{{Status: 400, Codes: []string{"invalid_grant", "interaction_required"}}},
}
