package awsdeps

import (
	"context"
	"net/http"
	"os"

	smithytracing "github.com/aws/smithy-go/tracing"
	"github.com/aws/smithy-go/tracing/smithyoteltracing"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Tracing: OpenTelemetry in the process, X-Ray as the backend.
//
// With X-Ray active tracing (template.yaml: Tracing: Active) Lambda samples
// each invocation, records the function's own segment, and hands the
// invocation the trace header (Root, Parent: that segment, Sampled). The
// functions add one span per AWS SDK call (the SDK's own tracing, through
// smithyoteltracing) and per vendor HTTP call (tracedTransport on the
// vendor client), as children of Lambda's segment, and send them as
// X-Ray subsegments to the X-Ray daemon endpoint Lambda runs for every
// traced function (AWS_XRAY_DAEMON_ADDRESS; xraySegmentExporter). No
// collector layer and no OTLP exporter: the OTLP exporters bring protobuf
// and gRPC (the bootstraps would double in size) and the ADOT collector
// layer would add an extension to every cold start; see README
// "Tracing" for the choice.
//
// An invocation whose header says Sampled=0, or that has none (sam local,
// the local server, tests), records nothing: the sampler follows the
// parent, and a span without a parent is not sampled.

// NewTracerProvider is the service's tracer provider over exp: X-Ray trace
// ids, sampling as the caller's trace header says, each span exported as
// it ends (a Lambda may be frozen between invocations: nothing waits in a
// buffer), and only client spans — the AWS SDK's calls and the vendors'
// HTTP calls; the SDK's internal spans (retry loop, attempts,
// serialization) are not worth a subsegment each.
func NewTracerProvider(exp sdktrace.SpanExporter) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())),
		sdktrace.WithIDGenerator(xray.NewIDGenerator()),
		sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(clientSpansOnly{exp})),
	)
}

// clientSpansOnly exports the client spans of the spans that end.
type clientSpansOnly struct{ sdktrace.SpanExporter }

func (c clientSpansOnly) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindClient {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return c.SpanExporter.ExportSpans(ctx, out)
}

// Traced wraps a Lambda handler so that the spans of its invocation belong
// to the invocation's X-Ray trace: the trace header Lambda hands it (the
// context's "x-amzn-trace-id", which aws-lambda-go sets, else
// _X_AMZN_TRACE_ID) becomes the remote parent of every span the handler's
// calls start.
func Traced[In, Out any](h func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		return h(WithLambdaTrace(ctx), in)
	}
}

// WithLambdaTrace is ctx with the invocation's trace header as the remote
// parent of the spans started from it (ctx unchanged without a header).
func WithLambdaTrace(ctx context.Context) context.Context {
	header, _ := ctx.Value("x-amzn-trace-id").(string)
	if header == "" {
		header = os.Getenv("_X_AMZN_TRACE_ID")
	}
	if header == "" {
		return ctx
	}
	return xray.Propagator{}.Extract(ctx, propagation.HeaderCarrier(http.Header{"X-Amzn-Trace-Id": {header}}))
}

// tracedVendorClient is c with a client span per vendor request: named
// by the host, with the method, the URL without its query and the answer's
// status (OpenTelemetry's HTTP attribute names). Nothing is propagated to
// the vendor: the trace's ids are ours, not a third party's. (otelhttp does
// this and more, at 130 KB more on every bootstrap; the bootstraps' budget
// is 12 MB.)
func tracedVendorClient(c *http.Client, tp trace.TracerProvider) *http.Client {
	cp := *c
	cp.Transport = tracedTransport{base: c.Transport, tracer: tp.Tracer("github.com/workplace/connections/vendor-http")}
	return &cp
}

type tracedTransport struct {
	base   http.RoundTripper
	tracer trace.Tracer
}

func (t tracedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	u := *r.URL
	u.RawQuery, u.Fragment, u.User = "", "", nil
	ctx, span := t.tracer.Start(r.Context(), r.URL.Host, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.full", u.String()),
			attribute.String("server.address", r.URL.Hostname())))
	defer span.End()
	resp, err := t.base.RoundTrip(r.WithContext(ctx))
	if err != nil {
		span.SetStatus(codes.Error, "no answer")
		return resp, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 500 {
		span.SetStatus(codes.Error, resp.Status)
	}
	return resp, nil
}

// noTracing is the tracer provider outside a traced Lambda.
var noTracing trace.TracerProvider = noop.NewTracerProvider()

// sdkTracer is tp as the AWS SDK clients' TracerProvider option takes it.
func sdkTracer(tp trace.TracerProvider) smithytracing.TracerProvider {
	return smithyoteltracing.Adapt(tp)
}
