package memstore

import (
	"context"
	"errors"
	"sort"

	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/layout"
)

// sweepQuery names the sweep's listing in its page tokens.
const sweepQuery = "SWEEP"

// Sweep pages through every connection and settings item in key order
// (partition, then sort key).
func (s *Store) Sweep(ctx context.Context, pageToken string, limit int) ([]store.SweepItem, string, error) {
	after, err := decodeToken(sweepQuery, pageToken)
	if err != nil {
		return nil, "", err
	}
	if limit <= 0 {
		limit = layout.DefaultLimit
	}
	if err := s.lock(ctx); err != nil {
		return nil, "", err
	}
	defer s.mu.Unlock()
	key := func(it layout.Item) string { return it.PK + "\x00" + it.SK }
	var items []entry[store.SweepItem]
	for it, c := range s.conns {
		if k := key(it); k > after {
			items = append(items, entry[store.SweepItem]{k, store.SweepItem{Conn: &c}})
		}
	}
	for it, set := range s.settings {
		if k := key(it); k > after {
			items = append(items, entry[store.SweepItem]{k, store.SweepItem{Settings: &set}})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })
	out := []store.SweepItem{}
	for _, e := range items {
		if len(out) == limit {
			return out, out[len(out)-1].After, nil
		}
		e.val.After = encodeToken(sweepQuery, e.key)
		out = append(out, e.val)
	}
	return out, "", nil
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
