package memstore

import (
	"context"
	"errors"

	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/layout"
)

// sweepQuery names the sweep's listing in its page tokens.
const sweepQuery = "SWEEP"

// Sweep pages through every connection and settings item in key order
// (partition, then sort key), by way of page; each item's After is the
// token that resumes right after it.
func (s *Store) Sweep(ctx context.Context, pageToken string, limit int) ([]store.SweepItem, string, error) {
	if err := s.lock(ctx); err != nil {
		return nil, "", err
	}
	defer s.mu.Unlock()
	key := func(it layout.Item) string { return it.PK + "\x00" + it.SK }
	// After holds each item's key until page has chosen the page's items.
	var items []entry[store.SweepItem]
	for it, c := range s.conns {
		items = append(items, entry[store.SweepItem]{key(it), store.SweepItem{Conn: &c, After: key(it)}})
	}
	for it, set := range s.settings {
		items = append(items, entry[store.SweepItem]{key(it), store.SweepItem{Settings: &set, After: key(it)}})
	}
	out, next, err := page(items, sweepQuery, pageToken, limit)
	for i := range out {
		out[i].After = encodeToken(sweepQuery, out[i].After)
	}
	return out, next, err
}

// GetSweepMark reads the sweep's mark.
func (s *Store) GetSweepMark(ctx context.Context) (store.SweepMark, error) {
	if err := s.lock(ctx); err != nil {
		return store.SweepMark{}, err
	}
	defer s.mu.Unlock()
	if s.sweepMark == nil {
		return store.SweepMark{}, notFound("sweep mark")
	}
	return *s.sweepMark, nil
}

// PutSweepMark replaces the sweep's mark.
func (s *Store) PutSweepMark(ctx context.Context, m store.SweepMark) error {
	if m.Mode == "" {
		return errors.New("memstore: sweep mark without a mode")
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	utc(&m.UpdatedAt)
	s.sweepMark = &m
	return nil
}
