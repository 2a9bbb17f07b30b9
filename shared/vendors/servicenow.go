package vendors

import "time"

// ServiceNow. Token requests are form-encoded with client_id and
// client_secret as body parameters ("OAuth API request parameters",
// https://www.servicenow.com/docs/r/zurich/platform-security/authentication/r_OAuthAPIRequestParameters.html).
// oauth_revoke_token.do takes token=<access or refresh token> and "does
// not require authentication" ("Revoke an OAuth token",
// https://www.servicenow.com/docs/r/zurich/platform-security/authentication/t_RevokeOAuthToken.html);
// the page shows the token in the query, but we post it in the form
// body so that it never lands in a URL or an access log, with the
// client's credentials in the body as at the token endpoint. An
// Authorization: Basic header on an instance is a user's login, so the
// client's id and secret never go there.
var serviceNow = Vendor{
	ID:          "servicenow",
	Name:        "ServiceNow",
	Type:        TypeSupportAndTicketing,
	Credentials: PerAccount,
	Bases:       map[string]string{},
	AuthURL:     "{instance}/oauth_auth.do",
	TokenURL:    "{instance}/oauth_token.do",
	RevokeURL:   "{instance}/oauth_revoke_token.do",
	// The instance is the authorization server. ServiceNow documents
	// its redirect as ?code=…&state=… with no iss
	// (https://www.servicenow.com/docs/r/zurich/platform-security/authentication/authorization-workflow.html),
	// so iss is checked only when one comes.
	Issuer:      "{instance}",
	SendsIssuer: false,
	// ServiceNow answers the scope it granted: "useraccount", e.g.
	// {"access_token":…,"refresh_token":…,"scope":"useraccount",
	// "token_type":"Bearer","expires_in":1799}
	// (https://support.servicenow.com/kb?id=kb_article_view&sysparm_article=KB0693393),
	// and the authorization-code workflow renews access with "the
	// refresh token previously issued by the token endpoint"
	// (https://www.servicenow.com/docs/r/platform-security/authentication/authorization-workflow.html).
	Scopes:             []string{"useraccount"},
	RequiredScopes:     []string{"useraccount"},
	PKCE:               true,
	ClientSecretInBody: true,
	InstanceHosts:      []string{"*.service-now.com"},
	Identity:           "servicenow",
	// The REST APIs (Table API, …) are on the instance itself.
	APIBase: "{instance}",
	Refresh: RefreshPolicy{
		Lifespan:  100 * day,
		AccessTTL: 30 * time.Minute,
	},
	Refusals: []Refusal{
		{Status: 401, Codes: []string{"server_error", "access_denied", "invalid_grant"}},
		{Codes: []string{"invalid_grant"}},
	},
}
