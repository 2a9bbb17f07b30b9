package awsdeps

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/store"
)

// The trace header Lambda hands a sampled invocation: its trace, and its
// own segment as the parent.
const (
	lambdaHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	traceHex     = "5759e988bd862e3fe1be46a994272793"
	parentHex    = "53995c3f42cd8ad8"
)

func invocation(header string) context.Context {
	//lint:ignore SA1029 the key aws-lambda-go itself puts the header under
	return WithLambdaTrace(context.WithValue(context.Background(), "x-amzn-trace-id", header))
}

// fakeAWS answers every AWS call with an empty JSON document and a request
// id, as DynamoDB answers a GetItem of an absent item.
func fakeAWS(t *testing.T) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-RequestId", "req-1")
		w.Header().Set("X-Amz-Crc32", "2745614147") // of {}
		_, _ = w.Write([]byte(`{}`))
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
func sdkAndVendorCall(t *testing.T, tp trace.TracerProvider, header string, status int) {
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
	exp := tracetest.NewInMemoryExporter()
	tp := NewTracerProvider(exp)
	sdkAndVendorCall(t, tp, lambdaHeader, http.StatusOK)

	spans := exp.GetSpans()
	if len(spans) != 2 {
		names := []string{}
		for _, s := range spans {
			names = append(names, s.Name)
		}
		t.Fatalf("%d spans %v, want the SDK call's and the vendor call's", len(spans), names)
	}
	attrs := func(s tracetest.SpanStub) map[string]string {
		m := map[string]string{}
		for _, kv := range s.Attributes {
			m[string(kv.Key)] = kv.Value.String()
		}
		return m
	}
	for _, s := range spans {
		if s.SpanContext.TraceID().String() != traceHex || s.Parent.SpanID().String() != parentHex || s.SpanKind != trace.SpanKindClient {
			t.Errorf("span %s: trace %s parent %s kind %v, want trace %s under Lambda's segment %s", s.Name,
				s.SpanContext.TraceID(), s.Parent.SpanID(), s.SpanKind, traceHex, parentHex)
		}
	}
	sdk, http1 := attrs(spans[0]), attrs(spans[1])
	if spans[0].Name != "DynamoDB.GetItem" || sdk["rpc.system"] != "aws-api" || sdk["rpc.service"] != "DynamoDB" || sdk["rpc.method"] != "GetItem" {
		t.Errorf("SDK span %s %v", spans[0].Name, sdk)
	}
	if !strings.HasSuffix(http1["url.full"], "/oauth_token.do") || http1["http.request.method"] != "POST" || http1["http.response.status_code"] != "200" {
		t.Errorf("vendor span %s %v", spans[1].Name, http1)
	}

	// As X-Ray subsegments.
	seg := subsegmentOf(spans[0].Snapshot())
	if seg.Type != "subsegment" || seg.TraceID != "1-5759e988-bd862e3fe1be46a994272793" || seg.ParentID != parentHex ||
		seg.Namespace != "aws" || seg.Name != "DynamoDB" || seg.AWS == nil || seg.AWS.Operation != "GetItem" || seg.Fault || seg.EndTime < seg.StartTime {
		t.Errorf("SDK subsegment %+v", seg)
	}
	seg = subsegmentOf(spans[1].Snapshot())
	if seg.Namespace != "remote" || seg.HTTP == nil || seg.HTTP.Request.Method != "POST" || strings.Contains(seg.HTTP.Request.URL, "?") ||
		seg.HTTP.Response.Status != 200 || seg.Error || seg.Fault {
		t.Errorf("vendor subsegment %+v", seg)
	}
}

// TestTracingFollowsLambdasSampling: an invocation Lambda did not sample,
// or one without a trace header (local runs), records nothing.
func TestTracingFollowsLambdasSampling(t *testing.T) {
	for name, header := range map[string]string{
		"not sampled": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
		"no header":   "",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("_X_AMZN_TRACE_ID", "")
			exp := tracetest.NewInMemoryExporter()
			sdkAndVendorCall(t, NewTracerProvider(exp), header, http.StatusOK)
			if n := len(exp.GetSpans()); n != 0 {
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
	tp := NewTracerProvider(exp)
	sdkAndVendorCall(t, tp, lambdaHeader, http.StatusBadGateway)
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
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
	if docs[0].Name != "DynamoDB" || docs[0].AWS.RequestID != "" && docs[0].AWS.RequestID != "req-1" || docs[0].TraceID != "1-5759e988-bd862e3fe1be46a994272793" {
		t.Errorf("SDK document %+v", docs[0])
	}
	if docs[1].Namespace != "remote" || !docs[1].Fault || docs[1].HTTP.Response.Status != http.StatusBadGateway || docs[1].ParentID != parentHex {
		t.Errorf("vendor document %+v", docs[1])
	}
}
