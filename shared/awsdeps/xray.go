package awsdeps

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// xraySegmentExporter sends each span as an X-Ray subsegment document to
// the X-Ray daemon over UDP: the header line {"format": "json",
// "version": 1}, then the document
// (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html#xray-api-daemon,
// https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html).
// In Lambda the daemon's endpoint is AWS_XRAY_DAEMON_ADDRESS and a span's
// parent is Lambda's own segment of the invocation (or another of our
// spans). A send that fails is dropped: tracing never fails a request.
type xraySegmentExporter struct {
	conn net.Conn
}

// newXRayExporter dials the daemon at address ("host:port", or Lambda's
// "tcp:host:port udp:host:port" form).
func newXRayExporter(address string) (*xraySegmentExporter, error) {
	for _, f := range strings.Fields(address) {
		if rest, ok := strings.CutPrefix(f, "udp:"); ok {
			address = rest
		}
	}
	conn, err := net.Dial("udp", address)
	if err != nil {
		return nil, fmt.Errorf("X-Ray daemon at %q: %w", address, err)
	}
	return &xraySegmentExporter{conn: conn}, nil
}

const daemonHeader = `{"format": "json", "version": 1}` + "\n"

// ExportSpans sends one datagram per span.
func (e *xraySegmentExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	for _, s := range spans {
		doc, err := json.Marshal(subsegmentOf(s))
		if err != nil {
			continue
		}
		_, _ = e.conn.Write(append([]byte(daemonHeader), doc...))
	}
	return nil
}

// Shutdown closes the socket.
func (e *xraySegmentExporter) Shutdown(context.Context) error { return e.conn.Close() }

// subsegment is an X-Ray subsegment document sent on its own.
type subsegment struct {
	Name      string     `json:"name"`
	ID        string     `json:"id"`
	TraceID   string     `json:"trace_id"`
	ParentID  string     `json:"parent_id"`
	Type      string     `json:"type"` // "subsegment"
	StartTime float64    `json:"start_time"`
	EndTime   float64    `json:"end_time"`
	Namespace string     `json:"namespace"` // "aws" for an AWS SDK call, "remote" for another HTTP call
	Error     bool       `json:"error,omitempty"`
	Throttle  bool       `json:"throttle,omitempty"`
	Fault     bool       `json:"fault,omitempty"`
	HTTP      *xrayHTTP  `json:"http,omitempty"`
	AWS       *xrayAWS   `json:"aws,omitempty"`
	Cause     *xrayCause `json:"cause,omitempty"`
}

type xrayHTTP struct {
	Request struct {
		Method string `json:"method,omitempty"`
		URL    string `json:"url,omitempty"`
	} `json:"request"`
	Response struct {
		Status int `json:"status,omitempty"`
	} `json:"response"`
}

type xrayAWS struct {
	Operation string `json:"operation,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

type xrayCause struct {
	Exceptions []xrayException `json:"exceptions"`
}

type xrayException struct {
	ID      string `json:"id"`
	Type    string `json:"type,omitempty"`
	Message string `json:"message,omitempty"`
}

// xrayTraceID is an OpenTelemetry trace id (made by the X-Ray id
// generator, or taken from Lambda's header) in X-Ray's form:
// 1-<8 hex digits of epoch seconds>-<24 hex digits>.
func xrayTraceID(id trace.TraceID) string {
	h := id.String()
	return "1-" + h[:8] + "-" + h[8:]
}

// subsegmentOf maps a client span: an AWS SDK operation (rpc.system
// aws-api: named by its service, the operation and request id under
// "aws") or an HTTP request (named by its host; the URL without its query,
// which never reaches a trace). Status: 429 is a throttle, other 4xx an
// error, 5xx, a failed exchange or a failed SDK call a fault.
func subsegmentOf(s sdktrace.ReadOnlySpan) subsegment {
	attrs := map[string]string{}
	status := 0
	for _, kv := range s.Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
		if kv.Key == "http.response.status_code" || kv.Key == "http.status_code" {
			status = int(kv.Value.AsInt64())
		}
	}
	seg := subsegment{
		Name:      s.Name(),
		ID:        s.SpanContext().SpanID().String(),
		TraceID:   xrayTraceID(s.SpanContext().TraceID()),
		ParentID:  s.Parent().SpanID().String(),
		Type:      "subsegment",
		StartTime: float64(s.StartTime().UnixMicro()) / 1e6,
		EndTime:   float64(s.EndTime().UnixMicro()) / 1e6,
		Namespace: "remote",
	}
	if attrs["rpc.system"] == "aws-api" {
		seg.Namespace, seg.Name = "aws", attrs["rpc.service"]
		seg.AWS = &xrayAWS{Operation: attrs["rpc.method"], RequestID: attrs["aws.request_id"]}
	}
	if m := attrs["http.request.method"]; m != "" {
		seg.HTTP = &xrayHTTP{}
		seg.HTTP.Request.Method = m
		if u, err := url.Parse(attrs["url.full"]); err == nil {
			u.RawQuery, u.Fragment, u.User = "", "", nil
			seg.HTTP.Request.URL = u.String()
		}
		seg.HTTP.Response.Status = status
	}
	switch {
	case status == 429:
		seg.Throttle, seg.Error = true, true
	case status >= 500:
		seg.Fault = true
	case status >= 400:
		seg.Error = true
	}
	if s.Status().Code == codes.Error && !seg.Error && !seg.Throttle {
		seg.Fault = true
	}
	if t := attrs["exception.type"]; t != "" {
		// The SDK's error type; its message stays out (it may name a
		// secret or an item).
		seg.Fault = seg.Fault || !seg.Error
		seg.Cause = &xrayCause{Exceptions: []xrayException{{ID: seg.ID, Type: t}}}
	}
	return seg
}
