package memstore

import (
	"context"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store/layout"
)

// GetSettings reads an account's settings of a vendor.
func (s *Store) GetSettings(ctx context.Context, account, vendor string) (connection.Settings, error) {
	return get(ctx, s, s.settings, layout.SettingsItem(account, vendor), "settings of "+account+"/"+vendor)
}

// PutState stores an OAuth state; a nonce already in use is ErrConflict.
func (s *Store) PutState(ctx context.Context, a connection.AuthState) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	it := layout.StateItem(a.Nonce)
	if _, ok := s.states[it]; ok {
		return conflict("state exists")
	}
	s.states[it] = normState(a)
	return nil
}

// ConsumeState deletes a state and returns it unless it had expired at now.
func (s *Store) ConsumeState(ctx context.Context, nonce string, now time.Time) (connection.AuthState, error) {
	if err := s.lock(ctx); err != nil {
		return connection.AuthState{}, err
	}
	defer s.mu.Unlock()
	it := layout.StateItem(nonce)
	a, ok := s.states[it]
	if !ok {
		return connection.AuthState{}, notFound("state")
	}
	delete(s.states, it)
	if !a.ExpiresAt.After(now) {
		return connection.AuthState{}, notFound("state expired")
	}
	return a, nil
}
