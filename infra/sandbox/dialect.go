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
// identity endpoints, the fields below, its Rules and Default lifetimes)
// and registers it at init (speak); a vendor that speaks an existing
// dialect (Jira speaks Atlassian's) is only the registration.
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
	// singleSite: a grant belongs to at most one site (a tenant, an
	// enterprise), so sandbox_site names one.
	singleSite bool
	// codeTTL is how long an authorization code can be exchanged; 0 is
	// CodeTTL.
	codeTTL time.Duration

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
	// offline, if set, is the authorization parameter and value that ask
	// for a refresh token (Dropbox's token_access_type=offline): a code
	// approved without them is exchanged for an access token only.
	offline [2]string
	// rules say how the dialect's refresh tokens live: rotation, reuse,
	// and what Lifetimes.Refresh and Lifetimes.Absolute count from.
	rules Rules
	// expiresInShave is taken off expires_in when that is larger
	// (ServiceNow answers 1799 for its 30 minutes).
	expiresInShave int64
	// answer, if set, is the token endpoint's success answer t for grant g
	// in the vendor's own shape (Box's has no scope; Dropbox's names the
	// account on an exchange, and no refresh token on a refresh:
	// refreshed); nil: t as it is.
	answer func(g *grant, t tokenResponse, refreshed bool) any

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
// a vendor is served once it is here. Each dialect file registers its
// vendors at init (speak); a vendor that speaks an existing dialect (Jira
// speaks Atlassian's) is one more speak call there.
var dialects = map[string]*dialect{}

// speak serves vendorID in dialect d. Two dialects for one id are a
// programming error.
func speak(vendorID string, d *dialect) {
	if _, dup := dialects[vendorID]; dup || vendorID == "" || d == nil {
		panic("sandbox: vendor " + vendorID + " registered twice or empty")
	}
	dialects[vendorID] = d
}

// Speak serves vendorID in the dialect of the vendor like (its paths,
// parameters, token answers and identity endpoints), with refresh tokens
// that live by rules and lifetimes l instead of like's: a synthetic
// vendor, for tests that walk a refresh policy the registry does not have
// yet. It returns a function that undoes it. Call it before New (a Server
// takes its vendors when it is built), and never while other goroutines
// build or serve sandboxes: it changes what every new Server speaks.
func Speak(vendorID, like string, rules Rules, l Lifetimes) (undo func()) {
	base, ok := dialects[like]
	if !ok {
		panic("sandbox: no dialect for " + like)
	}
	d := *base
	d.rules = rules
	d.lifetimes = func(Config) (Lifetimes, Lifetimes) { return l, Lifetimes{} }
	speak(vendorID, &d)
	return func() { delete(dialects, vendorID) }
}

// Expiry says what a dialect's Lifetimes.Refresh counts from.
type Expiry int

// Refresh-token expiries.
const (
	// ExpiryLifespan: Lifetimes.Refresh from the authorization; refreshing
	// never extends it (ServiceNow).
	ExpiryLifespan Expiry = iota
	// ExpiryInactivity: Lifetimes.Refresh from the refresh token's last
	// use, i.e. its issue or the last refresh made with it, rotating or
	// not (Atlassian, Microsoft, Box; Google, whose token does not rotate).
	ExpiryInactivity
	// ExpiryNever: the refresh token works until it is revoked (Dropbox);
	// Lifetimes.Refresh is not used.
	ExpiryNever
)

// Rules are how a dialect's refresh tokens live, as the generic token code
// (token.go, grants.go) applies them. Each dialect declares its vendor's.
type Rules struct {
	// Rotates: a refresh issues a new refresh token and retires the one
	// presented. Without rotation the refresh token issued at the exchange
	// is the grant's for good.
	Rotates bool
	// ReuseLeeway (with Rotates): a retired refresh token still works this
	// long (a client that lost the answer may present it again). Zero:
	// single use (Box) — a retired token is refused at once.
	ReuseLeeway time.Duration
	// ReuseEndsGrant (with a ReuseLeeway): a retired token presented after
	// the leeway is taken as stolen and every token of its grant dies
	// (Atlassian). Without it, it is merely refused.
	ReuseEndsGrant bool
	// Expiry: what Lifetimes.Refresh counts from.
	Expiry Expiry
	// Absolute: Lifetimes.Absolute after the authorization, the grant dies
	// however often it is refreshed (Atlassian).
	Absolute bool
}
