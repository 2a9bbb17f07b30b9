package awsdeps

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/smithy-go/tracing"
)

// xraySegmentExporter sends each client span as an X-Ray subsegment document to
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

// exportSpan sends the span in one datagram.
func (e *xraySegmentExporter) exportSpan(s finishedSpan) {
	doc, err := json.Marshal(subsegmentOf(s))
	if err != nil {
		return
	}
	_, _ = e.conn.Write(append([]byte(daemonHeader), doc...))
}

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
	Region    string `json:"region,omitempty"`
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

// subsegmentOf maps a client span: an AWS SDK operation (rpc.system
// aws-api: named by its service, the operation, region and request id
// under "aws") or an HTTP request (named by its host; the URL without its
// query, which never reaches a trace). Status: 429 is a throttle, other
// 4xx (or an SDK error the service calls the client's) an error, 5xx, a
// failed exchange or another failed SDK call a fault.
func subsegmentOf(s finishedSpan) subsegment {
	status := 0
	for _, k := range []string{"http.response.status_code", "http.status_code"} {
		if n, err := strconv.Atoi(s.attr(k)); err == nil {
			status = n
		}
	}
	seg := subsegment{
		Name:      s.Name,
		ID:        s.ID,
		TraceID:   s.TraceID,
		ParentID:  s.ParentID,
		Type:      "subsegment",
		StartTime: float64(s.Start.UnixMicro()) / 1e6,
		EndTime:   float64(s.End.UnixMicro()) / 1e6,
		Namespace: "remote",
	}
	if s.attr("rpc.system") == "aws-api" {
		seg.Namespace, seg.Name = "aws", s.attr("rpc.service")
		seg.AWS = &xrayAWS{Operation: s.attr("rpc.method"), Region: s.attr("aws.region"), RequestID: s.attr("aws.request_id")}
	}
	if m := s.attr("http.request.method"); m != "" || status != 0 {
		seg.HTTP = &xrayHTTP{}
		seg.HTTP.Request.Method = m
		if u, err := url.Parse(s.attr("url.full")); err == nil {
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
	if s.attr("api.error_fault") == "client" && !seg.Fault {
		seg.Error = true
	}
	if s.Status == tracing.SpanStatusError && !seg.Error && !seg.Throttle {
		seg.Fault = true
	}
	if t := s.attr("exception.type"); t != "" {
		// The SDK's error type; its message stays out (it may name a
		// secret or an item).
		seg.Fault = seg.Fault || !seg.Error
		seg.Cause = &xrayCause{Exceptions: []xrayException{{ID: seg.ID, Type: t}}}
	}
	return seg
}
