package lifecycle

import (
	"context"
	"errors"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vendors"
)

// keepGrant reports whether a grant of the vendor user userID must not be
// revoked because the revocation would end another connection too. That is
// so only for a vendor whose revocation ends every grant the vendor user
// gave the app (vendors.Vendor.RevokeEndsAccountGrant), when another
// connection of the account than except (the one removed or replaced; nil
// for none) is held by that vendor user. An unknown vendor user ("") or a
// failed lookup keeps the grant too: a grant left unrevoked is safer than a
// live connection ended. Every kept grant is logged, with why. Only the
// account's own connections can be seen: one of another account held by the
// same vendor user still ends with the revocation.
func (s *Service) keepGrant(ctx context.Context, v vendors.Vendor, account, userID string, except *connection.Key, grant string) bool {
	if !v.RevokeEndsAccountGrant {
		return false
	}
	why := "revoking ends every grant the vendor user gave the app"
	if userID == "" {
		s.log(ctx).InfoContext(ctx, "grant not revoked: the vendor user is unknown, and "+why, "grant", grant)
		return true
	}
	holder, found, err := s.heldBy(ctx, v, account, userID, except)
	switch {
	case err != nil:
		s.log(ctx).WarnContext(ctx, "grant not revoked: could not check whether another connection is held by the same vendor user, and "+why, "grant", grant, "error", err.Error())
		return true
	case found:
		s.log(ctx).InfoContext(ctx, "grant not revoked: another connection is held by the same vendor user, and "+why, "grant", grant, "heldBy", holder.String())
		return true
	}
	return false
}

// heldBy finds a connection of the account's vendor, other than except,
// whose connected vendor user is userID: the app level, then the user
// levels.
func (s *Service) heldBy(ctx context.Context, v vendors.Vendor, account, userID string, except *connection.Key) (connection.Key, bool, error) {
	held := func(c connection.Connection) bool {
		return c.ConnectedUser.ID == userID && (except == nil || c.Key != *except)
	}
	app, err := s.Store.GetConnection(ctx, connection.AppKey(account, v.ID))
	switch {
	case err == nil && held(app):
		return app.Key, true, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return connection.Key{}, false, err
	}
	page := ""
	for {
		users, next, err := s.Store.ListUserConnections(ctx, account, v.ID, page, 100)
		if err != nil {
			return connection.Key{}, false, err
		}
		for _, u := range users {
			if held(u) {
				return u.Key, true, nil
			}
		}
		if next == "" {
			return connection.Key{}, false, nil
		}
		page = next
	}
}
