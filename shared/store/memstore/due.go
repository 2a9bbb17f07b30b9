package memstore

import (
	"context"
	"time"

	"github.com/google/btree"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/layout"
)

// dueEntry is one connection in the expiry index: its index sort key
// (layout.Due: next-check time, then the item's keys) and its item.
type dueEntry struct {
	sk    string
	it    layout.Item
	shard int
}

func dueLess(a, b dueEntry) bool { return a.sk < b.sk }

// dueIndex is the in-memory expiry index: per shard, the connections with a
// next check, ordered by index sort key as DynamoDB orders the DueIndex. A
// page is a seek and a walk of the page, O(page · log n) however many
// connections the store holds. The store's lock guards it.
type dueIndex struct {
	shards [store.DueShards]*btree.BTreeG[dueEntry]
	// keys is each indexed connection's entry, to find it on a change.
	keys map[layout.Item]dueEntry
}

// dueDegree is the B-tree's degree: nodes of up to 63 entries, so a
// million connections sit four levels deep.
const dueDegree = 32

func newDueIndex() *dueIndex {
	d := &dueIndex{keys: map[layout.Item]dueEntry{}}
	for i := range d.shards {
		d.shards[i] = btree.NewG(dueDegree, dueLess)
	}
	return d
}

// put indexes c, stored at it, in place of what the index held for it.
func (d *dueIndex) put(it layout.Item, c connection.Connection) {
	_, sk, ok := layout.Due(c, it)
	old, had := d.keys[it]
	if had && ok && old.sk == sk {
		return // unchanged: same shard (it follows the key), same position
	}
	if had {
		d.remove(it, old)
	}
	if !ok {
		return
	}
	e := dueEntry{sk: sk, it: it, shard: store.Shard(c.Key)} // layout.Due's partition
	d.shards[e.shard].ReplaceOrInsert(e)
	d.keys[it] = e
}

// drop removes the connection at it from the index, if it is there.
func (d *dueIndex) drop(it layout.Item) {
	if old, had := d.keys[it]; had {
		d.remove(it, old)
	}
}

func (d *dueIndex) remove(it layout.Item, e dueEntry) {
	d.shards[e.shard].Delete(e)
	delete(d.keys, it)
}

// page returns up to limit entries of a shard after `after` ("" from the
// start) whose sort key is at most upper, and whether more follow.
func (d *dueIndex) page(shard int, after, upper string, limit int) (out []dueEntry, more bool) {
	visit := func(e dueEntry) bool {
		if e.sk > upper {
			return false
		}
		if after != "" && e.sk <= after {
			return true
		}
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, e)
		return true
	}
	if after == "" {
		d.shards[shard].Ascend(visit)
	} else {
		d.shards[shard].AscendGreaterOrEqual(dueEntry{sk: after}, visit)
	}
	return out, more
}

// Due pages through a shard's connections whose next check is at or before
// now, in the expiry index's order, by way of the in-memory index: the
// page's cost grows with the page, not with the store.
func (s *Store) Due(ctx context.Context, shard int, now time.Time, pageToken string, limit int) ([]connection.Connection, string, error) {
	want, upper := layout.DuePK(shard), layout.DueUpper(now)
	query := "due " + want
	after, err := decodeToken(query, pageToken)
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
	if shard < 0 || shard >= store.DueShards {
		return []connection.Connection{}, "", nil // a partition that holds nothing
	}
	entries, more := s.due.page(shard, after, upper, limit)
	out := make([]connection.Connection, len(entries))
	for i, e := range entries {
		out[i] = s.conns[e.it]
	}
	if !more {
		return out, "", nil
	}
	return out, encodeToken(query, entries[len(entries)-1].sk), nil
}
