package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vendors"
)

// DisconnectRequest is DELETE …/{vendor}?flow=app|user[&cascade=true].
type DisconnectRequest struct {
	Vendor  string
	Flow    string
	Cascade bool
}

// Disconnect removes a connection (and with cascade, every user connection
// under an app connection). The item goes first, in one transaction with the
// counters; then the grant is revoked at the vendor where it offers that, and
// the secret is scheduled for deletion with a recovery window.
func (s *Service) Disconnect(ctx context.Context, who Caller, r DisconnectRequest) error {
	v, err := lookupVendor(r.Vendor)
	if err != nil {
		return err
	}
	flow, err := connection.ParseLevel(r.Flow)
	if err != nil {
		return problem.New(http.StatusBadRequest, "invalid_flow", "flow must be app or user")
	}
	key := connection.UserKey(who.Account, v.ID, who.UserID)
	if flow == connection.LevelApp {
		if !who.AppManager {
			return problem.New(http.StatusForbidden, "forbidden", "only app managers can disconnect %s for the account", v.Name)
		}
		key = connection.AppKey(who.Account, v.ID)
	}
	if flow == connection.LevelUser {
		conn, err := s.Store.GetConnection(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return problem.New(http.StatusNotFound, "not_connected", "%s is not connected at %s level", v.Name, flow)
		}
		if err != nil {
			return err
		}
		if err := s.remove(ctx, v, conn, s.audit(conn, connection.AuditRemoved, who, s.now(), nil)); err != nil {
			return err
		}
	} else if err := s.disconnectApp(ctx, v, who, key, r.Cascade); err != nil {
		return err
	}
	s.log(ctx).InfoContext(ctx, "disconnected", "flow", string(flow), "cascade", r.Cascade)
	return nil
}

// disconnectApp removes the app-level connection, with its users when
// cascading. The removal is conditional on there being no user connection
// (the counter), so a user connecting meanwhile is either removed too or
// makes the removal retry; never an orphan under a missing app connection.
//
// Each connection removed gets its "removed" audit entry in the transaction
// that removes it (the users' marked as part of a cascade).
func (s *Service) disconnectApp(ctx context.Context, v vendors.Vendor, who Caller, key connection.Key, cascade bool) error {
	auditID := "" // one entry for the app connection, whatever the attempts
	for attempt := 0; ; attempt++ {
		conn, err := s.Store.GetConnection(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return problem.New(http.StatusNotFound, "not_connected", "%s is not connected at app level", v.Name)
		}
		if err != nil {
			return err
		}
		users, _, err := s.Store.ListUserConnections(ctx, key.Account, v.ID, "", 1)
		if err != nil {
			return err
		}
		if len(users) > 0 && !cascade {
			return problem.New(http.StatusConflict, "has_user_connections",
				"users are connected to %s; disconnect with cascade=true to remove them too", v.Name)
		}
		if len(users) > 0 {
			// With none, nothing is listed again: the removal's CheckNoUsers
			// refuses it if one connected meanwhile, and it is retried.
			if err := s.removeUsers(ctx, v, who, key.Account); err != nil {
				return err
			}
		}
		entry := s.audit(conn, connection.AuditRemoved, who, s.now(), nil)
		if len(users) > 0 {
			entry.Details = map[string]string{"cascade": "true"}
		}
		if auditID == "" {
			auditID = entry.ID
		}
		entry.ID = auditID
		err = s.remove(ctx, v, conn, entry, store.CheckNoUsers{Account: key.Account, Vendor: v.ID})
		var p *problem.Problem
		if err == nil || !errors.As(err, &p) || p.Code != "conflict" || attempt == 2 {
			return err
		}
	}
}

// removeUsers removes every user-level connection of the vendor, page by page.
func (s *Service) removeUsers(ctx context.Context, v vendors.Vendor, who Caller, account string) error {
	for {
		// Always read the first page: what was removed is gone from it.
		users, _, err := s.Store.ListUserConnections(ctx, account, v.ID, "", 50)
		if err != nil {
			return err
		}
		if len(users) == 0 {
			return nil
		}
		for _, u := range users {
			entry := s.audit(u, connection.AuditRemoved, who, s.now(), map[string]string{"cascade": "true"})
			if err := s.remove(ctx, v, u, entry); err != nil {
				return err
			}
		}
	}
}

// remove deletes one connection, with its audit entry, and then cleans up
// behind it.
func (s *Service) remove(ctx context.Context, v vendors.Vendor, c connection.Connection, entry connection.AuditEntry, checks ...store.Op) error {
	ops := append([]store.Op{store.DeleteConnection{Key: c.Key, Version: c.Version}, store.AppendAudit{Entry: entry}}, checks...)
	ops = append(ops, store.DeleteNotices(c)...)
	if c.Level == connection.LevelUser {
		connected := 0
		if !c.Expired {
			connected = -1
		}
		ops = append(ops, store.AdjustCounts{Account: c.Account, Vendor: c.Vendor, Total: -1, Connected: connected})
	}
	if err := s.Store.Apply(ctx, ops...); err != nil && !s.gone(ctx, c.Key) {
		if errors.Is(err, store.ErrConflict) {
			return problem.New(http.StatusConflict, "conflict", "%s changed meanwhile; try again", v.Name)
		}
		return fmt.Errorf("delete connection: %w", err)
	}
	// Deleted (also when the answer was lost, or the SDK's retry met its
	// own first attempt): revoke and delete the secret behind it, or
	// nothing would.
	s.revoke(ctx, v, c)
	if err := s.Vault.Delete(ctx, c.SecretName, s.SecretRecoveryDays); err != nil {
		s.log(ctx).WarnContext(ctx, "could not schedule the secret for deletion", "connection", c.Key.String(), "secret", c.SecretName, "error", err.Error())
	}
	return nil
}

// gone reports whether a connection is no longer stored.
func (s *Service) gone(ctx context.Context, k connection.Key) bool {
	_, err := s.Store.GetConnection(ctx, k)
	return errors.Is(err, store.ErrNotFound)
}

// revoke revokes a removed connection's grant at the vendor, best effort,
// unless that would end another connection of the account too (keepGrant).
func (s *Service) revoke(ctx context.Context, v vendors.Vendor, c connection.Connection) {
	if v.RevokeURL == "" || c.SecretVersion == "" ||
		s.keepGrant(ctx, v, c.Account, c.ConnectedUser.ID, &c.Key, "removed") {
		return
	}
	client, err := s.Clients.ForConnection(ctx, c)
	if err != nil {
		return
	}
	t, err := vault.GetTokens(ctx, s.Vault, c.SecretName, c.SecretVersion)
	if err == nil {
		err = client.Revoke(ctx, grantTokens(t))
	}
	if err != nil {
		s.log(ctx).WarnContext(ctx, "could not revoke the grant at the vendor", "connection", c.Key.String(), "error", err.Error())
	}
}

// grantTokens are stored tokens as the vendor client takes them.
func grantTokens(t vault.Tokens) *oauth2.Token {
	return &oauth2.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, Expiry: t.AccessTokenExpiresAt}
}
