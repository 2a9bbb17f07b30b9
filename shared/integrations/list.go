package integrations

import (
	"context"
	"time"

	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vendors"
)

// Lister lists an account's integrations.
type Lister struct {
	Store         store.Store
	Now           func() time.Time
	WarningWindow time.Duration
}

// Query is what the caller asked for.
type Query struct {
	Account, UserID string
	Type            vendors.Type // "" for all
	AppManager      bool
	UserLevel       bool
}

// List returns one view per vendor of the type, in registry order, from a
// single store snapshot (its cost does not grow with the account's users).
func (l Lister) List(ctx context.Context, q Query) ([]View, error) {
	vs := vendors.OfType(q.Type)
	userID := ""
	if q.UserLevel {
		userID = q.UserID
	}
	snaps, err := l.Store.Snapshot(ctx, q.Account, userID, vendors.IDs(vs))
	if err != nil {
		return nil, err
	}
	o := Options{Now: l.Now(), WarningWindow: l.WarningWindow, AppManager: q.AppManager, UserLevel: q.UserLevel}
	out := make([]View, 0, len(vs))
	for _, v := range vs {
		out = append(out, Build(v, snaps[v.ID], o))
	}
	return out, nil
}
