package awsdeps

import (
	"context"
	"encoding/json"
	"errors"
	"hash/crc32"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go/tracing"

	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
)

// The trace header Lambda hands a sampled invocation: its trace, and its
// own segment as the parent.
const (
	lambdaHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	traceRoot    = "1-5759e988-bd862e3fe1be46a994272793"
	parentHex    = "53995c3f42cd8ad8"
)

// recorder keeps the spans the tracer exports.
type recorder struct {
	mu    sync.Mutex
	spans []finishedSpan
}

func (r *recorder) exportSpan(s finishedSpan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, s)
}

func (r *recorder) get() []finishedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]finishedSpan(nil), r.spans...)
}

func invocation(header string) context.Context {
	//lint:ignore SA1029 the key aws-lambda-go itself puts the header under
	return WithLambdaTrace(context.WithValue(context.Background(), "x-amzn-trace-id", header))
}

// fakeAWS answers every AWS call with an empty JSON document and a request
// id, as DynamoDB answers a GetItem of an absent item.
func fakeAWS(t *testing.T) {
	t.Helper()
	fakeAWSAnswering(t, http.StatusOK, `{}`)
}

// fakeAWSAnswering answers every AWS call with status and body, and a
// request id.
func fakeAWSAnswering(t *testing.T, status int, body string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-RequestId", "req-1")
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10))
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
}

// vendorServer is a vendor's server answering status; it fails the test
// if a request carried a trace header to it.
func vendorServer(t *testing.T, status int) *httptest.Server {
	t.Helper()
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.WriteHeader(status)
	}))
	t.Cleanup(func() {
		srv.Close()
		for k := range got {
			if strings.Contains(strings.ToLower(k), "trace") {
				t.Errorf("the vendor received a trace header %s: %v", k, got[k])
			}
		}
	})
	return srv
}

// sdkAndVendorCall builds the Lambdas' dependencies as Load does, with
// tracing by tp, and makes one AWS SDK call (the store's) and one vendor
// call (the vendor client's) in the invocation of header.
func sdkAndVendorCall(t *testing.T, tp tracing.TracerProvider, header string, status int) {
	t.Helper()
	fakeAWS(t)
	srv := vendorServer(t, status)
	cfg, err := config.FromEnv(func(k string) string {
		if k == "PRIVATE_VENDOR_HOSTS" {
			return strings.TrimPrefix(srv.URL, "http://")
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	d := deps(context.Background(), cfg, tp, slog.New(slog.DiscardHandler))
	ctx := invocation(header)
	if _, err := d.Store.GetConnection(ctx, connection.AppKey("a1", "servicenow")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetConnection on the fake: %v", err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/oauth_token.do?client_secret=never-traced", nil)
	resp, err := d.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
}

// TestTracingSpansForSDKAndVendorCalls: in a sampled invocation, the AWS
// SDK call and the vendor call are each one client span of the
// invocation's trace, children of Lambda's segment; nothing else (the
// SDK's internal spans) is exported, and the vendor URL's query is not
// recorded.
func TestTracingSpansForSDKAndVendorCalls(t *testing.T) {
	rec := &recorder{}
	sdkAndVendorCall(t, newTracer(rec), lambdaHeader, http.StatusOK)

	spans := rec.get()
	if len(spans) != 2 {
		names := []string{}
		for _, s := range spans {
			names = append(names, s.Name)
		}
		t.Fatalf("%d spans %v, want the SDK call's and the vendor call's", len(spans), names)
	}
	for _, s := range spans {
		if s.TraceID != traceRoot || s.ParentID != parentHex || s.Kind != tracing.SpanKindClient || len(s.ID) != 16 || !isHex(s.ID, 16) {
			t.Errorf("span %s: trace %s parent %s kind %v id %q, want trace %s under Lambda's segment %s", s.Name,
				s.TraceID, s.ParentID, s.Kind, s.ID, traceRoot, parentHex)
		}
	}
	sdk, vendor := spans[0], spans[1]
	if sdk.Name != "DynamoDB.GetItem" || sdk.attr("rpc.system") != "aws-api" || sdk.attr("rpc.service") != "DynamoDB" || sdk.attr("rpc.method") != "GetItem" {
		t.Errorf("SDK span %s %v", sdk.Name, sdk.Attrs)
	}
	if !strings.HasSuffix(vendor.attr("url.full"), "/oauth_token.do") || vendor.attr("http.request.method") != "POST" || vendor.attr("http.response.status_code") != "200" {
		t.Errorf("vendor span %s %v", vendor.Name, vendor.Attrs)
	}

	// As X-Ray subsegments.
	seg := subsegmentOf(sdk)
	if seg.Type != "subsegment" || seg.TraceID != traceRoot || seg.ParentID != parentHex || seg.ID != sdk.ID ||
		seg.Namespace != "aws" || seg.Name != "DynamoDB" || seg.AWS == nil || seg.AWS.Operation != "GetItem" ||
		seg.AWS.Region != "eu-west-1" || seg.AWS.RequestID != "req-1" || seg.Fault || seg.Error || seg.EndTime < seg.StartTime {
		t.Errorf("SDK subsegment %+v aws %+v", seg, seg.AWS)
	}
	seg = subsegmentOf(vendor)
	if seg.Namespace != "remote" || seg.HTTP == nil || seg.HTTP.Request.Method != "POST" || strings.Contains(seg.HTTP.Request.URL, "?") ||
		seg.HTTP.Response.Status != 200 || seg.Error || seg.Fault || seg.AWS != nil {
		t.Errorf("vendor subsegment %+v", seg)
	}
}

// TestTracingFollowsLambdasSampling: an invocation Lambda did not sample,
// or one without a trace header (local runs), records nothing.
func TestTracingFollowsLambdasSampling(t *testing.T) {
	for name, header := range map[string]string{
		"not sampled": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
		"no header":   "",
		"no decision": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
		"bad root":    "Root=5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		"no parent":   "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("_X_AMZN_TRACE_ID", "")
			rec := &recorder{}
			sdkAndVendorCall(t, newTracer(rec), header, http.StatusOK)
			if n := len(rec.get()); n != 0 {
				t.Fatalf("%d spans recorded", n)
			}
		})
	}
}

// TestXRayDaemonDocuments: the exporter sends each span to the daemon's
// UDP address (Lambda's "tcp:… udp:…" form) as the daemon header and one
// subsegment document; a vendor's 5xx is a fault.
func TestXRayDaemonDocuments(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	exp, err := newXRayExporter("tcp:127.0.0.1:9 udp:" + pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer exp.conn.Close()
	sdkAndVendorCall(t, newTracer(exp), lambdaHeader, http.StatusBadGateway)
	var docs []subsegment
	buf := make([]byte, 65536)
	for len(docs) < 2 {
		_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %d documents: %v", len(docs), err)
		}
		header, body, ok := strings.Cut(string(buf[:n]), "\n")
		if !ok || header != `{"format": "json", "version": 1}` {
			t.Fatalf("datagram %q has no daemon header", buf[:n])
		}
		var d subsegment
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	if docs[0].Name != "DynamoDB" || docs[0].Namespace != "aws" || docs[0].AWS == nil || docs[0].AWS.RequestID != "req-1" || docs[0].TraceID != traceRoot || docs[0].ParentID != parentHex {
		t.Errorf("SDK document %+v", docs[0])
	}
	if docs[1].Namespace != "remote" || !docs[1].Fault || docs[1].HTTP.Response.Status != http.StatusBadGateway || docs[1].ParentID != parentHex {
		t.Errorf("vendor document %+v", docs[1])
	}
}

// TestTracingReadsTheEnvironmentsHeader: without the header in the
// context, the invocation's _X_AMZN_TRACE_ID is the parent.
func TestTracingReadsTheEnvironmentsHeader(t *testing.T) {
	t.Setenv("_X_AMZN_TRACE_ID", lambdaHeader)
	rec := &recorder{}
	sdkAndVendorCall(t, newTracer(rec), "", http.StatusOK)
	spans := rec.get()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	for _, s := range spans {
		if s.TraceID != traceRoot || s.ParentID != parentHex {
			t.Errorf("span %s: trace %s parent %s", s.Name, s.TraceID, s.ParentID)
		}
	}
}

// TestTracingAWSErrors: an AWS call the service refuses as the caller's
// error (DynamoDB's 400 ResourceNotFoundException) is one subsegment
// marked error, not fault, with the error's type as its cause and the
// request id; the error's message stays out of the trace.
func TestTracingAWSErrors(t *testing.T) {
	fakeAWSAnswering(t, http.StatusBadRequest,
		`{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found: table-secret-name"}`)
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	d := deps(context.Background(), cfg, newTracer(rec), slog.New(slog.DiscardHandler))
	if _, err := d.Store.GetConnection(invocation(lambdaHeader), connection.AppKey("a1", "servicenow")); err == nil {
		t.Fatal("GetConnection succeeded on a missing table")
	}
	spans := rec.get()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want the one call's", len(spans))
	}
	seg := subsegmentOf(spans[0])
	if !seg.Error || seg.Fault || seg.Throttle || seg.HTTP == nil || seg.HTTP.Response.Status != http.StatusBadRequest ||
		seg.AWS == nil || seg.AWS.RequestID != "req-1" || seg.Cause == nil || len(seg.Cause.Exceptions) != 1 || seg.Cause.Exceptions[0].Type == "" {
		t.Fatalf("subsegment %+v", seg)
	}
	doc, _ := json.Marshal(seg)
	if strings.Contains(string(doc), "table-secret-name") {
		t.Errorf("the error's message reached the trace: %s", doc)
	}
}

// TestSubsegmentStatus: how an ended call's outcome reads in X-Ray.
func TestSubsegmentStatus(t *testing.T) {
	vendor := func(status int, spanStatus tracing.SpanStatus) finishedSpan {
		attrs := map[string]any{"http.request.method": "GET", "url.full": "https://example.com/x"}
		if status != 0 {
			attrs["http.response.status_code"] = status
		}
		return finishedSpan{Name: "example.com", Kind: tracing.SpanKindClient, Attrs: attrs, Status: spanStatus}
	}
	for name, tc := range map[string]struct {
		span                   finishedSpan
		error, throttle, fault bool
	}{
		"ok":        {span: vendor(200, tracing.SpanStatusUnset)},
		"not found": {span: vendor(404, tracing.SpanStatusUnset), error: true},
		"throttled": {span: vendor(429, tracing.SpanStatusUnset), error: true, throttle: true},
		"5xx":       {span: vendor(503, tracing.SpanStatusError), fault: true},
		"no answer": {span: vendor(0, tracing.SpanStatusError), fault: true},
		"SDK server error": {span: finishedSpan{Attrs: map[string]any{"rpc.system": "aws-api", "rpc.service": "KMS", "rpc.method": "Decrypt",
			"exception.type": "*smithy.GenericAPIError", "api.error_fault": "server"}, Status: tracing.SpanStatusError}, fault: true},
	} {
		t.Run(name, func(t *testing.T) {
			seg := subsegmentOf(tc.span)
			if seg.Error != tc.error || seg.Throttle != tc.throttle || seg.Fault != tc.fault {
				t.Errorf("error %v throttle %v fault %v, want %v %v %v", seg.Error, seg.Throttle, seg.Fault, tc.error, tc.throttle, tc.fault)
			}
		})
	}
}
