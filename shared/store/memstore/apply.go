package memstore

import (
	"context"
	"fmt"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/layout"
)

// Apply checks every op's condition, then performs them all; if any
// condition fails nothing changes. After a commit, the commit feed (if
// one is set) gets the audit entries the commit added.
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
	for i, op := range ops {
		if !s.holds(op) {
			s.mu.Unlock()
			return conflict(fmt.Sprintf("apply: op %d (%T)", i+1, op))
		}
	}
	var added []connection.AuditEntry
	for _, op := range ops {
		if a, ok := op.(store.AppendAudit); ok {
			if it, _ := layout.OpItem(op); !s.hasAudit(it) {
				added = append(added, normAudit(a.Entry))
			}
		}
		s.do(op)
	}
	feed := s.feed
	if feed == nil || len(added) == 0 {
		s.mu.Unlock()
		return nil
	}
	// The feed gets commits in the order they were made, one at a time,
	// and outside the store's lock (it may read the store): each commit
	// takes a turn under the lock and waits for it after.
	turn := s.feedNext
	s.feedNext++
	s.mu.Unlock()
	s.feedMu.Lock()
	for s.feedTurn != turn {
		s.feedCond.Wait()
	}
	s.feedMu.Unlock()
	defer func() { // the next commit's turn, even if feed panics
		s.feedMu.Lock()
		s.feedTurn++
		s.feedCond.Broadcast()
		s.feedMu.Unlock()
	}()
	feed(context.WithoutCancel(ctx), added)
	return nil
}

// hasAudit reports whether an audit item exists at it (the lock is held).
func (s *Store) hasAudit(it layout.Item) bool {
	_, ok := s.audit[it]
	return ok
}

// OnCommit sets the commit feed, the embedded store's stand-in for a
// DynamoDB Stream: after every Apply that committed audit entries, f gets
// those the commit added (an entry written again under its id is not
// added again, as DynamoDB Streams records an INSERT only for a new item),
// in the order of the ops. Commits reach f in the order they were made,
// one at a time; Apply returns once f has. f runs with the committing
// call's context, without its cancellation (the change is made whatever
// happens to its caller), and must not write to the store. nil removes the
// feed.
func (s *Store) OnCommit(f func(ctx context.Context, entries []connection.AuditEntry)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.feed = f
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
		s.putConn(it, c)
	case store.UpdateConnection:
		c := normConn(op.Conn)
		c.Version++
		s.putConn(it, c)
	case store.DeleteConnection:
		s.dropConn(it)
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
