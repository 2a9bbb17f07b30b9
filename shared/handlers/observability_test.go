package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/expiry"
	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/store"
)

// logLines reads the harness's JSON log, one object a line.
func logLines(t *testing.T, h *harness, from int) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(h.log.String()[from:]), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// invokeWith runs a sample through its route's handler with ctx.
func invokeWith(t *testing.T, h *harness, ctx context.Context, raw []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ev := decodeAPIEvent(t, raw)
	rt, ok := routeFor(ev.RouteKey)
	if !ok {
		t.Fatalf("no route %q", ev.RouteKey)
	}
	out, err := lambda.NewHandler(rt.Handler(h.d)).Invoke(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func lambdaCtx(id string) context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: id})
}

// closing is the request's closing "request" line; every line must carry
// requestId id.
func closing(t *testing.T, h *harness, id string) map[string]any {
	t.Helper()
	var last map[string]any
	for _, l := range logLines(t, h, 0) {
		if l["requestId"] != id {
			t.Fatalf("a line without requestId %q: %v", id, l)
		}
		if l["msg"] == "request" || l["msg"] == "request refused" {
			last = l
		}
	}
	if last == nil {
		t.Fatalf("no request line in %s", h.log.String())
	}
	if ms, ok := last["latencyMs"].(float64); !ok || ms < 0 {
		t.Fatalf("request line without latencyMs: %v", last)
	}
	return last
}

// answerCode is the error code of an answer's body.
func answerCode(t *testing.T, resp events.APIGatewayV2HTTPResponse) string {
	t.Helper()
	var body struct{ Error struct{ Code string } }
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body.Error.Code == "" {
		t.Fatalf("answer %d %s has no error code", resp.StatusCode, resp.Body)
	}
	return body.Error.Code
}

// TestRequestLinesCarryRequestIDLatencyAndCode: every line of a request
// has the Lambda request id; the closing line has the latency and, on a
// 4xx, the answer's error code.
func TestRequestLinesCarryRequestIDLatencyAndCode(t *testing.T) {
	all := samples(t)
	t.Run("a 4xx of a user route", func(t *testing.T) {
		h := newHarness(t)
		resp := invokeWith(t, h, lambdaCtx("lambda-req-1"), all["list-integrations-bad-type.json"])
		if resp.StatusCode < 400 || resp.StatusCode > 499 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		l := closing(t, h, "lambda-req-1")
		if l["code"] != answerCode(t, resp) || l["status"] != float64(resp.StatusCode) {
			t.Fatalf("request line %v for answer %d %s", l, resp.StatusCode, resp.Body)
		}
	})
	t.Run("a 200: latency, no code", func(t *testing.T) {
		h := newHarness(t)
		resp := invokeWith(t, h, lambdaCtx("lambda-req-2"), all["list-integrations.json"])
		if resp.StatusCode != 200 {
			t.Fatalf("status %d %s", resp.StatusCode, resp.Body)
		}
		if l := closing(t, h, "lambda-req-2"); l["code"] != nil {
			t.Fatalf("a 200 with a code: %v", l)
		}
	})
	t.Run("without a Lambda context: the API Gateway request id", func(t *testing.T) {
		h := newHarness(t)
		invokeWith(t, h, context.Background(), all["list-integrations-bad-type.json"])
		closing(t, h, "Xf3kZg0AFiA=EXAMPLE")
	})
	t.Run("an internal route", func(t *testing.T) {
		h := newHarness(t)
		resp := invokeWith(t, h, lambdaCtx("lambda-req-3"), all["token-broker.json"])
		l := closing(t, h, "lambda-req-3")
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && l["code"] != answerCode(t, resp) {
			t.Fatalf("request line %v for answer %d %s", l, resp.StatusCode, resp.Body)
		}
	})
	t.Run("a refused caller", func(t *testing.T) {
		h := newHarness(t)
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(all["list-integrations.json"], &req); err != nil {
			t.Fatal(err)
		}
		rt, _ := routeFor(req.RouteKey)
		req.RequestContext.Authorizer.JWT.Claims = map[string]string{}
		resp, err := rt.Handler(h.d)(lambdaCtx("lambda-req-4"), req)
		if err != nil {
			t.Fatal(err)
		}
		l := closing(t, h, "lambda-req-4")
		if resp.StatusCode != 401 || l["code"] != answerCode(t, resp) {
			t.Fatalf("request line %v for answer %d %s", l, resp.StatusCode, resp.Body)
		}
	})
	t.Run("the scan's lines, notices' included", func(t *testing.T) {
		h := newHarness(t)
		h.seedSettings(t, all)
		h.seedConnection(t, connection.AppKey(sampleAccount, "servicenow"), "https://acme.service-now.com")
		from := len(h.log.String())
		if _, err := lambda.NewHandler(handlers.ExpiryScan(h.d)).Invoke(lambdaCtx("scan-req-1"), all["expiry-scan.json"]); err != nil {
			t.Fatal(err)
		}
		lines := logLines(t, h, from)
		var sent, report bool
		for _, l := range lines {
			if l["requestId"] != "scan-req-1" {
				t.Fatalf("a scan line without the request id: %v", l)
			}
			sent = sent || l["msg"] == "notice sent"
			if l["msg"] == "scan report" {
				rep, _ := l["report"].(map[string]any)
				report = rep["checked"] == float64(1) && l["runFailed"] == false
			}
		}
		if !sent || !report {
			t.Fatalf("no notice line or report line: %s", h.log.String())
		}
	})
	t.Run("the event publisher's lines", func(t *testing.T) {
		h := newHarness(t)
		h.d.Bus = refusing{}
		if _, err := lambda.NewHandler(handlers.EventPublisher(h.d)).Invoke(lambdaCtx("pub-req-1"), all["event-publisher.json"]); err != nil {
			t.Fatal(err)
		}
		lines := logLines(t, h, 0)
		if len(lines) == 0 {
			t.Fatal("the publisher logged nothing on a refusing bus")
		}
		for _, l := range lines {
			if l["requestId"] != "pub-req-1" {
				t.Fatalf("a publisher line without the request id: %v", l)
			}
		}
	})
}

// dueStore answers Due with one connection of an unknown vendor (the scan
// fails it), or with err.
type dueStore struct {
	store.Store
	err error
}

func (s dueStore) Due(ctx context.Context, shard int, now time.Time, token string, limit int) ([]connection.Connection, string, error) {
	if s.err != nil {
		return nil, "", s.err
	}
	if shard != 0 {
		return nil, "", nil
	}
	return []connection.Connection{{Key: connection.AppKey(sampleAccount, "no-such-vendor")}}, "", nil
}

// TestScanFailureIsAnError: a run with failed connections, or whose due
// index could not be read, is an error of the invocation (after its
// report is logged); a run that stopped at its deadline is not.
func TestScanFailureIsAnError(t *testing.T) {
	all := samples(t)
	run := func(t *testing.T, h *harness, ctx context.Context) error {
		_, err := lambda.NewHandler(handlers.ExpiryScan(h.d)).Invoke(ctx, all["expiry-scan.json"])
		return err
	}
	t.Run("failed connections", func(t *testing.T) {
		h := newHarness(t)
		h.d.Store = dueStore{Store: h.d.Store}
		err := run(t, h, lambdaCtx("r"))
		var f *handlers.ScanFailure
		if !errors.Is(err, handlers.ErrScanFailed) || !errors.As(err, &f) || f.Report.Failed != 1 {
			t.Fatalf("error %v", err)
		}
		if !strings.Contains(h.log.String(), `"msg":"scan report"`) || !strings.Contains(h.log.String(), `"runFailed":true`) {
			t.Fatalf("no failed report line: %s", h.log.String())
		}
	})
	t.Run("the due index unreadable", func(t *testing.T) {
		h := newHarness(t)
		boom := errors.New("dynamodb said no")
		h.d.Store = dueStore{Store: h.d.Store, err: boom}
		if err := run(t, h, lambdaCtx("r")); !errors.Is(err, handlers.ErrScanFailed) || !errors.Is(err, boom) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("stopped at its deadline", func(t *testing.T) {
		h := newHarness(t)
		h.d.Store = dueStore{Store: h.d.Store}
		// Within the scan's margin of its deadline: it stops before the
		// first connection, which stays due.
		ctx, cancel := context.WithDeadline(lambdaCtx("r"), time.Now().Add(10*time.Second))
		defer cancel()
		out, err := lambda.NewHandler(handlers.ExpiryScan(h.d)).Invoke(ctx, all["expiry-scan.json"])
		var rep expiry.Report
		if err != nil || json.Unmarshal(out, &rep) != nil || !rep.StoppedEarly || rep.Failed != 0 {
			t.Fatalf("answer %s, %v", out, err)
		}
	})
}
