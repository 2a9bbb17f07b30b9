package lifecycle_test

import (
	"context"
	"testing"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
)

// lostAnswer makes Apply write and then answer ErrConflict, as when the SDK
// retries a conditional write whose first answer was lost: the retry meets
// the condition the first attempt already changed.
func lostAnswer(e *env) {
	e.store.setApply(func(ctx context.Context, ops []store.Op) error {
		if err := e.mem.Apply(ctx, ops...); err != nil {
			return err
		}
		return store.ErrConflict
	})
}

// TestOwnWriteRetried: a connect, a reconnect and a settings save whose
// write succeeded but whose answer was a conflict (the retry of our own
// write) succeed, and the tokens stay in use — not discarded as if refused.
func TestOwnWriteRetried(t *testing.T) {
	e := newEnv(t)
	e.saveServiceNow(manager)
	lostAnswer(e)
	res, err := e.complete(manager, e.authorize(manager, "servicenow", "app", "", nil))
	if err != nil || res.Action != "connect" {
		t.Fatalf("connect with a retried write: %+v, %v", res, err)
	}
	e.store.setApply(nil)
	c := e.conn(connection.AppKey(account, "servicenow"))
	e.refreshable(c)

	lostAnswer(e)
	res, err = e.complete(manager, e.authorize(manager, "servicenow", "app", "reconnect", nil))
	if err != nil || res.Action != "reconnect" {
		t.Fatalf("reconnect with a retried write: %+v, %v", res, err)
	}
	e.store.setApply(nil)
	after := e.conn(connection.AppKey(account, "servicenow"))
	if after.ID != c.ID || after.Generation != c.Generation+1 {
		t.Fatalf("after reconnect: %+v", after)
	}
	e.refreshable(after)

	lostAnswer(e)
	e.saveServiceNow(manager) // fails the test on an error
	e.store.setApply(nil)
}
