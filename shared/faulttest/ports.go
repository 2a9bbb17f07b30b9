package faulttest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/eventbus"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
)

// Store wraps a store: every method is one call.
func (in *Injector) Store(s store.Store) store.Store { return &faultyStore{in: in, s: s} }

type faultyStore struct {
	in *Injector
	s  store.Store
}

// call runs one store method; a throttle is what dynamostore passes on
// when DynamoDB keeps throttling after the SDK's retries.
func (f *faultyStore) call(method, detail string, fn func() error) error {
	_, err := f.in.do("store."+method, detail, func() error {
		return fmt.Errorf("dynamostore: %s: %w", method, awsThrottle("DynamoDB", method, "ThrottlingException"))
	}, fn)
	return err
}

func (f *faultyStore) Snapshot(ctx context.Context, account, userID string, vendors []string) (out map[string]connection.VendorSnapshot, err error) {
	err = f.call("Snapshot", "", func() (e error) { out, e = f.s.Snapshot(ctx, account, userID, vendors); return })
	return out, err
}

func (f *faultyStore) GetConnection(ctx context.Context, k connection.Key) (out connection.Connection, err error) {
	err = f.call("GetConnection", k.String(), func() (e error) { out, e = f.s.GetConnection(ctx, k); return })
	return out, err
}

func (f *faultyStore) ListUserConnections(ctx context.Context, account, vendor, pageToken string, limit int) (out []connection.Connection, next string, err error) {
	err = f.call("ListUserConnections", vendor, func() (e error) {
		out, next, e = f.s.ListUserConnections(ctx, account, vendor, pageToken, limit)
		return
	})
	return out, next, err
}

func (f *faultyStore) ListAudit(ctx context.Context, account, vendor, cursor string, limit int) (out []connection.AuditEntry, next string, err error) {
	err = f.call("ListAudit", vendor, func() (e error) {
		out, next, e = f.s.ListAudit(ctx, account, vendor, cursor, limit)
		return
	})
	return out, next, err
}

func (f *faultyStore) Apply(ctx context.Context, ops ...store.Op) error {
	return f.call("Apply", describe(ops), func() error { return f.s.Apply(ctx, ops...) })
}

func (f *faultyStore) GetSettings(ctx context.Context, account, vendor string) (out connection.Settings, err error) {
	err = f.call("GetSettings", vendor, func() (e error) { out, e = f.s.GetSettings(ctx, account, vendor); return })
	return out, err
}

func (f *faultyStore) PutState(ctx context.Context, s connection.AuthState) error {
	return f.call("PutState", "", func() error { return f.s.PutState(ctx, s) })
}

func (f *faultyStore) ConsumeState(ctx context.Context, nonce string, now time.Time) (out connection.AuthState, err error) {
	err = f.call("ConsumeState", "", func() (e error) { out, e = f.s.ConsumeState(ctx, nonce, now); return })
	return out, err
}

func (f *faultyStore) CreateNotice(ctx context.Context, n connection.Notice) (out connection.Notice, created bool, err error) {
	err = f.call("CreateNotice", string(n.Kind), func() (e error) { out, created, e = f.s.CreateNotice(ctx, n); return })
	return out, created, err
}

func (f *faultyStore) GetNotice(ctx context.Context, account, userID, id string) (out connection.Notice, err error) {
	err = f.call("GetNotice", "", func() (e error) { out, e = f.s.GetNotice(ctx, account, userID, id); return })
	return out, err
}

func (f *faultyStore) ListNotices(ctx context.Context, account, userID string) (out []connection.Notice, err error) {
	err = f.call("ListNotices", "", func() (e error) { out, e = f.s.ListNotices(ctx, account, userID); return })
	return out, err
}

func (f *faultyStore) DismissNotice(ctx context.Context, account, userID, id string) error {
	return f.call("DismissNotice", "", func() error { return f.s.DismissNotice(ctx, account, userID, id) })
}

func (f *faultyStore) ClaimNotice(ctx context.Context, account, userID, id, owner string, now, until time.Time) error {
	return f.call("ClaimNotice", "", func() error { return f.s.ClaimNotice(ctx, account, userID, id, owner, now, until) })
}

func (f *faultyStore) MarkNoticeSent(ctx context.Context, account, userID, id, owner string, at time.Time) error {
	return f.call("MarkNoticeSent", "", func() error { return f.s.MarkNoticeSent(ctx, account, userID, id, owner, at) })
}

func (f *faultyStore) Due(ctx context.Context, shard int, now time.Time, pageToken string, limit int) (out []connection.Connection, next string, err error) {
	err = f.call("Due", fmt.Sprint("shard ", shard), func() (e error) { out, next, e = f.s.Due(ctx, shard, now, pageToken, limit); return })
	return out, next, err
}

func (f *faultyStore) AcquireLease(ctx context.Context, k connection.Key, owner string, now, until time.Time) (out connection.Connection, err error) {
	err = f.call("AcquireLease", k.String(), func() (e error) { out, e = f.s.AcquireLease(ctx, k, owner, now, until); return })
	return out, err
}

func (f *faultyStore) ReleaseLease(ctx context.Context, k connection.Key, owner string) error {
	return f.call("ReleaseLease", k.String(), func() error { return f.s.ReleaseLease(ctx, k, owner) })
}

// describe names the ops of an Apply, for the report.
func describe(ops []store.Op) string {
	names := make([]string, len(ops))
	for i, op := range ops {
		names[i] = strings.TrimPrefix(fmt.Sprintf("%T", op), "store.")
	}
	return strings.Join(names, "+")
}

// Vault wraps a vault: every method is one call.
func (in *Injector) Vault(v vault.Vault) vault.Vault { return &faultyVault{in: in, v: v} }

type faultyVault struct {
	in *Injector
	v  vault.Vault
}

func vaultThrottle(op string) func() error {
	return func() error {
		return fmt.Errorf("secretsvault: %s: %w", op, awsThrottle("Secrets Manager", op, "ThrottlingException"))
	}
}

func (f *faultyVault) Put(ctx context.Context, name string, value []byte) (string, error) {
	var version string
	n, err := f.in.do("vault.Put", name, vaultThrottle("PutSecretValue"), func() error {
		var e error
		version, e = f.v.Put(ctx, name, value)
		return e
	})
	if version != "" {
		f.in.wrote(n, version) // also when the answer is lost
	}
	if err != nil {
		return "", err
	}
	return version, nil
}

func (f *faultyVault) Get(ctx context.Context, name, version string) (out []byte, err error) {
	_, err = f.in.do("vault.Get", name, vaultThrottle("GetSecretValue"), func() (e error) { out, e = f.v.Get(ctx, name, version); return })
	return out, err
}

func (f *faultyVault) Delete(ctx context.Context, name string, recoveryDays int) error {
	_, err := f.in.do("vault.Delete", name, vaultThrottle("DeleteSecret"), func() error { return f.v.Delete(ctx, name, recoveryDays) })
	return err
}

// Mailer wraps a mailer: every method is one call.
func (in *Injector) Mailer(m mail.Mailer) mail.Mailer { return &faultyMailer{in: in, m: m} }

type faultyMailer struct {
	in *Injector
	m  mail.Mailer
}

// sesThrottle is what sesmail passes on for SES's throttling answer.
func sesThrottle(op string) func() error {
	return func() error {
		return fmt.Errorf("sesmail: %s: %w: %w", op, mail.ErrThrottled, awsThrottle("SES", op, "Throttling"))
	}
}

func (f *faultyMailer) Send(ctx context.Context, m mail.Message) error {
	_, err := f.in.do("mail.Send", strings.Join(m.To, ","), sesThrottle("SendEmail"), func() error { return f.m.Send(ctx, m) })
	return err
}

func (f *faultyMailer) Quota(ctx context.Context) (out mail.Quota, err error) {
	_, err = f.in.do("mail.Quota", "", sesThrottle("GetSendQuota"), func() (e error) { out, e = f.m.Quota(ctx); return })
	return out, err
}

// Bus wraps an event bus: every Put is one call. An injected failure fails
// each event of the call (a lost answer: after the bus took them).
func (in *Injector) Bus(b eventbus.Bus) eventbus.Bus { return &faultyBus{in: in, b: b} }

type faultyBus struct {
	in *Injector
	b  eventbus.Bus
}

func (f *faultyBus) Put(ctx context.Context, evs []eventbus.Event) []error {
	types := make([]string, len(evs))
	for i, e := range evs {
		types[i] = e.DetailType
	}
	var errs []error
	_, err := f.in.do("bus.Put", strings.Join(types, ","), func() error {
		// What eventbridgebus passes on when EventBridge keeps throttling.
		return fmt.Errorf("eventbridgebus: put events: %w", awsThrottle("EventBridge", "PutEvents", "ThrottlingException"))
	}, func() error {
		errs = f.b.Put(ctx, evs)
		return nil // events the bus refused are its own answers, not a failed call
	})
	if err != nil {
		errs = make([]error, len(evs))
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

func (f *faultyStore) Sweep(ctx context.Context, pageToken string, limit int) (out []store.SweepItem, next string, err error) {
	err = f.call("Sweep", "", func() (e error) { out, next, e = f.s.Sweep(ctx, pageToken, limit); return })
	return out, next, err
}

func (f *faultyStore) GetSweepMark(ctx context.Context) (out store.SweepMark, err error) {
	err = f.call("GetSweepMark", "", func() (e error) { out, e = f.s.GetSweepMark(ctx); return })
	return out, err
}

func (f *faultyStore) PutSweepMark(ctx context.Context, m store.SweepMark) error {
	return f.call("PutSweepMark", "", func() error { return f.s.PutSweepMark(ctx, m) })
}
