package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/integrations"
	"github.com/workplace/connections/shared/lease"
	"github.com/workplace/connections/shared/lifetime"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vendors"
)

// CallbackRequest is what the frontend's callback page received from the
// vendor and posts with the user's own JWT.
type CallbackRequest struct {
	Vendor           string `json:"-"`
	State            string `json:"state"`
	Code             string `json:"code,omitempty"`
	Error            string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
	// Issuer is the authorization response's iss (RFC 9207), when the
	// vendor sent one.
	Issuer string `json:"iss,omitempty"`
}

// CallbackResult is the answer of a successful callback.
type CallbackResult struct {
	Vendor      string            `json:"vendor"`
	Flow        connection.Level  `json:"flow"`
	Action      connection.Action `json:"action"`
	Status      connection.Status `json:"status"`
	UserChanged bool              `json:"userChanged"`
	Connection  integrations.View `json:"connection"`
}

// wellFormedState reports whether s has the shape of the states
// StartAuthorization issues: stateBytes random bytes, lower-case hex.
func wellFormedState(s string) bool {
	if len(s) != 2*stateBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func invalidState() error {
	return problem.New(http.StatusBadRequest, "invalid_state", "the authorization is unknown, expired, already used or not yours; start again")
}

func vendorError(v vendors.Vendor, what string) error {
	return problem.New(http.StatusBadGateway, "vendor_error", "%s did not complete the %s; nothing was changed, try again", v.Name, what)
}

// deficientGrant is 502 vendor_error for a grant without a refresh token or
// a required scope.
func deficientGrant(v vendors.Vendor, reason string, missing []string) error {
	msg := fmt.Sprintf("%s issued no refresh token, so the connection could not be kept alive", v.Name)
	if reason == provider.ReasonScopeNotGranted {
		msg = fmt.Sprintf("%s did not grant the scopes this integration needs (%s)", v.Name, strings.Join(missing, ", "))
	}
	return problem.New(http.StatusBadGateway, "vendor_error", "%s; nothing was changed. Try again, and approve every permission asked for", msg).With("reason", reason)
}

// CompleteAuthorization finishes an authorization: it consumes the state
// (single use, bound to the caller), exchanges the code, asks the vendor who
// authorized and on which site, then connects, reconnects or changes the user
// as the state says. On any refusal or failure the existing connection is
// untouched and tokens obtained for nothing are revoked where possible.
func (s *Service) CompleteAuthorization(ctx context.Context, who Caller, r CallbackRequest) (CallbackResult, error) {
	v, err := lookupVendor(r.Vendor)
	if err != nil {
		return CallbackResult{}, err
	}
	if !wellFormedState(r.State) {
		// Truncated, padded, or never ours: unknown, whatever else the
		// body holds or lacks. Nothing is looked up.
		return CallbackResult{}, invalidState()
	}
	if r.Code == "" && r.Error == "" {
		return CallbackResult{}, problem.New(http.StatusBadRequest, "invalid_body", "the body needs state and either code or error")
	}
	st, err := s.Store.ConsumeState(ctx, r.State, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return CallbackResult{}, invalidState()
	}
	if err != nil {
		return CallbackResult{}, err
	}
	if st.Account != who.Account || st.UserID != who.UserID || st.Vendor != v.ID {
		s.log(ctx).WarnContext(ctx, "state presented by someone it was not issued to", "flow", string(st.Flow))
		return CallbackResult{}, invalidState()
	}
	log := s.log(ctx).With("flow", string(st.Flow), "action", string(st.Action))
	if !v.IssuerMatches(r.Issuer, st.Instance) {
		// A mix-up (RFC 9207): the response comes from another
		// authorization server than the one this state was sent to. The
		// code goes nowhere and the state stays spent.
		log.WarnContext(ctx, "authorization response of another issuer", "issPresent", r.Issuer != "")
		return CallbackResult{}, problem.New(http.StatusBadRequest, "issuer_mismatch",
			"the authorization response does not come from %s's authorization server; nothing was changed, start again", v.Name)
	}
	if r.Error != "" {
		// Only access_denied is the person saying no. Every other code
		// (invalid_request, unauthorized_client, invalid_scope,
		// server_error, …) is a configuration or vendor problem.
		code := provider.ErrorCode(r.Error)
		if code == "access_denied" {
			log.InfoContext(ctx, "authorization denied at the vendor", "vendorError", code)
			return CallbackResult{}, problem.New(http.StatusBadRequest, "authorization_denied", "%s did not authorize the connection (%s)", v.Name, code).With("vendorError", code)
		}
		log.WarnContext(ctx, "authorization failed at the vendor", "vendorError", code)
		return CallbackResult{}, problem.New(http.StatusBadGateway, "vendor_error",
			"%s could not authorize the connection (%s): a configuration or vendor problem, not a refusal; nothing was changed", v.Name, code).With("vendorError", code)
	}
	if st.Flow == connection.LevelApp && !who.AppManager {
		return CallbackResult{}, problem.New(http.StatusForbidden, "forbidden", "only app managers can connect %s for the account", v.Name)
	}
	// One read of the account's settings and the connection the outcome
	// touches: the settings build the client, and a lease on the
	// connection is waited for before the code is used.
	snaps, err := s.Store.Snapshot(ctx, who.Account, who.UserID, []string{v.ID})
	if err != nil {
		return CallbackResult{}, err
	}
	pre := snaps[v.ID]
	set := pre.Settings
	if v.Credentials == vendors.PerAccount && set != nil && !strings.EqualFold(set.InstanceURL, st.Instance) {
		// The settings moved meanwhile: the code belongs to the old
		// instance, which the account's client no longer goes with.
		return CallbackResult{}, problem.New(http.StatusConflict, "site_mismatch",
			"the %s instance changed since this authorization started; nothing was changed, start again", v.Name)
	}
	client, err := s.Clients.Client(ctx, v, set, st.Instance)
	if err != nil {
		return CallbackResult{}, err
	}
	lw := s.leaseWaiter(ctx)
	if st.Action != connection.ActionConnect {
		// A repair that meets the scan at work on the connection waits for
		// it before the code is used: if the wait runs out, the code is
		// still unspent at the vendor.
		existing := pre.App
		if st.Flow == connection.LevelUser {
			existing = pre.User
		}
		if err := s.awaitLease(ctx, lw, v, connKey(who, v, st.Flow), existing); err != nil {
			log.InfoContext(ctx, "authorization refused", "code", "conflict", "waited", lw.Waited().String())
			return CallbackResult{}, err
		}
	}

	tok, err := client.Exchange(ctx, r.Code, st.Verifier)
	if err != nil {
		log.WarnContext(ctx, "code exchange failed", "error", err.Error())
		return CallbackResult{}, vendorError(v, "authorization")
	}
	if reason, missing := provider.Deficient(v, tok); reason != "" {
		// Stored, such a grant would look healthy until its first refresh
		// failed (as an outage, never as a dead grant).
		log.WarnContext(ctx, "grant refused: it lacks what every grant needs", "reason", reason, "missingScopes", missing)
		// Who granted it is not known: where revoking ends every grant
		// of that vendor user, it is kept (discard).
		s.discard(ctx, v, client, tok, who.Account, "")
		return CallbackResult{}, deficientGrant(v, reason, missing)
	}
	var granter connection.Identity // who authorized, once apply learns it
	res, after, err := s.apply(ctx, v, client, set, st, who, tok, lw, &granter)
	if lw.Waited() > 0 {
		log.InfoContext(ctx, "waited for a lease on the connection", "waited", lw.Waited().String())
	}
	if err != nil {
		if !errors.As(err, new(maybeStored)) {
			s.discard(ctx, v, client, tok, who.Account, granter.ID)
		}
		var p *problem.Problem
		if errors.As(err, &p) {
			log.InfoContext(ctx, "authorization refused", "code", p.Code)
		}
		return CallbackResult{}, err
	}
	log.InfoContext(ctx, "authorization completed", "userChanged", res.UserChanged)
	// The change is stored: the answer is built from what was written,
	// not read back.
	res.Connection = integrations.Build(v, after, integrations.Options{
		Now: s.now(), WarningWindow: s.WarningWindow, AppManager: who.AppManager, UserLevel: true,
	})
	return res, nil
}

// maybeStored is a failed write whose outcome is unknown.
type maybeStored struct{ error }

func (m maybeStored) Unwrap() error { return m.error }

// apply checks who authorized and where, and writes the outcome. An error
// other than maybeStored means nothing was stored (the caller discards the
// new tokens). The vendor user who authorized goes to granter as soon as
// it is known. It returns the vendor's snapshot as the write left it.
//
// A repair never races the expiry scan: while the connection's lease is
// held it waits (lw bounds the wait), and a write that meets a change the
// scan made meanwhile (a lease taken, a refresh saved) reads the connection
// again and applies to it. A change by another repair (a new generation) is
// 409 conflict.
func (s *Service) apply(ctx context.Context, v vendors.Vendor, client *provider.Client, set *connection.Settings, st connection.AuthState, who Caller, tok *oauth2.Token, lw *lease.Waiter, granter *connection.Identity) (CallbackResult, connection.VendorSnapshot, error) {
	var none connection.VendorSnapshot
	ident, err := client.Identify(ctx, tok)
	if err != nil {
		s.log(ctx).WarnContext(ctx, "identity lookup failed", "error", err.Error())
		return CallbackResult{}, none, vendorError(v, "identity lookup")
	}
	*granter = ident.User
	key := connKey(who, v, st.Flow)
	now := s.now()
	person := connection.Person{UserID: who.UserID, Email: who.Email, Name: who.Name}
	exp := lifetime.Authorized(v, set, tok, now)
	tokens := exp.Tokens(tok)
	version := ""    // the secret version holding tok, once written
	generation := -1 // the generation a repair started from
	// The audit entry's id is fixed once: every write of this outcome
	// records it under the same id (it is the change's event id too).
	auditID := connection.NewAuditID()
	for attempt := 1; ; attempt++ {
		// Read again after the exchange and the identity lookup: a lease
		// the scan took meanwhile is waited for before any token is
		// written.
		snaps, err := s.Store.Snapshot(ctx, who.Account, who.UserID, []string{v.ID})
		if err != nil {
			return CallbackResult{}, none, err
		}
		snap := snaps[v.ID]
		existing := snap.App
		if st.Flow == connection.LevelUser {
			existing = snap.User
			if snap.App == nil {
				return CallbackResult{}, none, problem.New(http.StatusConflict, "app_not_connected", "%s is no longer connected for the account", v.Name)
			}
		}
		instance, siteID, err := chooseSite(v, ident, set, st, snap.App, existing)
		if err != nil {
			return CallbackResult{}, none, err
		}
		res := CallbackResult{Vendor: v.ID, Flow: st.Flow, Action: st.Action, Status: connection.StatusConnected}

		var ops []store.Op // besides the connection's own write
		var conn connection.Connection
		switch st.Action {
		case connection.ActionConnect:
			if existing != nil {
				return CallbackResult{}, none, problem.New(http.StatusConflict, "already_connected", "%s was connected meanwhile", v.Name)
			}
			conn = connection.Connection{Key: key, ID: randomHex(16), CreatedAt: now}
			conn.SecretName = vault.ConnectionSecretName(s.SecretPrefix, key.Account, key.Vendor, string(key.Level), key.UserID)
			if key.Level == connection.LevelUser {
				ops = append(ops, store.AdjustCounts{Account: key.Account, Vendor: key.Vendor, Total: 1, Connected: 1},
					// Only under an app connection that still exists.
					store.CheckConnection{Key: connection.AppKey(key.Account, key.Vendor)})
			}
		default:
			if existing == nil {
				return CallbackResult{}, none, problem.New(http.StatusConflict, "not_connected", "%s is no longer connected; connect it instead", v.Name)
			}
			if generation >= 0 && existing.Generation != generation {
				// Another repair won meanwhile.
				return CallbackResult{}, none, changedMeanwhile(v)
			}
			generation = existing.Generation
			if st.Action == connection.ActionReconnect && existing.ConnectedUser.ID != ident.User.ID {
				return CallbackResult{}, none, problem.New(http.StatusConflict, "user_mismatch",
					"%s was authorized by a different %s user than the connected one; use Change User to switch people", v.Name, v.Name)
			}
			if lease.Held(*existing, s.now()) {
				// The expiry scan is working on it (a refresh, a notice):
				// let it finish rather than race its notice of the old
				// generation, then apply to what it saved.
				if !lw.Wait(ctx) {
					return CallbackResult{}, none, busy(v)
				}
				continue
			}
			conn = *existing
			res.UserChanged = existing.ConnectedUser.ID != ident.User.ID
			// The old generation's notices go with the repair.
			ops = append(ops, store.DeleteNotices(*existing)...)
			conn.Generation++
			if key.Level == connection.LevelUser && existing.Expired {
				ops = append(ops, store.AdjustCounts{Account: key.Account, Vendor: key.Vendor, Connected: 1})
			}
		}
		conn.Instance, conn.SiteID = instance, siteID
		conn.ConnectedUser = ident.User
		conn.ConnectedBy = person
		conn.GrantedScope = provider.GrantedScope(v, tok)
		conn.GrantedAt, conn.LastRefreshedAt = now, now
		exp.Apply(&conn)
		conn.Expired, conn.ExpiredAt, conn.ExpiredReason = false, time.Time{}, ""
		conn.VendorErrorSince = time.Time{}
		conn.UpdatedAt = now
		conn.NextCheckAt = lifetime.NextCheck(v, conn, lifetime.Checks{Warning: s.WarningWindow, Idle: s.IdleCheck}, false)

		if version == "" {
			// Tokens first: a failure after this leaves the item pointing at
			// the previous version, which still holds the previous tokens.
			// Written once, however often the item write is tried.
			version, err = vault.PutTokens(ctx, s.Vault, conn.SecretName, tokens)
			if err != nil {
				// The write may have happened with its answer lost.
				s.log(ctx).WarnContext(ctx, "tokens not stored; a secret version nothing uses may have been written", "secret", conn.SecretName, "error", err.Error())
				return CallbackResult{}, none, fmt.Errorf("store tokens: %w", err)
			}
		}
		conn.SecretVersion = version
		entry := s.audit(conn, connection.AuditConnected, who, now, identityDetails(nil, "user", "userEmail", ident.User))
		switch {
		case existing == nil:
		case res.UserChanged:
			entry.Action = connection.AuditUserChanged
			identityDetails(entry.Details, "previousUser", "previousUserEmail", existing.ConnectedUser)
		default:
			entry.Action = connection.AuditReconnected
		}
		entry.ID = auditID
		ops = append(ops, store.AppendAudit{Entry: entry})
		if existing == nil {
			ops = append([]store.Op{store.CreateConnection{Conn: conn}}, ops...)
		} else {
			ops = append([]store.Op{store.UpdateConnection{Conn: conn}}, ops...)
		}
		err = s.Store.Apply(ctx, ops...)
		if errors.Is(err, store.ErrConflict) && s.wrote(ctx, conn) {
			// Our own write, retried by the SDK after its answer was lost:
			// the retry met the condition our first attempt had changed.
			err = nil
		}
		if err != nil {
			unused := func() {
				s.log(ctx).WarnContext(ctx, "connection not saved; its new secret version may be unused", "secret", conn.SecretName, "version", version, "error", err.Error())
			}
			if errors.Is(err, store.ErrConflict) {
				if st.Action == connection.ActionConnect {
					unused()
					return CallbackResult{}, none, problem.New(http.StatusConflict, "already_connected", "%s was connected meanwhile", v.Name)
				}
				if attempt < maxRepairWrites {
					// The connection moved since it was read (the scan
					// took its lease or saved a refresh, or another repair
					// won): read it again.
					continue
				}
				unused()
				return CallbackResult{}, none, changedMeanwhile(v)
			}
			unused()
			// Not a refusal: the write may have happened (a timeout after the
			// commit), so its tokens may be in use and must not be discarded.
			return CallbackResult{}, none, maybeStored{fmt.Errorf("save connection: %w", err)}
		}
		if res.UserChanged && existing != nil {
			s.revokeOld(ctx, v, client, *existing)
		}
		after := snap
		if key.Level == connection.LevelUser {
			after.User = &conn
		} else {
			after.App = &conn
		}
		for _, op := range ops {
			if a, ok := op.(store.AdjustCounts); ok {
				after.Counts.Total += a.Total
				after.Counts.Connected += a.Connected
			}
		}
		return res, after, nil
	}
}

// maxRepairWrites bounds the writes of one repair that meets changes of
// the connection (each is a scan's lease or save: few).
const maxRepairWrites = 5

func changedMeanwhile(v vendors.Vendor) error {
	return problem.New(http.StatusConflict, "conflict", "%s changed meanwhile; nothing was changed, try again", v.Name)
}

// busy is 409 conflict for a repair that waited its bound for the scan's
// lease on the connection. Not 503 with Retry-After: the state is spent, so
// the same request can never succeed; the person starts again.
func busy(v vendors.Vendor) error {
	return problem.New(http.StatusConflict, "conflict",
		"%s is being refreshed right now and that did not finish in time; nothing was changed, start again in a moment", v.Name)
}

// connKey is the key of the connection a callback connects or repairs.
func connKey(who Caller, v vendors.Vendor, flow connection.Level) connection.Key {
	if flow == connection.LevelUser {
		return connection.UserKey(who.Account, v.ID, who.UserID)
	}
	return connection.AppKey(who.Account, v.ID)
}

// awaitLease waits (bounded by lw) until nobody holds the lease of the
// connection at k, as read already (c, nil when not there), then read
// again after each wait; a connection that is not there is not waited for.
func (s *Service) awaitLease(ctx context.Context, lw *lease.Waiter, v vendors.Vendor, k connection.Key, c *connection.Connection) error {
	for {
		if c == nil || !lease.Held(*c, s.now()) {
			return nil
		}
		if !lw.Wait(ctx) {
			return busy(v)
		}
		cur, err := s.Store.GetConnection(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		c = &cur
	}
}

const (
	// leasePoll is how often a waiting callback looks at the lease again.
	leasePoll = 500 * time.Millisecond
	// leaseReserve is what a wait always leaves of the request's deadline
	// for the code exchange, the identity lookup and the writes.
	leaseReserve = 8 * time.Second
)

// leaseWaiter is one callback's budget of waiting for leases: LeaseWait
// (default 10 s) in all, polled every leasePoll.
func (s *Service) leaseWaiter(ctx context.Context) *lease.Waiter {
	budget := s.LeaseWait
	if budget <= 0 {
		budget = 10 * time.Second
	}
	return lease.NewWaiter(ctx, lease.Options{Budget: budget, Reserve: leaseReserve, Poll: leasePoll, Sleep: s.Sleep})
}

// wrote reports whether the stored connection is the one just written (it
// points at the secret version only this write created).
func (s *Service) wrote(ctx context.Context, c connection.Connection) bool {
	cur, err := s.Store.GetConnection(ctx, c.Key)
	return err == nil && cur.SecretVersion != "" && cur.SecretVersion == c.SecretVersion
}

// chooseSite decides the instance or site of the new grant, refusing one
// that differs from the connection being repaired or the app level.
func chooseSite(v vendors.Vendor, ident provider.Who, set *connection.Settings, st connection.AuthState, app, existing *connection.Connection) (string, string, error) {
	mismatch := func(want string) error {
		return problem.New(http.StatusConflict, "site_mismatch", "%s was authorized on another site than %s; nothing was changed", v.Name, want)
	}
	// The connection whose site the outcome must be on, if any.
	var ref *connection.Connection
	switch {
	case existing != nil:
		ref = existing
	case st.Flow == connection.LevelUser && app != nil:
		ref = app
	}
	want := ""
	if ref != nil {
		want = ref.Instance
	}
	if !v.SiteChoice {
		// The site is the account's instance (ServiceNow), or the one
		// site, tenant, domain or team the identity lookup reports
		// (none: a personal account); a grant elsewhere than ref's is
		// refused, whichever way the site is known.
		if len(ident.Sites) > 1 {
			return "", "", problem.New(http.StatusBadGateway, "vendor_error",
				"%s reported several sites for one grant; nothing was changed", v.Name)
		}
		instance, siteID := st.Instance, ""
		if len(ident.Sites) == 1 {
			siteID = ident.Sites[0].ID
			if instance == "" {
				instance = ident.Sites[0].URL
			}
		}
		if ref != nil && (!strings.EqualFold(ref.Instance, instance) || ref.SiteID != siteID) {
			if want == "" {
				want = "the connected one"
			}
			return "", "", mismatch(want)
		}
		return instance, siteID, nil
	}
	pick := func(url string) (provider.Site, bool) {
		for _, s := range ident.Sites {
			if strings.EqualFold(s.URL, strings.TrimRight(url, "/")) {
				return s, true
			}
		}
		return provider.Site{}, false
	}
	if want != "" {
		s, ok := pick(want)
		if !ok {
			return "", "", mismatch(want)
		}
		return s.URL, s.ID, nil
	}
	if set != nil && set.SiteURL != "" {
		s, ok := pick(set.SiteURL)
		if !ok {
			return "", "", mismatch(set.SiteURL)
		}
		return s.URL, s.ID, nil
	}
	if len(ident.Sites) == 1 {
		return ident.Sites[0].URL, ident.Sites[0].ID, nil
	}
	sites := make([]map[string]string, 0, len(ident.Sites))
	for _, s := range ident.Sites {
		sites = append(sites, map[string]string{"url": s.URL, "name": s.Name})
	}
	return "", "", problem.New(http.StatusConflict, "site_choice_required",
		"the grant covers several %s sites; choose one in the settings (siteUrl) and connect again", v.Name).With("sites", sites)
}

// discard revokes tokens obtained for an outcome that was refused.
// granter is the vendor user who authorized them ("" when not learned):
// where revoking ends every grant of that vendor user (Google), the tokens
// are kept while a connection of the account is held by them (the fresh
// grant is theirs too), or when who they are is not known.
func (s *Service) discard(ctx context.Context, v vendors.Vendor, client *provider.Client, tok *oauth2.Token, account, granter string) {
	if !client.CanRevoke() || s.keepGrant(ctx, v, account, granter, nil, "discarded") {
		return
	}
	if err := client.Revoke(ctx, tok); err != nil {
		s.log(ctx).WarnContext(ctx, "could not revoke discarded tokens", "error", err.Error())
	}
}

// revokeOld revokes the grant a change of user replaced, unless that
// would end another connection of the account too (keepGrant).
func (s *Service) revokeOld(ctx context.Context, v vendors.Vendor, client *provider.Client, old connection.Connection) {
	if !client.CanRevoke() || old.SecretVersion == "" ||
		s.keepGrant(ctx, v, old.Account, old.ConnectedUser.ID, &old.Key, "replaced") {
		return
	}
	t, err := vault.GetTokens(ctx, s.Vault, old.SecretName, old.SecretVersion)
	if err == nil {
		err = client.Revoke(ctx, grantTokens(t))
	}
	if err != nil {
		s.log(ctx).WarnContext(ctx, "could not revoke the replaced grant", "error", err.Error())
	}
}
