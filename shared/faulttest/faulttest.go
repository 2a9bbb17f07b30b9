// Package faulttest makes the service's dependencies fail on purpose: it
// wraps the ports (store.Store, vault.Vault, mail.Mailer, eventbus.Bus)
// and the vendor HTTP transport (http.RoundTripper) so that one chosen
// call — the Nth made through any of them since the injector was armed —
// fails in a chosen way. A test first runs a flow clean to count its calls, then runs it
// again once per call and kind of failure, and checks what is left.
//
// It is for tests only: no production code imports it.
package faulttest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/aws/smithy-go"
)

// Kind is how the chosen call fails.
type Kind int

const (
	// Fail: the call is not performed and answers a plain error (an AWS
	// 500, a refused connection).
	Fail Kind = iota
	// Timeout: the call is not performed and answers an error wrapping
	// context.DeadlineExceeded, as a call cut off by its deadline does.
	Timeout
	// Throttle: the call is not performed and answers the provider's
	// throttling error as the adapter passes it on once the SDK's retries
	// are spent (DynamoDB and Secrets Manager: a smithy API error with a
	// throttling code; SES: mail.ErrThrottled; a vendor: 429 with
	// Retry-After).
	Throttle
	// LostAnswer: the call is performed — the write is stored, the email
	// sent, the vendor has answered — and then answers an error wrapping
	// context.DeadlineExceeded, as when the answer is lost on the way back.
	LostAnswer
)

// Kinds are every kind of failure.
var Kinds = []Kind{Fail, Timeout, Throttle, LostAnswer}

func (k Kind) String() string {
	switch k {
	case Fail:
		return "error"
	case Timeout:
		return "timeout"
	case Throttle:
		return "throttle"
	case LostAnswer:
		return "lost-answer"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Call is one call made through the injector.
type Call struct {
	N    int    // 1-based, since the injector was last armed or reset
	Name string // "store.Apply", "vault.Put", "mail.Send", "http POST /oauth/token"
	// Detail says what the call was about, where the wrapper knows: the
	// secret name of a vault call, the ops of an Apply.
	Detail string
	// Injected: this call failed on purpose, in this way.
	Injected bool
	Kind     Kind
	// Performed: the call reached the wrapped dependency (always, except
	// for an injected Fail, Timeout or Throttle).
	Performed bool
	// Version is the version a vault Put wrote (also when its answer was
	// lost).
	Version string
}

// Injector counts the calls made through the dependencies it wraps and
// fails the one it is armed for. It is safe for concurrent use; with
// concurrent callers "call N" is whichever comes Nth.
type Injector struct {
	mu    sync.Mutex
	armed bool
	at    int    // fail call at; 0: the first call named name
	name  string // with at == 0
	kind  Kind
	calls []Call
}

// New is an injector that fails nothing until armed.
func New() *Injector { return &Injector{} }

// Arm makes call n (1-based, counted from now) fail as kind, and forgets
// the calls made so far.
func (in *Injector) Arm(n int, kind Kind) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.armed, in.at, in.name, in.kind, in.calls = true, n, "", kind, nil
}

// ArmFirst makes the first call named name (counted from now) fail as
// kind, and forgets the calls made so far.
func (in *Injector) ArmFirst(name string, kind Kind) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.armed, in.at, in.name, in.kind, in.calls = true, 0, name, kind, nil
}

// Reset forgets the calls made so far and fails nothing: what follows is
// counted from 1 (a clean run that counts a flow's calls).
func (in *Injector) Reset() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.armed, in.calls = false, nil
}

// Disarm fails nothing more; the calls made so far are kept.
func (in *Injector) Disarm() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.armed = false
}

// Calls are the calls made since the injector was armed or reset.
func (in *Injector) Calls() []Call {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Call(nil), in.calls...)
}

// Injected is the call that failed on purpose, if one did.
func (in *Injector) Injected() (Call, bool) {
	for _, c := range in.Calls() {
		if c.Injected {
			return c, true
		}
	}
	return Call{}, false
}

// begin records a call and says how it is to fail (ok: it is not).
func (in *Injector) begin(name, detail string) (n int, kind Kind, inject bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	n = len(in.calls) + 1
	inject = in.armed && (n == in.at || in.at == 0 && name == in.name)
	if inject && in.at == 0 {
		in.at = n // only the first of that name
	}
	c := Call{N: n, Name: name, Detail: detail, Injected: inject, Kind: in.kind, Performed: !inject || in.kind == LostAnswer}
	in.calls = append(in.calls, c)
	return n, in.kind, inject
}

// wrote records the version a vault Put of call n wrote.
func (in *Injector) wrote(n int, version string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.calls[n-1].Version = version
}

// do runs one call of a port: f performs it; throttled is the port's
// throttling error. The error returned is f's, or the injected one; n is
// the call's number.
func (in *Injector) do(name, detail string, throttled func() error, f func() error) (n int, err error) {
	n, kind, inject := in.begin(name, detail)
	if !inject {
		return n, f()
	}
	switch kind {
	case Timeout:
		return n, timeoutError(name)
	case Throttle:
		return n, throttled()
	case LostAnswer:
		if err := f(); err != nil {
			return n, err // it failed by itself: that answer is not lost
		}
		return n, lostError(name)
	default:
		return n, fmt.Errorf("%w: %s: failed", ErrInjected, name)
	}
}

// ErrInjected is wrapped by every injected error, so a test can tell its
// own failures from others.
var ErrInjected = errors.New("faulttest: injected")

func timeoutError(name string) error {
	return fmt.Errorf("%w: %s: %w", ErrInjected, name, context.DeadlineExceeded)
}

func lostError(name string) error {
	return fmt.Errorf("%w: %s performed, its answer lost: %w", ErrInjected, name, context.DeadlineExceeded)
}

// awsThrottle is the error an AWS adapter passes on when the service keeps
// throttling after the SDK's retries: an API error with the service's
// throttling code.
func awsThrottle(service, op, code string) error {
	return fmt.Errorf("%w: %s %s: %w", ErrInjected, service, op,
		&smithy.OperationError{ServiceID: service, OperationName: op,
			Err: &smithy.GenericAPIError{Code: code, Message: "Rate exceeded", Fault: smithy.FaultClient}})
}

// Transport wraps a vendor HTTP transport.
func (in *Injector) Transport(base http.RoundTripper) http.RoundTripper {
	return &transport{in: in, base: base}
}

type transport struct {
	in   *Injector
	base http.RoundTripper
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	name := "http " + r.Method + " " + r.URL.Path
	_, kind, inject := t.in.begin(name, "")
	if !inject {
		return t.base.RoundTrip(r)
	}
	switch kind {
	case Timeout:
		return nil, timeoutError(name)
	case Throttle:
		// Vendors answer 429 with Retry-After when an app sends too much.
		return &http.Response{
			Status: "429 Too Many Requests", StatusCode: http.StatusTooManyRequests,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:  http.Header{"Retry-After": {"30"}, "Content-Type": {"application/json"}},
			Body:    http.NoBody,
			Request: r,
		}, nil
	case LostAnswer:
		resp, err := t.base.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		return nil, lostError(name)
	default:
		return nil, fmt.Errorf("%w: %s: connection refused", ErrInjected, name)
	}
}
