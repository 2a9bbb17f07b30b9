// Package sandbox is the built-in authorization server of local mode. It
// speaks each vendor's real endpoint paths and token response shapes and
// approves every authorization at once, so that the service's real vendor
// code (golang.org/x/oauth2 for code exchange and refresh, plain GETs with a
// Bearer token for identity) runs against it with only base URLs changed.
//
// The handler serves FULL paths under Prefix ("/_sandbox/"): the local
// server mounts it with
//
//	mux.Handle("/_sandbox/", sandbox.New(cfg))
//
// (paths that arrive without the prefix, e.g. behind http.StripPrefix, are
// served the same way).
//
// ServiceNow (vendor id "servicenow"): base /_sandbox/servicenow/{instance}
// stands for https://{instance}.service-now.com.
//
//	GET  /_sandbox/servicenow/{instance}/oauth_auth.do
//	POST /_sandbox/servicenow/{instance}/oauth_token.do
//	POST /_sandbox/servicenow/{instance}/oauth_revoke_token.do
//	GET  /_sandbox/servicenow/{instance}/api/now/table/sys_user
//
// Atlassian (vendor ids "confluence" and "jira", {atlassian} below): base
// /_sandbox/{atlassian} stands for both https://auth.atlassian.com and
// https://api.atlassian.com; each id keeps grants of its own.
//
//	GET  /_sandbox/{atlassian}/authorize
//	POST /_sandbox/{atlassian}/oauth/token
//	GET  /_sandbox/{atlassian}/me
//	GET  /_sandbox/{atlassian}/oauth/token/accessible-resources
//
// Microsoft (vendor id "sharepoint"): base /_sandbox/sharepoint stands for
// both https://login.microsoftonline.com and https://graph.microsoft.com;
// {tenant} is organizations or common, and sandbox_site names the one
// tenant of a grant (default acme).
//
//	GET  /_sandbox/sharepoint/{tenant}/oauth2/v2.0/authorize
//	POST /_sandbox/sharepoint/{tenant}/oauth2/v2.0/token
//	GET  /_sandbox/sharepoint/v1.0/me
//	GET  /_sandbox/sharepoint/v1.0/organization
//
// Google (vendor id "googledrive"): base /_sandbox/googledrive stands for
// https://accounts.google.com, https://oauth2.googleapis.com and
// https://openidconnect.googleapis.com. Its revocation endpoint is where
// the revoke knob is: a POST to /revoke that names no user= is Google's.
//
//	GET  /_sandbox/googledrive/o/oauth2/v2/auth
//	POST /_sandbox/googledrive/token
//	POST /_sandbox/googledrive/revoke
//	GET  /_sandbox/googledrive/v1/userinfo
//
// Box (vendor id "box"): base /_sandbox/box stands for both
// https://account.box.com and https://api.box.com.
//
//	GET  /_sandbox/box/api/oauth2/authorize
//	POST /_sandbox/box/oauth2/token
//	POST /_sandbox/box/oauth2/revoke
//	GET  /_sandbox/box/2.0/users/me
//
// Dropbox (vendor id "dropbox"): base /_sandbox/dropbox stands for both
// https://www.dropbox.com and https://api.dropboxapi.com.
//
//	GET  /_sandbox/dropbox/oauth2/authorize
//	POST /_sandbox/dropbox/oauth2/token
//	POST /_sandbox/dropbox/2/users/get_current_account
//	POST /_sandbox/dropbox/2/auth/token/revoke
//
// It issues a refresh token only for token_access_type=offline, never
// rotates or expires it, takes the client's credentials as HTTP Basic or
// in the body, answers its RPC endpoints (no body, or JSON null) with a
// Bearer token only, and revokes the whole grant of a live access token.
// sandbox_site=<name> makes the account a member of that team (one at
// most); without it the account is a personal one.
//
// Client authentication is what each vendor documents, so a client in
// another style fails here as it would there: ServiceNow takes client_id
// and client_secret in the form body only (an Authorization header is
// refused), at its token endpoint and at oauth_revoke_token.do, which also
// takes a token without any credentials; Atlassian takes the body (form or
// JSON) or HTTP Basic; Microsoft the form body or HTTP Basic; Google the form body or HTTP Basic, and its /revoke
// the token alone (credentials, when sent, must be the client's); Box takes
// the form body only, at its token and revocation endpoints. All verify
// PKCE S256 when the authorization asked for it, and refuse any other
// method.
//
// Knobs and probes, for every vendor (server.go's tools):
//
//	POST /_sandbox/{vendor}/revoke?user=<login>   that login's refresh tokens die; access tokens live on until they expire (204)
//	POST /_sandbox/{vendor}/outage?status=503     token, revocation and identity endpoints answer 503 (204)
//	POST /_sandbox/{vendor}/outage?status=0       ends the outage (204)
//	GET  /_sandbox/{vendor}/introspect            with Authorization: Bearer <access token>: 200
//	                                              {"active":true,"user":<login>,"site":<name>} while the
//	                                              vendor's API takes the token, else 401 {"active":false}
//	GET  /_sandbox/{vendor}/stats                 {"authorizationCode":N,"refreshToken":N}: token
//	                                              requests received since start, by grant_type
//
// and, on the authorization URL, sandbox_user=<login> (who approves; default
// admin), sandbox_site=<name> (ServiceNow: the approving instance, default the
// path instance; Atlassian: a comma list of sites, default acme; Google: the
// account's Workspace domain <name>.example.com, default acme, or gmail for a
// personal account; Box: the user's one enterprise, default acme),
// sandbox_deny=1 (the user refuses: error=access_denied),
// sandbox_no_refresh=1 (the token response carries no refresh token) and
// sandbox_scope=<space-separated scopes> (only these of the requested scopes
// are granted, and the token response's scope says so; Atlassian issues a
// refresh token only when offline_access is among them).
//
// How refresh tokens live is each dialect's Rules, applied by the generic
// token code: rotation (with a reuse leeway, zero for single use, and
// whether reuse past it ends the grant), what Lifetimes.Refresh counts
// from (the authorization, the last use, or never), and an absolute limit.
// Speak serves a synthetic vendor in an existing dialect with other Rules
// (tests only), and BaseURLs points every registry vendor the sandbox
// speaks at /_sandbox/{vendor}.
//
// Every expiry (codes, access and refresh tokens) is judged on Config.Clock,
// which the local server shares with the service so that moving its clock
// moves the sandbox's token lifetimes too.
//
// All state is in memory and safe for concurrent use. Tokens are 256 random
// bits and never logged.
package sandbox
