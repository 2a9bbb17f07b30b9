// Package handlers turns API Gateway events into the use cases: one
// constructor per route, each returning the apigw.Handler a Lambda starts.
package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/workplace/connections/shared/apigw"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/eventbus"
	"github.com/workplace/connections/shared/logctx"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/metrics"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/safehttp"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
)

// Backends are the stateful services, behind the ports the use cases use:
// AWS in a Lambda (awsdeps), embedded or AWS in the local server.
type Backends struct {
	Store  store.Store
	Vault  vault.Vault
	Mailer mail.Mailer
	Bus    eventbus.Bus // where the state-change events go
	// Stream reads the records of the store's change stream, as Lambda
	// delivers them to the event publisher (DynamoDB Streams:
	// dynamostore.AuditFromStreamRecord). nil for a store without one.
	Stream StreamDecoder
}

// StreamDecoder reads a record of the store's change stream as the audit
// entry it inserted: ok is false (err nil) when it inserted none, and err
// says why an inserted audit entry does not read.
type StreamDecoder func(events.DynamoDBEventRecord) (entry connection.AuditEntry, ok bool, err error)

// Deps is what every handler runs on.
type Deps struct {
	Config config.Config
	Backends
	HTTP *http.Client     // calls to vendors
	Now  func() time.Time // the clock (tests and local mode may move it)
	Log  *slog.Logger
}

// VendorClient is the HTTP client for vendor calls: https and public
// addresses only, except the hosts the deployment explicitly marked private
// (PRIVATE_VENDOR_HOSTS). Extra instance hosts and base URL overrides get
// no exemption from being configured.
func VendorClient(cfg config.Config) *http.Client {
	return safehttp.Client(10*time.Second, cfg.PrivateVendorHosts)
}

// NewLogger is the service's JSON logger.
func NewLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// FunctionTimeout is the Timeout of the API functions (template.yaml's
// Globals): Lambda stops a function then and API Gateway answers with an
// error of its own, not JSON. The local server gives each request this
// deadline, as Lambda does.
const FunctionTimeout = 20 * time.Second

// DeadlineMargin is kept between a request's deadline and its invocation's:
// time to give up the work and answer.
const DeadlineMargin = 2 * time.Second

// RetryAfter is the Retry-After of a 503 unavailable, in seconds.
const RetryAfter = "5"

// requestContext bounds the work of a request: REQUEST_TIMEOUT from now,
// and never later than DeadlineMargin before the invocation's own deadline
// (Lambda's, from the function's Timeout).
func (d *Deps) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := d.Config.RequestTimeout
	if timeout <= 0 {
		timeout = config.DefaultRequestTimeout
	}
	deadline := time.Now().Add(timeout)
	if end, ok := ctx.Deadline(); ok && end.Add(-DeadlineMargin).Before(deadline) {
		deadline = end.Add(-DeadlineMargin)
	}
	return context.WithDeadline(ctx, deadline)
}

// unavailable is the answer of a request whose deadline passed: a service
// it depends on (DynamoDB, Secrets Manager, a vendor) did not answer in
// time. Whatever it had done is as the use case left it on any failure.
func unavailable() *problem.Problem {
	return problem.New(http.StatusServiceUnavailable, "unavailable",
		"the request did not finish in time: a service it depends on was too slow to answer. A change it asked for may or may not have been made; read the current state, then try again")
}

// RequestID is the invocation's id for its log lines: the Lambda request
// id (lambdacontext), else the API Gateway request's, else "".
func RequestID(ctx context.Context, apiRequestID string) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	return apiRequestID
}

// route wraps a use case: it reads the caller, bounds the work in time,
// logs one line per request (requestId, account, route, status,
// latencyMs, and the error code of a failed answer; never bodies, which
// may carry codes or secrets) — the request id is on every line the use
// case logs too (logctx) and turns errors into documented answers —
// a request whose deadline passed is 503 unavailable with Retry-After,
// before Lambda's timeout could answer for it.
func (d *Deps) route(name string, fn func(ctx context.Context, req apigw.Request, who apigw.Identity) (apigw.Response, error)) apigw.Handler {
	return func(ctx context.Context, req apigw.Request) (apigw.Response, error) {
		start := time.Now()
		ctx, cancel := d.requestContext(ctx)
		defer cancel()
		ctx = metrics.WithNamespace(ctx, d.Config.MetricsNamespace)
		log := d.Log.With("requestId", RequestID(ctx, req.RequestContext.RequestID), "route", name)
		who, err := apigw.Caller(req, d.Config.Claims, d.Config.AppManagerRole)
		if err != nil {
			resp := apigw.Fail(ctx, err)
			d.closeRequest(ctx, log, slog.LevelInfo, "request refused", name, start, resp)
			return resp, nil
		}
		log = log.With("account", who.Account, "user", who.UserID)
		if v := req.PathParameters["vendor"]; v != "" {
			log = log.With("vendor", v)
		}
		ctx = logctx.With(ctx, log)
		resp, err := fn(ctx, req, who)
		return d.answer(ctx, log, name, start, resp, err), nil
	}
}

// internalRoute wraps a use case of an internal route (/v1/internal/…),
// which API Gateway authorizes by IAM (AWS_IAM), not by a user's JWT: the
// caller is the IAM principal that signed the request, logged as
// "caller". Otherwise it is route.
func (d *Deps) internalRoute(name string, fn func(ctx context.Context, req apigw.Request, principal string) (apigw.Response, error)) apigw.Handler {
	return func(ctx context.Context, req apigw.Request) (apigw.Response, error) {
		start := time.Now()
		ctx, cancel := d.requestContext(ctx)
		defer cancel()
		ctx = metrics.WithNamespace(ctx, d.Config.MetricsNamespace)
		log := d.Log.With("requestId", RequestID(ctx, req.RequestContext.RequestID), "route", name)
		principal, err := apigw.InternalCaller(req)
		if err != nil {
			resp := apigw.Fail(ctx, err)
			d.closeRequest(ctx, log, slog.LevelInfo, "request refused", name, start, resp)
			return resp, nil
		}
		log = log.With("caller", principal)
		ctx = logctx.With(ctx, log)
		resp, err := fn(ctx, req, principal)
		return d.answer(ctx, log, name, start, resp, err), nil
	}
}

// answer turns a use case's outcome into the documented answer — a
// request whose deadline passed is 503 unavailable with Retry-After,
// before Lambda's timeout could answer for it — and logs the request's
// line.
func (d *Deps) answer(ctx context.Context, log *slog.Logger, route string, start time.Time, resp apigw.Response, err error) apigw.Response {
	if err != nil {
		var p *problem.Problem
		isProblem := errors.As(err, &p)
		switch {
		case ctx.Err() != nil && (!isProblem || p.Status >= 500):
			// Abandoned at the deadline: whatever failed, it failed
			// because time ran out.
			log.ErrorContext(ctx, "request deadline passed", "error", err.Error())
			err = unavailable()
		case !isProblem:
			log.ErrorContext(ctx, "internal error", "error", err.Error())
		}
		resp = apigw.Fail(ctx, err)
		if resp.StatusCode == http.StatusServiceUnavailable {
			resp.Headers["Retry-After"] = RetryAfter
		}
	}
	lvl := slog.LevelInfo
	if resp.StatusCode >= 500 {
		lvl = slog.LevelError
	}
	d.closeRequest(ctx, log, lvl, "request", route, start, resp)
	return resp
}

// closeRequest logs a request's closing line: status, latencyMs and, for
// an error answer, its documented code; and, as CloudWatch embedded
// metrics, the route's Requests (by status class), ServerErrors (1 for a
// 5xx), ErrorAnswers (by code) and Latency.
func (d *Deps) closeRequest(ctx context.Context, log *slog.Logger, lvl slog.Level, msg, route string, start time.Time, resp apigw.Response) {
	latency := time.Since(start).Milliseconds()
	attrs := []slog.Attr{slog.Int("status", resp.StatusCode), slog.Int64("latencyMs", latency)}
	dims := map[string]string{metrics.DimRoute: route, metrics.DimStatusClass: statusClass(resp.StatusCode)}
	values := []metrics.Value{
		metrics.V(metrics.Requests, 1),
		metrics.V(metrics.ServerErrors, metrics.Bool(resp.StatusCode >= 500)),
		metrics.V(metrics.Latency, float64(latency)),
	}
	if resp.StatusCode >= 400 {
		code := errorCode(resp)
		attrs = append(attrs, slog.String("code", code))
		if code == "" {
			code = "none"
		}
		dims[metrics.DimCode] = code
		values = append(values, metrics.V(metrics.ErrorAnswers, 1))
	}
	metrics.Log(ctx, log, lvl, msg, dims, values, attrs...)
}

// statusClass is "2xx", "4xx", "5xx" (a dimension of few values).
func statusClass(status int) string {
	return strconv.Itoa(status/100) + "xx"
}

// errorCode is the documented code of an error answer (its body's
// error.code), "" if it has none. Only the code is read and logged, never
// the body.
func errorCode(resp apigw.Response) string {
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(resp.Body), &body) != nil {
		return ""
	}
	return body.Error.Code
}
