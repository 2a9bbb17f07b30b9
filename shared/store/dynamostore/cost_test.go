package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/workplace/connections/shared/awstest"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/dynamostore"
)

// counting counts the requests the store makes and the items they return.
type counting struct {
	dynamostore.API
	mu       sync.Mutex
	requests map[string]int
	items    int
	attrs    map[string]bool // the attribute names Query answers held
}

func (c *counting) note(op string, items int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests[op]++
	c.items += items
}

func (c *counting) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests, c.items, c.attrs = map[string]int{}, 0, map[string]bool{}
}

func (c *counting) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.requests {
		n += v
	}
	return n
}

func (c *counting) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out, err := c.API.BatchGetItem(ctx, in, o...)
	n := 0
	if out != nil {
		for _, items := range out.Responses {
			n += len(items)
		}
	}
	c.note("BatchGetItem", n)
	return out, err
}

func (c *counting) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.API.Query(ctx, in, o...)
	n := 0
	if out != nil {
		n = len(out.Items)
		c.mu.Lock()
		for _, item := range out.Items {
			for a := range item {
				c.attrs[a] = true
			}
		}
		c.mu.Unlock()
	}
	c.note("Query", n)
	return out, err
}

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.note("GetItem", 1)
	return c.API.GetItem(ctx, in, o...)
}

func newCountingStore(t *testing.T) (*counting, store.Store) {
	t.Helper()
	srv := awstest.Moto(t)
	db := srv.DynamoDBClient(t)
	table := awstest.Unique("cost")
	if err := dynamostore.CreateTable(t.Context(), db, table); err != nil {
		t.Fatal(err)
	}
	c := &counting{API: db, requests: map[string]int{}, attrs: map[string]bool{}}
	return c, dynamostore.New(c, table)
}

func userConn(account, vendor, user string, next time.Time) connection.Connection {
	k := connection.UserKey(account, vendor, user)
	return connection.Connection{Key: k, ID: "id-" + user, SecretName: "s/" + user, NextCheckAt: next, CreatedAt: next}
}

// TestSnapshotCostDoesNotGrowWithUsers: what the list route reads for an
// account is the same number of requests and items with 0 or 150 users
// connected (the counters stand in for counting users).
func TestSnapshotCostDoesNotGrowWithUsers(t *testing.T) {
	ctx := t.Context()
	c, st := newCountingStore(t)
	vendors := []string{"servicenow", "confluence"}
	app := connection.Connection{Key: connection.AppKey("acct", "servicenow"), ID: "app"}
	if err := st.Apply(ctx, store.CreateConnection{Conn: app}); err != nil {
		t.Fatal(err)
	}
	measure := func() (int, int) {
		c.reset()
		if _, err := st.Snapshot(ctx, "acct", "u-0", vendors); err != nil {
			t.Fatal(err)
		}
		return c.total(), c.items
	}
	reqBefore, itemsBefore := measure()
	for i := range 150 {
		u := userConn("acct", "servicenow", fmt.Sprintf("u-%d", i), time.Time{})
		if err := st.Apply(ctx, store.CreateConnection{Conn: u},
			store.AdjustCounts{Account: "acct", Vendor: "servicenow", Total: 1, Connected: 1}); err != nil {
			t.Fatal(err)
		}
	}
	reqAfter, itemsAfter := measure()
	if reqBefore != 1 || reqAfter != 1 {
		t.Errorf("Snapshot made %d requests with no users and %d with 150; want 1 BatchGetItem each", reqBefore, reqAfter)
	}
	// After: the app item, the caller's own user item and the counters.
	if itemsAfter > itemsBefore+2 {
		t.Errorf("Snapshot read %d items with 150 users (vs %d with none): it grows with users", itemsAfter, itemsBefore)
	}
	snap, err := st.Snapshot(ctx, "acct", "u-0", vendors)
	if err != nil {
		t.Fatal(err)
	}
	if got := snap["servicenow"].Counts; got.Total != 150 || got.Connected != 150 {
		t.Errorf("counts = %+v, want 150/150", got)
	}
}

// TestDueReadsOnlyDueConnections: the expiry index returns the connections
// that are due and reads nothing else, however many are not due.
func TestDueReadsOnlyDueConnections(t *testing.T) {
	ctx := t.Context()
	c, st := newCountingStore(t)
	now := time.Date(2027, 1, 20, 6, 0, 0, 0, time.UTC)
	due := 0
	for i := range 120 {
		next := now.Add(time.Duration(24*(1+i%30)) * time.Hour) // not due
		if i%20 == 0 {
			next = now.Add(-time.Hour) // due
			due++
		}
		if err := st.Apply(ctx, store.CreateConnection{Conn: userConn("acct", "servicenow", fmt.Sprintf("u-%03d", i), next)}); err != nil {
			t.Fatal(err)
		}
	}
	c.reset()
	found := 0
	for shard := range store.DueShards {
		token := ""
		for {
			page, next, err := st.Due(ctx, shard, now, token, 100)
			if err != nil {
				t.Fatal(err)
			}
			found += len(page)
			if next == "" {
				break
			}
			token = next
		}
	}
	if found != due {
		t.Errorf("Due found %d connections, want %d", found, due)
	}
	// One read ahead per shard is how pages know they are the last; the
	// key condition stops at now, so it is another due item or none.
	if c.items > due+store.DueShards {
		t.Errorf("Due read %d items for %d due connections among 120", c.items, due)
	}
	t.Logf("items read ÷ due = %d/%d = %.3f", c.items, due, float64(c.items)/float64(due))
	if r := float64(c.items) / float64(due); r > 1.1 {
		t.Errorf("items read ÷ due = %.3f, want ≤ 1.1", r)
	}
	// The index holds the keys and DueIndexAttributes, nothing else: a
	// lease or a token update never writes to it.
	allowed := append([]string{"PK", "SK", "DuePK", "DueSK"}, dynamostore.DueIndexAttributes...)
	for a := range c.attrs {
		if !slices.Contains(allowed, a) {
			t.Errorf("the expiry index returned attribute %s; it projects only %v", a, allowed)
		}
	}
	if len(c.attrs) == 0 {
		t.Error("no attributes read")
	}
}

// writeCounting counts the write requests the store makes.
type writeCounting struct {
	*counting
}

func (c writeCounting) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.note("PutItem", 0)
	return c.API.PutItem(ctx, in, o...)
}

func (c writeCounting) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.note("UpdateItem", 0)
	return c.API.UpdateItem(ctx, in, o...)
}

func (c writeCounting) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.note("DeleteItem", 0)
	return c.API.DeleteItem(ctx, in, o...)
}

// TestConsumeStateIsOneWrite: consuming a state is one conditional
// UpdateItem (no read before, no delete after), and it stays single use
// and refuses an expired state.
func TestConsumeStateIsOneWrite(t *testing.T) {
	ctx := t.Context()
	c, _ := newCountingStore(t)
	table := awstest.Unique("consume")
	if err := dynamostore.CreateTable(ctx, c.API.(dynamostore.TableAPI), table); err != nil {
		t.Fatal(err)
	}
	st := dynamostore.New(writeCounting{c}, table)
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, nonce := range []string{"n-1", "n-2"} {
		if err := st.PutState(ctx, connection.AuthState{Nonce: nonce, Account: "a1", UserID: "u1", Vendor: "servicenow",
			Flow: connection.LevelApp, Action: connection.ActionConnect, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	c.reset()
	if got, err := st.ConsumeState(ctx, "n-1", now); err != nil || got.UserID != "u1" {
		t.Fatalf("consume: %+v, %v", got, err)
	}
	if c.total() != 1 || c.requests["UpdateItem"] != 1 {
		t.Errorf("consuming a state made %v, want 1 UpdateItem", c.requests)
	}
	if _, err := st.ConsumeState(ctx, "n-1", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second consume: %v, want ErrNotFound", err)
	}
	if _, err := st.ConsumeState(ctx, "n-2", now.Add(10*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("consume at the expiry: %v, want ErrNotFound", err)
	}
}
