package awsdeps

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go/tracing"
)

// Tracing: the AWS SDK's own tracing interface (smithy-go's tracing
// package) implemented by a small X-Ray tracer; X-Ray as the backend.
//
// With X-Ray active tracing (template.yaml: Tracing: Active) Lambda samples
// each invocation, records the function's own segment, and hands the
// invocation the trace header (Root, Parent: that segment, Sampled). The
// functions add one subsegment per AWS SDK call (the span the SDK starts
// for each operation, of kind client) and per vendor HTTP call
// (tracedTransport on the vendor client), as children of Lambda's
// segment, and send each as an X-Ray subsegment document to the X-Ray
// daemon endpoint Lambda runs for every traced function
// (AWS_XRAY_DAEMON_ADDRESS; xraySegmentExporter). No OpenTelemetry SDK
// (about 0.7 MB on every bootstrap, whose budget is 12 MB), no X-Ray SDK
// for Go, no OTLP exporter or collector layer; see README "Tracing" for
// the choice.
//
// An invocation whose header says Sampled=0, or that has none (sam local,
// the local server, tests), records nothing.

// spanExporter receives each sampled client span as it ends.
type spanExporter interface {
	exportSpan(finishedSpan)
}

// xrayTracer is the AWS SDK clients' TracerProvider (and Tracer): spans
// in the invocation's X-Ray trace, sampled as its trace header says, each
// client span handed to exp as it ends (a Lambda may be frozen between
// invocations: nothing waits in a buffer). The SDK's internal spans (retry
// loop, attempts, serialization, the HTTP exchange) are not exported:
// they are not worth a subsegment each, but the request id and HTTP status
// they learn are kept on their operation's span.
type xrayTracer struct {
	exp    spanExporter
	region string // of the AWS clients this tracer serves
	now    func() time.Time
}

var _ tracing.TracerProvider = (*xrayTracer)(nil)

func newTracer(exp spanExporter) *xrayTracer {
	return &xrayTracer{exp: exp, now: time.Now}
}

// Tracer is t itself: every scope is traced alike.
func (t *xrayTracer) Tracer(string, ...tracing.TracerOption) tracing.Tracer { return t }

// StartSpan starts a span under the span in ctx (one of ours), else under
// the invocation's segment of the trace header WithLambdaTrace put in ctx
// when that header says Sampled=1; otherwise it records nothing.
func (t *xrayTracer) StartSpan(ctx context.Context, name string, opts ...tracing.SpanOption) (context.Context, tracing.Span) {
	var o tracing.SpanOptions
	for _, opt := range opts {
		opt(&o)
	}
	s := &span{tracer: t, name: name, kind: o.Kind, id: newSpanID(), start: t.now(), attrs: map[string]any{}}
	if p, ok := tracing.GetSpan(ctx); ok {
		if ps, ok := p.(*span); ok {
			s.traceID, s.parentID, s.op = ps.traceID, ps.anchor(), ps.op
		}
	}
	if s.traceID == "" {
		h, ok := ctx.Value(traceHeaderKey{}).(traceHeader)
		if !ok || !h.sampled {
			return tracing.NopTracerProvider{}.Tracer("").StartSpan(ctx, name)
		}
		s.traceID, s.parentID = h.root, h.parent
	}
	if s.kind == tracing.SpanKindClient {
		s.op = s
	}
	for k, v := range o.Properties.Values() {
		s.SetProperty(k, v)
	}
	if s.kind == tracing.SpanKindClient && t.region != "" {
		s.attrs["aws.region"] = t.region
	}
	return tracing.WithSpan(ctx, s), s
}

// span is a sampled span of the invocation's trace.
type span struct {
	tracer   *xrayTracer
	name     string
	kind     tracing.SpanKind
	traceID  string // X-Ray's form: 1-<8 hex>-<24 hex>
	id       string // 16 hex digits
	parentID string // the subsegment (or Lambda's segment) it belongs under
	op       *span  // the client span it is part of (itself if a client span), or nil
	start    time.Time

	mu     sync.Mutex
	attrs  map[string]any
	status tracing.SpanStatus
	ended  bool
}

// anchor is the id a child span's subsegment hangs under: this span's if
// it is exported (a client span), else its own parent's.
func (s *span) anchor() string {
	if s.kind == tracing.SpanKindClient {
		return s.id
	}
	return s.parentID
}

func (s *span) Name() string { return s.name }

func (s *span) Context() tracing.SpanContext {
	return tracing.SpanContext{TraceID: s.traceID, SpanID: s.id}
}

func (s *span) AddEvent(string, ...tracing.EventOption) {}

func (s *span) SetStatus(status tracing.SpanStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.status = status
	}
}

// SetProperty records an attribute; the request id and HTTP status an
// internal span of an SDK call learns (the attempt's, the HTTP
// exchange's) go to the call's span too.
func (s *span) SetProperty(k, v any) {
	key, ok := k.(string)
	if !ok {
		return
	}
	s.set(key, v)
	if s.op != nil && s.op != s && (key == "aws.request_id" || key == "http.status_code") {
		s.op.set(key, v)
	}
}

func (s *span) set(key string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.attrs[key] = v
	}
}

// End ends the span; a client span goes to the exporter.
func (s *span) End() {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	f := finishedSpan{
		Name: s.name, Kind: s.kind, TraceID: s.traceID, ID: s.id, ParentID: s.parentID,
		Start: s.start, End: s.tracer.now(), Attrs: s.attrs, Status: s.status,
	}
	s.mu.Unlock()
	if s.kind == tracing.SpanKindClient {
		s.tracer.exp.exportSpan(f)
	}
}

// finishedSpan is an ended span as the exporter gets it.
type finishedSpan struct {
	Name                  string
	Kind                  tracing.SpanKind
	TraceID, ID, ParentID string
	Start, End            time.Time
	Attrs                 map[string]any
	Status                tracing.SpanStatus
}

// attr is the attribute k as text ("" if absent).
func (f finishedSpan) attr(k string) string {
	v, ok := f.Attrs[k]
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

// newSpanID is a random 64-bit id in 16 hex digits, as X-Ray's
// subsegment ids are.
func newSpanID() string {
	return fmt.Sprintf("%016x", rand.Uint64())
}

// traceHeader is the X-Ray trace header Lambda hands an invocation
// ("Root=1-…;Parent=…;Sampled=1",
// https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader).
type traceHeader struct {
	root, parent string
	sampled      bool
}

type traceHeaderKey struct{}

// parseTraceHeader reads h; ok only with a well-formed Root and Parent.
func parseTraceHeader(h string) (traceHeader, bool) {
	var th traceHeader
	for part := range strings.SplitSeq(h, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Root":
			th.root = v
		case "Parent":
			th.parent = v
		case "Sampled":
			th.sampled = v == "1"
		}
	}
	// Root: 1-<8 hex digits of epoch seconds>-<24 hex digits>.
	root := strings.Split(th.root, "-")
	ok := len(root) == 3 && root[0] == "1" && isHex(root[1], 8) && isHex(root[2], 24) && isHex(th.parent, 16)
	return th, ok
}

func isHex(s string, n int) bool {
	_, err := hex.DecodeString(s)
	return len(s) == n && err == nil
}

// Traced wraps a Lambda handler so that the spans of its invocation belong
// to the invocation's X-Ray trace: the trace header Lambda hands it (the
// context's "x-amzn-trace-id", which aws-lambda-go sets, else
// _X_AMZN_TRACE_ID) becomes the parent of every span the handler's calls
// start.
func Traced[In, Out any](h func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		return h(WithLambdaTrace(ctx), in)
	}
}

// WithLambdaTrace is ctx with the invocation's trace header as the parent
// of the spans started from it (ctx unchanged without a well-formed
// header).
func WithLambdaTrace(ctx context.Context) context.Context {
	header, _ := ctx.Value("x-amzn-trace-id").(string)
	if header == "" {
		header = os.Getenv("_X_AMZN_TRACE_ID")
	}
	th, ok := parseTraceHeader(header)
	if !ok {
		return ctx
	}
	return context.WithValue(ctx, traceHeaderKey{}, th)
}

// tracedVendorClient is c with a client span per vendor request: named
// by the host, with the method, the URL without its query and the answer's
// status (OpenTelemetry's HTTP attribute names). Nothing is propagated to
// the vendor: the trace's ids are ours, not a third party's.
func tracedVendorClient(c *http.Client, tp tracing.TracerProvider) *http.Client {
	cp := *c
	cp.Transport = tracedTransport{base: c.Transport, tracer: tp.Tracer("github.com/workplace/connections/vendor-http")}
	return &cp
}

type tracedTransport struct {
	base   http.RoundTripper
	tracer tracing.Tracer
}

func (t tracedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	u := *r.URL
	u.RawQuery, u.Fragment, u.User = "", "", nil
	ctx, span := t.tracer.StartSpan(r.Context(), r.URL.Host, func(o *tracing.SpanOptions) {
		o.Kind = tracing.SpanKindClient
		o.Properties.Set("http.request.method", r.Method)
		o.Properties.Set("url.full", u.String())
		o.Properties.Set("server.address", r.URL.Hostname())
	})
	defer span.End()
	resp, err := t.base.RoundTrip(r.WithContext(ctx))
	if err != nil {
		span.SetStatus(tracing.SpanStatusError)
		return resp, err
	}
	span.SetProperty("http.response.status_code", resp.StatusCode)
	if resp.StatusCode >= 500 {
		span.SetStatus(tracing.SpanStatusError)
	}
	return resp, nil
}

// noTracing is the tracer provider outside a traced Lambda.
var noTracing tracing.TracerProvider = tracing.NopTracerProvider{}

// sdkTracer is tp for the AWS SDK clients of region: the region goes on
// their subsegments.
func sdkTracer(tp tracing.TracerProvider, region string) tracing.TracerProvider {
	if t, ok := tp.(*xrayTracer); ok {
		c := *t
		c.region = region
		return &c
	}
	return tp
}
