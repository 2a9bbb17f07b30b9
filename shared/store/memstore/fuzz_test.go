package memstore_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
)

// pageQuery is one paged listing: a vendor's user-level connections in an
// account, or one shard of the expiry index.
type pageQuery struct {
	due             bool
	account, vendor string
	shard           int
}

func (q pageQuery) String() string {
	if q.due {
		return fmt.Sprintf("due shard %d", q.shard)
	}
	return "users of " + q.account + "/" + q.vendor
}

// pagingWorld is a store with connections in two accounts (one whose id
// looks like a key fragment), two vendors and every shard, and the
// listings to page through.
func pagingWorld(tb testing.TB) (*memstore.Store, []pageQuery, time.Time) {
	s := memstore.New()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	for _, acct := range []string{"a1", "a2", "a1#CONN#servicenow"} {
		for _, vendor := range []string{"servicenow", "confluence"} {
			for u := range 6 {
				k := connection.UserKey(acct, vendor, fmt.Sprintf("u%02d", u))
				n++
				next := now.Add(time.Duration(n%5-3) * time.Hour) // some due, some not
				c := connection.Connection{Key: k, ID: fmt.Sprint("id", n), CreatedAt: now, NextCheckAt: next}
				if err := s.Apply(tb.Context(), store.CreateConnection{Conn: c}); err != nil {
					tb.Fatal(err)
				}
			}
		}
	}
	var qs []pageQuery
	for _, acct := range []string{"a1", "a2", "a1#CONN#servicenow", "a3"} {
		for _, vendor := range []string{"servicenow", "confluence"} {
			qs = append(qs, pageQuery{account: acct, vendor: vendor})
		}
	}
	for shard := range store.DueShards {
		qs = append(qs, pageQuery{due: true, shard: shard})
	}
	return s, qs, now
}

func list(tb testing.TB, s *memstore.Store, q pageQuery, now time.Time, token string, limit int) ([]string, string, error) {
	var cs []connection.Connection
	var next string
	var err error
	if q.due {
		cs, next, err = s.Due(tb.Context(), q.shard, now, token, limit)
	} else {
		cs, next, err = s.ListUserConnections(tb.Context(), q.account, q.vendor, token, limit)
	}
	keys := make([]string, len(cs))
	for i, c := range cs {
		keys[i] = c.Key.String()
	}
	return keys, next, err
}

// all pages through a listing with the given page size.
func all(tb testing.TB, s *memstore.Store, q pageQuery, now time.Time, limit int) (keys, tokens []string) {
	token := ""
	for range 100 {
		page, next, err := list(tb, s, q, now, token, limit)
		if err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
		keys = append(keys, page...)
		if next == "" {
			return keys, tokens
		}
		tokens = append(tokens, next)
		token = next
	}
	tb.Fatalf("%s: pages never end", q)
	return nil, nil
}

// run reports whether page is a run of consecutive elements of full
// starting at from (any start when from < 0), and where it ends.
func run(full, page []string, from int) (int, bool) {
	if len(page) == 0 {
		return from, true
	}
	i := slices.Index(full, page[0])
	if i < 0 || (from >= 0 && i != from) || i+len(page) > len(full) || !slices.Equal(full[i:i+len(page)], page) {
		return 0, false
	}
	return i + len(page), true
}

// FuzzPageToken: a page token, made up or real, never widens a listing —
// what comes back is always a run of the listing's own items, in order —
// and a token issued by one listing (another account, vendor or shard, or
// the other kind of listing) is refused by every other: page tokens are
// the caller's input once they travel, and a store must not let one step
// outside the query it came from.
func FuzzPageToken(f *testing.F) {
	s, qs, now := pagingWorld(f)
	full := map[pageQuery][]string{}
	for _, q := range qs {
		full[q], _ = all(f, s, q, now, 0)
	}
	f.Fuzz(func(t *testing.T, qi uint8, token string, limit int8, src uint8, pos uint8) {
		q := qs[int(qi)%len(qs)]
		lim := int(limit % 8)
		page, next, err := list(t, s, q, now, token, lim)
		if err == nil {
			end, ok := run(full[q], page, -1)
			if !ok {
				t.Fatalf("%s with token %q: %v is not a run of %v", q, token, page, full[q])
			}
			if next != "" {
				more, _, err := list(t, s, q, now, next, lim)
				if _, ok := run(full[q], more, end); err != nil || !ok {
					t.Fatalf("%s: the page after %v is %v (%v), want a run of %v from %d", q, page, more, err, full[q], end)
				}
			}
		}
		// A real token of some listing, presented to q.
		from := qs[int(src)%len(qs)]
		if len(full[from]) < 2 {
			return
		}
		_, tokens := all(t, s, from, now, 1)
		i := int(pos) % len(tokens)
		got, _, err := list(t, s, q, now, tokens[i], 0)
		switch {
		case from == q:
			if err != nil || !slices.Equal(got, full[q][i+1:]) {
				t.Fatalf("%s: after token %d got %v (%v), want %v", q, i, got, err, full[q][i+1:])
			}
		case err == nil:
			t.Fatalf("%s accepted a page token of %s and listed %v", q, from, got)
		}
	})
}
