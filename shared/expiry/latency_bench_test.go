package expiry_test

import (
	"context"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/lease"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault"
)

// Injected latencies of BenchmarkScanInjectedLatency: a vendor call (the
// token endpoint) and an AWS call (DynamoDB, Secrets Manager, SES) of a
// deployment, at the slow end of what each takes from a Lambda.
const (
	vendorLatency = 200 * time.Millisecond
	awsLatency    = 10 * time.Millisecond
)

// latency makes every call through the decorators below take its time,
// and counts them.
type latency struct {
	aws, vendor atomic.Int64
}

func (l *latency) awsCall(ctx context.Context) error {
	l.aws.Add(1)
	return lease.Sleep(ctx, awsLatency)
}

// slowStore is a store each of whose calls is one AWS round trip.
type slowStore struct {
	l *latency
	s store.Store
}

var _ store.Store = slowStore{}

func (s slowStore) Snapshot(ctx context.Context, account, userID string, vendors []string) (map[string]connection.VendorSnapshot, error) {
	if err := s.l.awsCall(ctx); err != nil {
		return nil, err
	}
	return s.s.Snapshot(ctx, account, userID, vendors)
}

func (s slowStore) Sweep(ctx context.Context, token string, limit int) ([]store.SweepItem, string, error) {
	if err := s.l.awsCall(ctx); err != nil {
		return nil, "", err
	}
	return s.s.Sweep(ctx, token, limit)
}

func (s slowStore) GetSweepMark(ctx context.Context) (store.SweepMark, error) {
	if err := s.l.awsCall(ctx); err != nil {
		return store.SweepMark{}, err
	}
	return s.s.GetSweepMark(ctx)
}

func (s slowStore) PutSweepMark(ctx context.Context, m store.SweepMark) error {
	if err := s.l.awsCall(ctx); err != nil {
		return err
	}
	return s.s.PutSweepMark(ctx, m)
}

func (s slowStore) GetConnection(ctx context.Context, k connection.Key) (connection.Connection, error) {
	if err := s.l.awsCall(ctx); err != nil {
		return connection.Connection{}, err
	}
	return s.s.GetConnection(ctx, k)
}

func (s slowStore) ListUserConnections(ctx context.Context, account, vendor, token string, limit int) ([]connection.Connection, string, error) {
	if err := s.l.awsCall(ctx); err != nil {
		return nil, "", err
	}
	return s.s.ListUserConnections(ctx, account, vendor, token, limit)
}

func (s slowStore) Apply(ctx context.Context, ops ...store.Op) error {
	if err := s.l.awsCall(ctx); err != nil {
		return err
	}
	return s.s.Apply(ctx, ops...)
}

func (s slowStore) GetSettings(ctx context.Context, account, vendor string) (connection.Settings, error) {
	if err := s.l.awsCall(ctx); err != nil {
		return connection.Settings{}, err
	}
	return s.s.GetSettings(ctx, account, vendor)
}

func (s slowStore) PutState(ctx context.Context, a connection.AuthState) error {
	if err := s.l.awsCall(ctx); err != nil {
		return err
	}
	return s.s.PutState(ctx, a)
}

func (s slowStore) ConsumeState(ctx context.Context, nonce string, now time.Time) (connection.AuthState, error) {
	if err := s.l.awsCall(ctx); err != nil {
		return connection.AuthState{}, err
	}
	return s.s.ConsumeState(ctx, nonce, now)
}

func (s slowStore) CreateNotice(ctx context.Context, n connection.Notice) (connection.Notice, bool, error) {
	if err := s.l.awsCall(ctx); err != nil {
		return connection.Notice{}, false, err
	}
	return s.s.CreateNotice(ctx, n)
}

func (s slowStore) GetNotice(ctx context.Context, account, userID, id string) (connection.Notice, error) {
	if err := s.l.awsCall(ctx); err != nil {
		return connection.Notice{}, err
	}
	return s.s.GetNotice(ctx, account, userID, id)
}

func (s slowStore) ListNotices(ctx context.Context, account, userID string) ([]connection.Notice, error) {
	if err := s.l.awsCall(ctx); err != nil {
		return nil, err
	}
	return s.s.ListNotices(ctx, account, userID)
}

func (s slowStore) DismissNotice(ctx context.Context, account, userID, id string) error {
	if err := s.l.awsCall(ctx); err != nil {
		return err
	}
	return s.s.DismissNotice(ctx, account, userID, id)
}

func (s slowStore) ClaimNotice(ctx context.Context, account, userID, id, owner string, now, until time.Time) error {
	if err := s.l.awsCall(ctx); err != nil {
		return err
	}
	return s.s.ClaimNotice(ctx, account, userID, id, owner, now, until)
}

func (s slowStore) MarkNoticeSent(ctx context.Context, account, userID, id, owner string, at time.Time) error {
	if err := s.l.awsCall(ctx); err != nil {
		return err
	}
	return s.s.MarkNoticeSent(ctx, account, userID, id, owner, at)
}

func (s slowStore) Due(ctx context.Context, shard int, now time.Time, token string, limit int) ([]connection.Connection, string, error) {
	if err := s.l.awsCall(ctx); err != nil {
		return nil, "", err
	}
	return s.s.Due(ctx, shard, now, token, limit)
}

func (s slowStore) AcquireLease(ctx context.Context, k connection.Key, owner string, now, until time.Time) (connection.Connection, error) {
	if err := s.l.awsCall(ctx); err != nil {
		return connection.Connection{}, err
	}
	return s.s.AcquireLease(ctx, k, owner, now, until)
}

func (s slowStore) ReleaseLease(ctx context.Context, k connection.Key, owner string) error {
	if err := s.l.awsCall(ctx); err != nil {
		return err
	}
	return s.s.ReleaseLease(ctx, k, owner)
}

func (s slowStore) ListAudit(ctx context.Context, account, vendor, cursor string, limit int) ([]connection.AuditEntry, string, error) {
	if err := s.l.awsCall(ctx); err != nil {
		return nil, "", err
	}
	return s.s.ListAudit(ctx, account, vendor, cursor, limit)
}

// slowVault is a vault each of whose calls is one AWS round trip.
type slowVault struct {
	l *latency
	v vault.Vault
}

func (v slowVault) Put(ctx context.Context, name string, value []byte) (string, error) {
	if err := v.l.awsCall(ctx); err != nil {
		return "", err
	}
	return v.v.Put(ctx, name, value)
}

func (v slowVault) Get(ctx context.Context, name, version string) ([]byte, error) {
	if err := v.l.awsCall(ctx); err != nil {
		return nil, err
	}
	return v.v.Get(ctx, name, version)
}

func (v slowVault) Delete(ctx context.Context, name string, recoveryDays int) error {
	if err := v.l.awsCall(ctx); err != nil {
		return err
	}
	return v.v.Delete(ctx, name, recoveryDays)
}

// slowMailer is a mailer each of whose calls is one AWS round trip.
type slowMailer struct {
	l *latency
	m mail.Mailer
}

func (m slowMailer) Send(ctx context.Context, msg mail.Message) error {
	if err := m.l.awsCall(ctx); err != nil {
		return err
	}
	return m.m.Send(ctx, msg)
}

func (m slowMailer) Quota(ctx context.Context) (mail.Quota, error) {
	if err := m.l.awsCall(ctx); err != nil {
		return mail.Quota{}, err
	}
	return m.m.Quota(ctx)
}

// slowVendor is a vendor each of whose calls takes vendorLatency.
type slowVendor struct {
	l    *latency
	next http.RoundTripper
}

func (t slowVendor) RoundTrip(r *http.Request) (*http.Response, error) {
	t.l.vendor.Add(1)
	if err := lease.Sleep(r.Context(), vendorLatency); err != nil {
		return nil, err
	}
	return t.next.RoundTrip(r)
}

// BenchmarkScanInjectedLatency is the scan over 2,000 due Confluence
// keep-alives (20 accounts) with every AWS call (store, vault, mailer)
// taking 10 ms and every vendor call 200 ms, at the deployment's
// SCAN_CONCURRENCY: it reports checks/s, and the AWS and vendor calls each
// check made. Run it with -benchtime=1x.
func BenchmarkScanInjectedLatency(b *testing.B) {
	const due = 2000
	l := &latency{}
	w := newScanWorld(b, memstore.New(), due, 100, func(p *scanPorts) {
		p.store = slowStore{l, p.store}
		p.vault = slowVault{l, p.vault}
		p.mailer = slowMailer{l, p.mailer}
		p.transport = slowVendor{l, p.transport}
	})
	l.aws.Store(0)
	l.vendor.Store(0)
	var elapsed time.Duration
	runtime.GC() // the setup's garbage is not the run's
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, d := w.keepAliveRun(b, i)
		elapsed += d
	}
	b.StopTimer()
	checks := float64(due * b.N)
	b.ReportMetric(checks/elapsed.Seconds(), "checks/s")
	b.ReportMetric(float64(l.aws.Load())/checks, "aws-calls/check")
	b.ReportMetric(float64(l.vendor.Load())/checks, "vendor-calls/check")
}
