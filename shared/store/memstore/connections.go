package memstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store/layout"
)

// Snapshot reads each vendor's app connection, the user's connection,
// settings and counters.
func (s *Store) Snapshot(ctx context.Context, account, userID string, vendors []string) (map[string]connection.VendorSnapshot, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make(map[string]connection.VendorSnapshot, len(vendors))
	for _, v := range vendors {
		var snap connection.VendorSnapshot
		if c, ok := s.conns[mustConnItem(connection.AppKey(account, v))]; ok {
			snap.App = &c
		}
		if userID != "" {
			if c, ok := s.conns[mustConnItem(connection.UserKey(account, v, userID))]; ok {
				snap.User = &c
			}
		}
		if st, ok := s.settings[layout.SettingsItem(account, v)]; ok {
			snap.Settings = &st
		}
		snap.Counts = s.counts[layout.CountsItem(account, v)]
		out[v] = snap
	}
	return out, nil
}

// mustConnItem is the item of a key known to be valid.
func mustConnItem(k connection.Key) layout.Item {
	it, err := layout.ConnItem(k)
	if err != nil {
		panic(err)
	}
	return it
}

// GetConnection reads one connection.
func (s *Store) GetConnection(ctx context.Context, k connection.Key) (connection.Connection, error) {
	it, err := layout.ConnItem(k)
	if err != nil {
		return connection.Connection{}, fmt.Errorf("memstore: %w", err)
	}
	return get(ctx, s, s.conns, it, "connection "+k.String())
}

// ListUserConnections pages through a vendor's user-level connections,
// ordered by sort key.
func (s *Store) ListUserConnections(ctx context.Context, account, vendor, pageToken string, limit int) ([]connection.Connection, string, error) {
	if err := s.lock(ctx); err != nil {
		return nil, "", err
	}
	defer s.mu.Unlock()
	pk, prefix := layout.AccountPK(account), layout.UserConnPrefix(vendor)
	var entries []entry[connection.Connection]
	for it, c := range s.conns {
		if it.PK == pk && strings.HasPrefix(it.SK, prefix) {
			entries = append(entries, entry[connection.Connection]{it.SK, c})
		}
	}
	return page(entries, "users "+strconv.Quote(pk)+" "+strconv.Quote(prefix), pageToken, limit)
}

// AcquireLease takes the lease if it is free, lapsed at now or already the
// owner's, and bumps the version.
func (s *Store) AcquireLease(ctx context.Context, k connection.Key, owner string, now, until time.Time) (connection.Connection, error) {
	it, err := leaseItem(k, owner)
	if err != nil {
		return connection.Connection{}, err
	}
	if err := s.lock(ctx); err != nil {
		return connection.Connection{}, err
	}
	defer s.mu.Unlock()
	c, ok := s.conns[it]
	if !ok {
		return connection.Connection{}, notFound("lease of " + k.String())
	}
	if !takeable(c.LeaseOwner, c.LeaseUntil, owner, now) {
		return connection.Connection{}, conflict("lease of " + k.String() + " is held")
	}
	c.LeaseOwner, c.LeaseUntil = owner, until.UTC()
	c.Version++
	s.putConn(it, c)
	return c, nil
}

// ReleaseLease frees the owner's lease; anything else is left alone.
func (s *Store) ReleaseLease(ctx context.Context, k connection.Key, owner string) error {
	it, err := leaseItem(k, owner)
	if err != nil {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	c, ok := s.conns[it]
	if !ok || c.LeaseOwner != owner {
		return nil
	}
	c.LeaseOwner, c.LeaseUntil = "", time.Time{}
	c.Version++
	s.putConn(it, c)
	return nil
}

func leaseItem(k connection.Key, owner string) (layout.Item, error) {
	if owner == "" {
		return layout.Item{}, errors.New("memstore: lease without an owner")
	}
	it, err := layout.ConnItem(k)
	if err != nil {
		return it, fmt.Errorf("memstore: %w", err)
	}
	return it, nil
}
