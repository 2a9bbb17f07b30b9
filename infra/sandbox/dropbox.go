package sandbox

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultDropbox is Dropbox's token lifetimes: access tokens live four
// hours; refresh tokens never expire (Lifetimes.Refresh is not used).
var DefaultDropbox = Lifetimes{Access: 4 * time.Hour}

// dropboxScopes are the sandbox app's permissions: what an authorization
// without a scope parameter is granted ("If left blank, will default to
// all scopes for app", Dropbox's Python SDK, oauth.py).
const dropboxScopes = "account_info.read files.metadata.read files.content.read"

// dropbox is what Dropbox speaks: /oauth2/authorize on www.dropbox.com,
// /oauth2/token and the RPC endpoints /2/… on api.dropboxapi.com, both at
// /_sandbox/dropbox. A refresh token only for token_access_type=offline,
// never rotated and never expiring (a refresh answers access_token,
// token_type "bearer", expires_in and scope only); the client
// authenticates with HTTP Basic or in the form body; PKCE S256; 400
// invalid_grant for bad codes and dead refresh tokens ("refresh token is
// invalid or revoked", as in Dropbox's Java SDK's tests). The account is
// a personal one, or with sandbox_site=<name> a member of that team: a
// Dropbox account belongs to one team at most. /2/auth/token/revoke
// takes a live access token as Bearer and ends its whole grant.
var dropbox = dialect{
	name:          "Dropbox",
	route:         (*Server).routeDropbox,
	defaultSite:   "", // a personal account
	defaultScope:  dropboxScopes,
	basicAuth:     true,
	alwaysRefresh: true,
	offline:       [2]string{"token_access_type", "offline"},
	rules:         Rules{Expiry: ExpiryNever},
	invalidCode: func(desc string) reply {
		return reply{http.StatusBadRequest, oauthError{"invalid_grant", desc}}
	},
	deadRefresh: reply{http.StatusBadRequest, oauthError{"invalid_grant", "refresh token is invalid or revoked"}},
	answer:      dropboxAnswer,
	lifetimes: func(Config) (Lifetimes, Lifetimes) {
		return DefaultDropbox, Lifetimes{}
	},
}

func init() { speak("dropbox", &dropbox) }

// dropboxToken is Dropbox's token answer: lower-case "bearer", and with a
// code exchange the account's ids (uid, account_id).
type dropboxToken struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	UID          string `json:"uid,omitempty"`
	AccountID    string `json:"account_id,omitempty"`
}

func dropboxAnswer(g *grant, t tokenResponse, refreshed bool) any {
	out := dropboxToken{AccessToken: t.AccessToken, TokenType: "bearer", ExpiresIn: t.ExpiresIn, Scope: t.Scope}
	if !refreshed {
		out.RefreshToken = t.RefreshToken
		out.UID, out.AccountID = DropboxUID(g.user), DropboxAccountID(g.user)
	}
	return out
}

// routeDropbox serves /_sandbox/dropbox/..., which stands for both
// https://www.dropbox.com and https://api.dropboxapi.com.
func (s *Server) routeDropbox(w http.ResponseWriter, r *http.Request, vendorID string, d *dialect, rest []string) bool {
	switch strings.Join(rest, "/") {
	case "oauth2/authorize":
		if strings.Contains(r.URL.Query().Get("sandbox_site"), ",") {
			badAuthorize(w, "sandbox_site names one Dropbox team: an account belongs to one team at most")
			return true
		}
		s.authorize(w, r, vendorID, d, "")
	case "oauth2/token":
		s.token(w, r, vendorID, d, "")
	case "2/users/get_current_account":
		if g, ok := s.dropboxRPC(w, r, vendorID, "users/get_current_account"); ok {
			s.dropboxAccount(w, g)
		}
	case "2/auth/token/revoke":
		if g, ok := s.dropboxRPC(w, r, vendorID, "auth/token/revoke"); ok {
			s.mu.Lock()
			g.revoked = true // every token of the grant
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, nil)
		}
	default:
		return false
	}
	return true
}

// dropboxRPC starts an RPC endpoint that takes no argument: POST, with no
// body (or the JSON null), and a live access token as Bearer. It answers
// an outage, another method, a body and a missing, dead or expired token
// as Dropbox does, and otherwise returns the token's grant.
func (s *Server) dropboxRPC(w http.ResponseWriter, r *http.Request, vendorID, route string) (*grant, bool) {
	if s.inOutage(w, vendorID) || !allow(w, r, http.MethodPost) {
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body = bytes.TrimSpace(body)
	switch {
	case err != nil || len(body) > 0 && string(body) != "null":
		dropboxBadInput(w, route, "request body: could not decode input as JSON")
		return nil, false
	case len(body) == 0 && ct == "application/json":
		dropboxBadInput(w, route, "request body: could not decode input as JSON")
		return nil, false
	case len(body) > 0 && ct != "application/json":
		dropboxBadInput(w, route, `Bad HTTP "Content-Type" header: "`+ct+`". Expecting one of "application/json", "application/json; charset=utf-8", "text/plain; charset=dropbox-cors-hack".`)
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.liveAccessLocked(r, vendorID)
	if a == nil {
		tag := "invalid_access_token"
		_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if e := s.access[strings.TrimSpace(tok)]; e != nil && !e.g.revoked && e.g.vendor == vendorID {
			tag = "expired_access_token" // known, and dead of age only
		}
		dropboxAuthError(w, map[string]string{".tag": tag})
		return nil, false
	}
	return a.g, true
}

// dropboxAuthError is the API's 401: an AuthError.
func dropboxAuthError(w http.ResponseWriter, e map[string]string) {
	writeJSON(w, http.StatusUnauthorized, map[string]any{"error_summary": e[".tag"] + "/", "error": e})
}

// dropboxBadInput is the API's 400: plain text.
func dropboxBadInput(w http.ResponseWriter, route, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, `Error in call to API function "`+route+`": `+msg)
}

// dropboxAccount answers users/get_current_account (needs
// account_info.read): a FullAccount, with the team of a team member.
func (s *Server) dropboxAccount(w http.ResponseWriter, g *grant) {
	if !hasScope(g.scope, "account_info.read") {
		dropboxAuthError(w, map[string]string{".tag": "missing_scope", "required_scope": "account_info.read"})
		return
	}
	given, _, _ := strings.Cut(displayName(g.user), " ")
	acct := map[string]any{
		"account_id": DropboxAccountID(g.user),
		"name": map[string]string{
			"given_name": given, "surname": "User", "familiar_name": given,
			"display_name": displayName(g.user), "abbreviated_name": given[:1] + "U",
		},
		"email":          emailOf(g.user, "example.com"),
		"email_verified": true,
		"disabled":       false,
		"country":        "US",
		"locale":         "en",
		"referral_link":  "https://db.tt/sandbox",
		"is_paired":      false,
		"account_type":   map[string]string{".tag": "basic"},
	}
	if team := g.sites[0]; team != "" {
		acct["team"] = map[string]any{"id": DropboxTeamID(team), "name": team}
		acct["team_member_id"] = "dbmid:" + stableHex(32, "dropbox-member", team, strings.ToLower(g.user))
		acct["account_type"] = map[string]string{".tag": "business"}
	}
	writeJSON(w, http.StatusOK, acct)
}

// DropboxAccountID is the stable account id the sandbox gives a login.
func DropboxAccountID(login string) string {
	return "dbid:" + stableHex(40, "dropbox-account", strings.ToLower(login))
}

// DropboxUID is the stable legacy user id (decimal) the sandbox gives a
// login.
func DropboxUID(login string) string {
	n, _ := strconv.ParseUint(stableHex(12, "dropbox-uid", strings.ToLower(login)), 16, 64)
	return strconv.FormatUint(n, 10)
}

// DropboxTeamID is the stable team id the sandbox gives a team name.
func DropboxTeamID(team string) string {
	return "dbtid:" + stableHex(40, "dropbox-team", strings.ToLower(team))
}
