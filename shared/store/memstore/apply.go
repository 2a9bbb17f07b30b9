package memstore

import (
	"context"
	"fmt"

	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/layout"
)

// Apply checks every op's condition, then performs them all; if any
// condition fails nothing changes.
func (s *Store) Apply(ctx context.Context, ops ...store.Op) error {
	if len(ops) == 0 {
		return nil
	}
	if err := layout.CheckOps(ops); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for i, op := range ops {
		if !s.holds(op) {
			return conflict(fmt.Sprintf("apply: op %d (%T)", i+1, op))
		}
	}
	for _, op := range ops {
		s.do(op)
	}
	return nil
}

// holds reports whether op's condition holds. CheckOps has vetted the ops,
// so their keys are valid and no two touch the same item.
func (s *Store) holds(op store.Op) bool {
	it, _ := layout.OpItem(op)
	switch op := op.(type) {
	case store.CreateConnection:
		_, exists := s.conns[it]
		return !exists
	case store.UpdateConnection:
		c, ok := s.conns[it]
		return ok && c.Version == op.Conn.Version
	case store.DeleteConnection:
		c, ok := s.conns[it]
		return ok && c.Version == op.Version
	case store.PutSettings:
		st, ok := s.settings[it]
		if op.Settings.Version == 0 {
			return !ok
		}
		return ok && st.Version == op.Settings.Version
	case store.CheckConnection:
		_, ok := s.conns[it]
		return ok
	case store.CheckNoUsers:
		return s.counts[it].Total <= 0
	case store.AddNotice:
		_, exists := s.notices[it]
		return !exists
	case store.NoticeSent:
		n, ok := s.notices[it]
		return ok && n.ClaimOwner == op.Owner
	}
	return true // AdjustCounts, DeleteNotice, AppendAudit: unconditional
}

// do performs op.
func (s *Store) do(op store.Op) {
	it, _ := layout.OpItem(op)
	switch op := op.(type) {
	case store.CreateConnection:
		c := normConn(op.Conn)
		c.Version = 1
		s.conns[it] = c
	case store.UpdateConnection:
		c := normConn(op.Conn)
		c.Version++
		s.conns[it] = c
	case store.DeleteConnection:
		delete(s.conns, it)
	case store.AdjustCounts:
		n := s.counts[it]
		n.Total += op.Total
		n.Connected += op.Connected
		s.counts[it] = n
	case store.PutSettings:
		st := normSettings(op.Settings)
		st.Version++
		s.settings[it] = st
	case store.DeleteNotice:
		delete(s.notices, it)
	case store.AppendAudit:
		s.audit[it] = normAudit(op.Entry)
	case store.AddNotice:
		s.notices[it] = normNotice(op.Notice)
	case store.NoticeSent:
		n := s.notices[it]
		n.SentAt = op.At.UTC()
		s.notices[it] = n
	}
}
