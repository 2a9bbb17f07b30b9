package handlers

import (
	"strings"

	"github.com/workplace/connections/shared/apigw"
)

// Route is one route of the HTTP API and the function that serves it.
type Route struct {
	Method   string
	Path     string // API Gateway path, with {name} parameters
	Function string // the functions/<name> Lambda
	Handler  func(*Deps) apigw.Handler
}

// RouteKey is API Gateway's name of the route ("GET /v1/…").
func (r Route) RouteKey() string { return r.Method + " " + r.Path }

// Internal reports whether the route is for the platform's own services:
// API Gateway authorizes it by IAM (AWS_IAM) instead of the JWT, and the
// local server takes X-Internal-Caller for the caller's identity.
func (r Route) Internal() bool { return strings.HasPrefix(r.Path, "/v1/internal/") }

// Routes is the HTTP API, as template.yaml declares it.
var Routes = []Route{
	{"GET", "/v1/account/integrations", "list-integrations", ListIntegrations},
	{"PUT", "/v1/account/integrations/{vendor}/settings", "integration-settings", IntegrationSettings},
	{"GET", "/v1/account/integrations/{vendor}/oauth2/url", "oauth-url", OAuthURL},
	{"POST", "/v1/account/integrations/{vendor}/oauth2/callback", "oauth-callback", OAuthCallback},
	{"DELETE", "/v1/account/integrations/{vendor}", "disconnect", Disconnect},
	{"GET", "/v1/me/notifications", "notifications", Notifications},
	{"POST", "/v1/me/notifications/{id}/dismiss", "notifications", Notifications},
	{"GET", "/v1/account/integrations/audit", "audit", AuditTimeline},
	{"POST", "/v1/account/integrations/{vendor}/check", "connection-check", ConnectionCheck},
	{"POST", "/v1/internal/token", "token-broker", TokenBroker},
}
