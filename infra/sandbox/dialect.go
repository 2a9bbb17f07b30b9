package sandbox

import (
	"net/http"
	"time"
)

// dialect is what a family of vendors speaks: its endpoint paths, the
// rules of its authorization requests, the shape of its token answers and
// refusals, and how long its tokens live. The generic files (authorize.go,
// token.go, grants.go) read these fields and never name a vendor.
//
// A new vendor is one file that declares its dialect value (routes,
// identity endpoints, the fields below, its Default lifetimes) and one
// entry in dialects; a vendor that speaks an existing dialect (Jira speaks
// Atlassian's) is only the entry.
type dialect struct {
	// name is the vendor's name in messages, e.g. "ServiceNow".
	name string

	// route serves the path segments after /_sandbox/{vendorID}/ and
	// reports whether one of its routes matched. It is handed d, its own
	// dialect, to pass on to authorize and token (naming its dialect
	// variable instead would make an initialization cycle).
	route func(s *Server, w http.ResponseWriter, r *http.Request, vendorID string, d *dialect, rest []string) bool

	// instances: the vendor's endpoints live under an instance path
	// segment, a grant is approved by exactly one instance (sandbox_site,
	// default the path instance), and only that instance's endpoints take
	// its codes, tokens and client secrets. Otherwise sandbox_site is a
	// comma list of sites, default defaultSite.
	instances   bool
	defaultSite string

	// audience, if set, is the audience the authorization request must ask
	// for.
	audience string
	// defaultScope is the scope of an authorization request without one;
	// "" means a scope is required.
	defaultScope string

	// jsonBody: the token endpoint takes a JSON body as well as a form.
	jsonBody bool
	// basicAuth: the token endpoint takes the client's credentials as HTTP
	// Basic (client_secret_basic) as well as client_id and client_secret in
	// the body (client_secret_post). Without it only the body is accepted
	// and a request with an Authorization header is refused, so a client
	// that authenticates in another style than the vendor's fails here as it
	// would there.
	basicAuth bool
	// alwaysRefresh: every code exchange issues a refresh token, not only
	// one whose scope has offline_access.
	alwaysRefresh bool
	// rotatesRefresh: a refresh issues a new refresh token and the one
	// presented dies at once. Without rotation the refresh token is the one
	// issued at the exchange, so Lifetimes.Refresh counts from the
	// authorization.
	rotatesRefresh bool
	// reuseLeeway: with rotation, a refresh token rotated away still works
	// this long after (a client that lost the answer may present it
	// again); presented later, it is taken as stolen and every token of
	// its grant dies. Zero: a rotated token dies at once.
	reuseLeeway time.Duration
	// absolute: Lifetimes.Absolute applies, i.e. a grant dies that long
	// after the authorization however often it is refreshed.
	absolute bool
	// expiresInShave is taken off expires_in when that is larger
	// (ServiceNow answers 1799 for its 30 minutes).
	expiresInShave int64

	// invalidCode is the token endpoint's refusal of a bad authorization
	// code, desc being the error_description.
	invalidCode func(desc string) reply
	// deadRefresh is its refusal of an unknown, revoked or expired refresh
	// token.
	deadRefresh reply

	// lifetimes is the vendor's default Lifetimes and cfg's overrides of
	// them for this vendor (zero fields are no override).
	lifetimes func(cfg Config) (defaults, overrides Lifetimes)
}

// dialects maps vendor ids (as in the vendor registry) to what they speak;
// a vendor is served once it is here. Another Atlassian product (Jira)
// would be one more entry.
var dialects = map[string]*dialect{
	"servicenow": &serviceNow,
	"confluence": &atlassian,
}
