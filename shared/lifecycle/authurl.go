package lifecycle

import (
	"context"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/provider"
)

// stateBytes is the randomness of a state: 256 bits, sent as lower-case
// hex (the callback refuses any other shape before a lookup).
const stateBytes = 32

// AuthURLRequest is GET …/{vendor}/oauth2/url.
type AuthURLRequest struct {
	Vendor string
	Flow   string
	Action string
}

// AuthURL is where to send the browser, and until when it works.
type AuthURL struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// StartAuthorization runs the pre-checks (in the documented order), stores a
// single-use state bound to the caller, and returns the vendor's
// authorization URL.
func (s *Service) StartAuthorization(ctx context.Context, who Caller, r AuthURLRequest) (AuthURL, error) {
	v, err := lookupVendor(r.Vendor)
	if err != nil {
		return AuthURL{}, err
	}
	flow, err := connection.ParseLevel(r.Flow)
	if err != nil {
		return AuthURL{}, problem.New(http.StatusBadRequest, "invalid_flow", "flow must be app or user")
	}
	action, err := connection.ParseAction(r.Action)
	if err != nil {
		return AuthURL{}, problem.New(http.StatusBadRequest, "invalid_action", "action must be reconnect or changeUser")
	}
	if flow == connection.LevelApp && !who.AppManager {
		return AuthURL{}, problem.New(http.StatusForbidden, "forbidden", "only app managers can connect %s for the account", v.Name)
	}
	snaps, err := s.Store.Snapshot(ctx, who.Account, who.UserID, []string{v.ID})
	if err != nil {
		return AuthURL{}, err
	}
	snap := snaps[v.ID]
	if v.NeedsSettings() && snap.Settings == nil {
		return AuthURL{}, provider.NotConfigured(v)
	}
	if flow == connection.LevelUser && snap.App == nil {
		return AuthURL{}, problem.New(http.StatusConflict, "app_not_connected", "%s is not connected for the account yet; an app manager connects it first", v.Name)
	}
	existing := snap.App
	if flow == connection.LevelUser {
		existing = snap.User
	}
	if action == connection.ActionConnect && existing != nil {
		return AuthURL{}, problem.New(http.StatusConflict, "already_connected", "%s is already connected; use reconnect or changeUser", v.Name)
	}
	if action != connection.ActionConnect && existing == nil {
		return AuthURL{}, problem.New(http.StatusConflict, "not_connected", "%s is not connected, so there is nothing to %s", v.Name, action)
	}
	client, err := s.Clients.Client(ctx, v, snap.Settings, "")
	if err != nil {
		return AuthURL{}, err
	}
	now := s.now()
	ttl := s.StateTTL
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	st := connection.AuthState{
		Nonce:     randomHex(stateBytes),
		Account:   who.Account,
		UserID:    who.UserID,
		Email:     who.Email,
		Name:      who.Name,
		Vendor:    v.ID,
		Flow:      flow,
		Action:    action,
		Instance:  client.Instance,
		CreatedAt: now,
		ExpiresAt: now.Add(ttl),
	}
	if v.PKCE {
		st.Verifier = oauth2.GenerateVerifier()
	}
	if err := s.Store.PutState(ctx, st); err != nil {
		return AuthURL{}, err
	}
	s.log(ctx).InfoContext(ctx, "authorization started", "flow", string(flow), "action", string(action))
	return AuthURL{URL: client.AuthCodeURL(st.Nonce, st.Verifier), ExpiresAt: st.ExpiresAt}, nil
}
