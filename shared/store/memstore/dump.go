package memstore

import (
	"encoding/json"

	"github.com/workplace/connections/shared/store/layout"
)

// Dump is a canonical copy of everything the store holds, for tests that
// assert a request changed nothing: one entry per item, keyed "PK SK"
// (a space between), valued the item's JSON. Two stores holding the same
// items give equal dumps; any change of any field changes the dump.
func (s *Store) Dump() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	dumpInto(out, s.conns)
	dumpInto(out, s.settings)
	dumpInto(out, s.counts)
	dumpInto(out, s.notices)
	dumpInto(out, s.states)
	return out
}

func dumpInto[T any](out map[string]string, m map[layout.Item]T) {
	for it, v := range m {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err) // plain data: cannot fail
		}
		out[it.PK+" "+it.SK] = string(b)
	}
}
