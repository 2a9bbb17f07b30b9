// Package provider talks to a vendor on behalf of one account: it builds the
// x/oauth2 configuration from the registry entry, the account's settings and
// the client credentials, exchanges and refreshes tokens, asks the vendor who
// authorized (and on which sites), and revokes grants where the vendor can.
package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/vendors"
)

// Client is one vendor, configured for one account and instance.
type Client struct {
	Vendor   vendors.Vendor
	Instance string // the account's instance URL (ServiceNow); "" when the vendor has none
	OAuth    *oauth2.Config
	HTTP     *http.Client
	bases    map[string]string
}

// Credentials are an OAuth client's id and secret.
type Credentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// New builds a client. overrides are the configured base URL overrides
// ("vendor.base" → URL), used to point vendors at the local sandbox.
func New(v vendors.Vendor, instance string, creds Credentials, redirectURL string, overrides map[string]string, hc *http.Client) *Client {
	style := oauth2.AuthStyleInHeader
	if v.ClientSecretInBody {
		style = oauth2.AuthStyleInParams
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{
		Vendor:   v,
		Instance: instance,
		HTTP:     hc,
		bases:    overrides,
		OAuth: &oauth2.Config{
			ClientID:     creds.ClientID,
			ClientSecret: creds.ClientSecret,
			RedirectURL:  redirectURL,
			Scopes:       v.Scopes,
			Endpoint: oauth2.Endpoint{
				AuthURL:   v.Endpoint(v.AuthURL, instance, overrides),
				TokenURL:  v.Endpoint(v.TokenURL, instance, overrides),
				AuthStyle: style,
			},
		},
	}
}

// endpoint expands one of the vendor's URL templates for this client.
func (c *Client) endpoint(tmpl string) string {
	return c.Vendor.Endpoint(tmpl, c.Instance, c.bases)
}

func (c *Client) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.HTTP)
}

// AuthCodeURL is where the browser goes to authorize; verifier is the PKCE
// verifier (ignored for vendors that do not take PKCE).
func (c *Client) AuthCodeURL(state, verifier string) string {
	var opts []oauth2.AuthCodeOption
	if c.Vendor.PKCE && verifier != "" {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	for k, v := range c.Vendor.AuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	return c.OAuth.AuthCodeURL(state, opts...)
}

// Exchange trades an authorization code for tokens.
func (c *Client) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	var opts []oauth2.AuthCodeOption
	if c.Vendor.PKCE && verifier != "" {
		opts = append(opts, oauth2.VerifierOption(verifier))
	}
	tok, err := c.OAuth.Exchange(c.ctx(ctx), code, opts...)
	if err != nil {
		return nil, sanitize(err)
	}
	return tok, nil
}

// ErrRefused means the vendor refused a refresh token for good: the grant is
// dead and only a new authorization brings it back.
var ErrRefused = errors.New("provider: refresh token refused")

// Refresh uses a refresh token. A dead grant is ErrRefused; anything else
// (outage, timeout, bad client secret) is a plain error, to retry later.
// No refresh token at all (a grant stored before such grants were refused)
// is a dead grant too: nothing can renew it.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	if refreshToken == "" {
		return nil, fmt.Errorf("%w (no refresh token)", ErrRefused)
	}
	src := c.OAuth.TokenSource(c.ctx(ctx), &oauth2.Token{RefreshToken: refreshToken})
	tok, err := src.Token()
	if err == nil {
		if tok.RefreshToken == "" {
			// Vendors that do not rotate may omit it: the old one stays valid.
			tok.RefreshToken = refreshToken
		}
		return tok, nil
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil && c.Vendor.IsRefusal(re.Response.StatusCode, re.ErrorCode) {
		return nil, fmt.Errorf("%w (%d %s)", ErrRefused, re.Response.StatusCode, ErrorCode(re.ErrorCode))
	}
	return nil, sanitize(err)
}

// Who is what a vendor says about a fresh grant.
type Who struct {
	User connection.Identity
	// Sites the grant covers. A vendor with SiteChoice reports every one
	// (Atlassian); any other reports at most one — the tenant, domain or
	// team the grant belongs to (Entra tenant, Workspace domain, Dropbox
	// team, Box enterprise), none for a personal account or a vendor whose
	// site is the account's instance (ServiceNow). Reconnects, changes of
	// user and user-level connections must be on the same one
	// (site_mismatch).
	Sites []Site
}

// Site is one site a grant covers: ID is the vendor's stable id of it
// (compared on every repair), URL its address where it has one.
type Site struct {
	ID   string `json:"id"`
	URL  string `json:"url"`
	Name string `json:"name"`
}

// Identify asks the vendor who authorized the grant.
func (c *Client) Identify(ctx context.Context, tok *oauth2.Token) (Who, error) {
	lookup, ok := identities[c.Vendor.Identity]
	if !ok {
		return Who{}, fmt.Errorf("provider: no identity lookup %q", c.Vendor.Identity)
	}
	w, err := lookup(ctx, c, tok)
	if err != nil {
		return Who{}, sanitize(err)
	}
	return w, nil
}

// CanRevoke reports whether the vendor offers token revocation.
func (c *Client) CanRevoke() bool { return c.Vendor.RevokeURL != "" }

// Revoke revokes a grant, given its tokens, where the vendor offers it;
// elsewhere it does nothing. A token never goes in a URL.
//
// RFC 7009 (the default): the refresh token (else the access token) in the
// form body, the client authenticating the way it does at the vendor's
// token endpoint (RFC 7009 section 2.1): client_id and client_secret in the
// body, or HTTP Basic over the form-urlencoded id and secret (RFC 6749
// section 2.3.1), exactly as x/oauth2 builds its token requests.
//
// Bearer (vendors.RevokeBearer): the access token as Bearer, nothing else.
// The stored one has often expired (Dropbox's live four hours): when the
// vendor answers 401, the grant is refreshed once and the new access token
// revoked. Its tokens are not stored: the grant ends with them. A refresh
// the vendor refuses means the grant is dead already: nothing to revoke.
func (c *Client) Revoke(ctx context.Context, tok *oauth2.Token) error {
	if !c.CanRevoke() || tok == nil {
		return nil
	}
	if c.Vendor.Revocation != vendors.RevokeBearer {
		token := tok.RefreshToken
		if token == "" {
			token = tok.AccessToken
		}
		if token == "" {
			return nil
		}
		return c.revokeForm(ctx, token)
	}
	if tok.AccessToken != "" {
		if err := c.revokeBearer(ctx, tok.AccessToken); !isUnauthorized(err) {
			return err
		}
	}
	fresh, err := c.Refresh(ctx, tok.RefreshToken)
	if errors.Is(err, ErrRefused) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.revokeBearer(ctx, fresh.AccessToken)
}

// revokeForm is an RFC 7009 revocation request.
func (c *Client) revokeForm(ctx context.Context, token string) error {
	inBody := c.OAuth.Endpoint.AuthStyle == oauth2.AuthStyleInParams
	form := url.Values{"token": {token}}
	if inBody {
		form.Set("client_id", c.OAuth.ClientID)
		if c.OAuth.ClientSecret != "" {
			form.Set("client_secret", c.OAuth.ClientSecret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(c.Vendor.RevokeURL), strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if !inBody {
		req.SetBasicAuth(url.QueryEscape(c.OAuth.ClientID), url.QueryEscape(c.OAuth.ClientSecret))
	}
	return c.revokeCall(req)
}

// revokeBearer posts to the revocation endpoint with an access token as
// Bearer and no body.
func (c *Client) revokeBearer(ctx context.Context, accessToken string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(c.Vendor.RevokeURL), nil)
	if err != nil {
		return err
	}
	(&oauth2.Token{AccessToken: accessToken}).SetAuthHeader(req)
	return c.revokeCall(req)
}

// revokeCall sends a revocation request; any answer but a 2xx is an error
// that says its status and nothing of its body.
func (c *Client) revokeCall(req *http.Request) error {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return sanitize(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode >= 300 {
		return revokeStatus(resp.StatusCode)
	}
	return nil
}

// revokeStatus is a revocation endpoint's answer other than a 2xx.
type revokeStatus int

func (s revokeStatus) Error() string { return fmt.Sprintf("provider: revoke answered %d", int(s)) }

// isUnauthorized reports whether err is the revocation endpoint's 401.
func isUnauthorized(err error) bool {
	var s revokeStatus
	return errors.As(err, &s) && s == http.StatusUnauthorized
}

// sanitize drops response bodies and URLs from vendor errors: a token
// endpoint's body or a URL may carry codes or tokens, and errors are logged.
func sanitize(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return &VendorError{Status: status, Code: ErrorCode(re.ErrorCode)}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &VendorError{Cause: ue.Op + " failed: " + errorText(ue.Err)}
	}
	var ve *VendorError
	if errors.As(err, &ve) {
		return ve
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "oauth2: cannot parse") {
		// x/oauth2 quotes pieces of an unreadable token response.
		msg = "oauth2: unreadable token response"
	}
	return &VendorError{Cause: msg}
}

// ErrorCode keeps an OAuth error code (RFC 6749, 6750, 7009, and the OpenID
// Connect authorization codes) and turns anything else a vendor sends into
// "unrecognised_error", so that no vendor text reaches a log or an answer.
func ErrorCode(code string) string {
	switch code {
	case "", "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
		"unsupported_grant_type", "invalid_scope", "access_denied", "unsupported_response_type",
		"server_error", "temporarily_unavailable", "unsupported_token_type", "invalid_token",
		"insufficient_scope", "interaction_required", "login_required", "consent_required",
		"account_selection_required":
		return code
	}
	return "unrecognised_error"
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return err.Error()
}

// VendorError is a failed call to a vendor, safe to log.
type VendorError struct {
	Status int    // HTTP status, if the vendor answered
	Code   string // OAuth error code, if any
	Cause  string
}

func (e *VendorError) Error() string {
	var b strings.Builder
	b.WriteString("vendor call failed")
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Cause != "" {
		b.WriteString(": " + e.Cause)
	}
	return b.String()
}
