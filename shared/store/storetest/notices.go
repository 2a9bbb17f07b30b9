package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
)

func notice(account, userID, id string, created time.Time) connection.Notice {
	return connection.Notice{Account: account, UserID: userID, ID: id, Vendor: sn, Level: connection.LevelUser,
		Kind: connection.NoticeExpiring, Message: "ServiceNow expires soon", Email: userID + "@acme.com",
		Connection: connection.UserKey(account, sn, userID), Generation: 2, CreatedAt: created}
}

func mustCreateNotice(t *testing.T, s store.Store, n connection.Notice) {
	t.Helper()
	if _, created, err := s.CreateNotice(t.Context(), n); err != nil || !created {
		t.Fatalf("create notice %s: created %v, %v", n.ID, created, err)
	}
}

func testNoticeCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	n := notice(acctA, "u1", "n1", t0)
	got, created, err := s.CreateNotice(ctx, n)
	if err != nil || !created {
		t.Fatalf("first create: created %v, %v", created, err)
	}
	same(t, "created notice", got, n)

	dup := n
	dup.Message, dup.CreatedAt = "another message", t0.Add(time.Hour)
	got, created, err = s.CreateNotice(ctx, dup)
	if err != nil || created {
		t.Fatalf("second create: created %v, %v", created, err)
	}
	same(t, "existing notice returned", got, n)
	got, err = s.GetNotice(ctx, acctA, "u1", "n1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "stored notice", got, n)
}

func testNoticeList(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, n := range []connection.Notice{
		notice(acctA, "u1", "old", t0.Add(-time.Hour)),
		notice(acctA, "u1", "new-b", t0),
		notice(acctA, "u1", "newest", t0.Add(time.Minute)),
		notice(acctA, "u1", "new-a", t0), // same time as new-b: id order
		notice(acctA, "u1", "gone", t0.Add(time.Hour)),
		notice(acctA, "u2", "theirs", t0),
		notice(acctA, "u1#x", "prefix", t0), // a user whose id starts like u1's
		notice(acctB, "u1", "other-account", t0),
	} {
		mustCreateNotice(t, s, n)
	}
	if err := s.DismissNotice(ctx, acctA, "u1", "gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.DismissNotice(ctx, acctA, "u1", "gone"); err != nil {
		t.Fatalf("dismiss twice: %v", err)
	}
	if n, err := s.GetNotice(ctx, acctA, "u1", "gone"); err != nil || !n.Dismissed {
		t.Fatalf("dismissed notice: %+v, %v", n, err)
	}
	ns, err := s.ListNotices(ctx, acctA, "u1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range ns {
		got = append(got, n.ID)
	}
	same(t, "notices newest first", got, []string{"newest", "new-a", "new-b", "old"})
	same(t, "listed notice", ns[0], notice(acctA, "u1", "newest", t0.Add(time.Minute)))

	ns, err = s.ListNotices(ctx, acctA, "nobody")
	if err != nil || ns == nil || len(ns) != 0 {
		t.Fatalf("no notices: %#v, %v", ns, err)
	}
}

func testNoticeOtherUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateNotice(t, s, notice(acctA, "u1", "n1", t0))
	_, err := s.GetNotice(ctx, acctA, "u2", "n1")
	wantErr(t, "get another user's notice", err, store.ErrNotFound)
	wantErr(t, "dismiss another user's notice", s.DismissNotice(ctx, acctA, "u2", "n1"), store.ErrNotFound)
	wantErr(t, "claim another user's notice", s.ClaimNotice(ctx, acctA, "u2", "n1", "w", t0, t0.Add(time.Minute)), store.ErrNotFound)
	wantErr(t, "mark another user's notice", s.MarkNoticeSent(ctx, acctA, "u2", "n1", "w", t0), store.ErrNotFound)
	if n, err := s.GetNotice(ctx, acctA, "u1", "n1"); err != nil || n.Dismissed || n.ClaimOwner != "" {
		t.Fatalf("notice after another user's attempts: %+v, %v", n, err)
	}
}

func testNoticeDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateNotice(t, s, notice(acctA, "u1", "n1", t0))
	mustCreateNotice(t, s, notice(acctA, "u1", "n2", t0))
	mustApply(t, s, store.DeleteNotice{Account: acctA, UserID: "u1", ID: "n1"}, store.DeleteNotice{Account: acctA, UserID: "u1", ID: "missing"})
	_, err := s.GetNotice(ctx, acctA, "u1", "n1")
	wantErr(t, "deleted notice", err, store.ErrNotFound)
	if _, err := s.GetNotice(ctx, acctA, "u1", "n2"); err != nil {
		t.Fatalf("other notice: %v", err)
	}
	mustApply(t, s, store.DeleteNotice{Account: acctA, UserID: "u1", ID: "n1"})
	// The id can be used again.
	mustCreateNotice(t, s, notice(acctA, "u1", "n1", t0.Add(time.Hour)))
}

func testNoticeClaim(t *testing.T, s store.Store) {
	ctx := t.Context()
	claim := func(owner string, now, until time.Time) error {
		return s.ClaimNotice(ctx, acctA, "u1", "n1", owner, now, until)
	}
	wantErr(t, "claim missing", claim("a", t0, t0.Add(time.Minute)), store.ErrNotFound)
	wantErr(t, "mark missing", s.MarkNoticeSent(ctx, acctA, "u1", "n1", "a", t0), store.ErrNotFound)
	mustCreateNotice(t, s, notice(acctA, "u1", "n1", t0))
	wantErr(t, "mark unclaimed", s.MarkNoticeSent(ctx, acctA, "u1", "n1", "a", t0), store.ErrConflict)

	if err := claim("a", t0, t0.Add(time.Minute)); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	wantErr(t, "claim while held", claim("b", t0.Add(30*time.Second), t0.Add(2*time.Minute)), store.ErrConflict)
	if err := claim("a", t0.Add(30*time.Second), t0.Add(2*time.Minute)); err != nil {
		t.Fatalf("owner renews: %v", err)
	}
	wantErr(t, "claim before the renewed claim lapses", claim("b", t0.Add(time.Minute), t0.Add(3*time.Minute)), store.ErrConflict)
	if err := claim("b", t0.Add(2*time.Minute), t0.Add(3*time.Minute)); err != nil {
		t.Fatalf("take over a lapsed claim: %v", err)
	}
	n, err := s.GetNotice(ctx, acctA, "u1", "n1")
	if err != nil || n.ClaimOwner != "b" || !n.ClaimUntil.Equal(t0.Add(3*time.Minute)) || !n.SentAt.IsZero() {
		t.Fatalf("claimed notice: %+v, %v", n, err)
	}
	wantErr(t, "mark by the former owner", s.MarkNoticeSent(ctx, acctA, "u1", "n1", "a", t0.Add(2*time.Minute)), store.ErrConflict)
	sent := t0.Add(150 * time.Second)
	if err := s.MarkNoticeSent(ctx, acctA, "u1", "n1", "b", sent); err != nil {
		t.Fatalf("mark by the owner: %v", err)
	}
	wantErr(t, "claim a sent notice", claim("c", t0.Add(time.Hour), t0.Add(2*time.Hour)), store.ErrConflict)
	wantErr(t, "owner claims a sent notice", claim("b", t0.Add(time.Hour), t0.Add(2*time.Hour)), store.ErrConflict)
	if n, err := s.GetNotice(ctx, acctA, "u1", "n1"); err != nil || !n.SentAt.Equal(sent) {
		t.Fatalf("sent notice: %+v, %v", n, err)
	}
}

func testNoticeClaimConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateNotice(t, s, notice(acctA, "u1", "n1", t0))
	owners := []string{"w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7"}
	errs := make([]error, len(owners))
	var wg sync.WaitGroup
	for i, o := range owners {
		wg.Go(func() { errs[i] = s.ClaimNotice(ctx, acctA, "u1", "n1", o, t0, t0.Add(time.Minute)) })
	}
	wg.Wait()
	winner := ""
	for i, err := range errs {
		switch {
		case err == nil && winner != "":
			t.Fatalf("both %s and %s claimed the notice", winner, owners[i])
		case err == nil:
			winner = owners[i]
		default:
			wantErr(t, "losing claim", err, store.ErrConflict)
		}
	}
	if winner == "" {
		t.Fatal("nobody claimed the notice")
	}
	for _, o := range owners {
		err := s.MarkNoticeSent(ctx, acctA, "u1", "n1", o, t0.Add(time.Second))
		if o == winner && err != nil {
			t.Fatalf("winner marks sent: %v", err)
		}
		if o != winner {
			wantErr(t, "loser marks sent", err, store.ErrConflict)
		}
	}
}
