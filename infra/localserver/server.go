// Package localserver serves the whole API on one port for local work: each
// HTTP request becomes the API Gateway v2 event the Lambda would get and goes
// through the same handler, with Lambda's own JSON (de)serialisation. Only
// here: identity from X-* headers, the sandbox vendors under /_sandbox/, the
// /_local/ tools, the /console pages and the API's OpenAPI description at
// /openapi.json.
package localserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workplace/connections/shared/apigw"
	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/handlers"
)

// Server is the local HTTP server's handler. It routes by itself rather
// than through http.ServeMux, which answers a path with "." or ".."
// segments or "//" (and a subtree root without its slash) with an HTML
// redirect: here every unknown or unclean path is the API's JSON 404, and
// a known path asked with another method is a JSON 405 whose Allow header
// lists the methods it has.
type Server struct {
	deps    *handlers.Deps
	routes  []boundRoute
	extra   Extra
	console map[string]bool // the console's paths
}

type boundRoute struct {
	handlers.Route
	// invokers are lambda.Handlers of the route's handler, each used by
	// one request at a time. A lambda.Handler cannot serve two at once:
	// Invoke answers with the bytes of a buffer it has already put back
	// in its pool, which the next Invoke writes into (aws-lambda-go
	// v1.55.1, handler.go). Lambda invokes a function one event at a
	// time; the local server serves requests concurrently.
	invokers *sync.Pool
}

// Extra are the local-only handlers mounted beside the API.
type Extra struct {
	Sandbox http.Handler // mounted at /_sandbox/
	Local   http.Handler // mounted at /_local/
	Console http.Handler // serves ConsolePages; GET / redirects to /console
	// ConsolePages are the paths Console serves (GET and HEAD); nil: the
	// console and its callback page.
	ConsolePages []string
	OpenAPI      http.Handler // the API's description, at /openapi.json (GET, HEAD)
}

// New builds the server over the handlers' dependencies.
func New(d *handlers.Deps, routes []handlers.Route, extra Extra) *Server {
	s := &Server{deps: d, extra: extra, console: map[string]bool{}}
	pages := extra.ConsolePages
	if pages == nil {
		pages = []string{"/console", "/console/", "/console/callback"}
	}
	for _, p := range pages {
		s.console[p] = true
	}
	for _, r := range routes {
		h := r.Handler(d)
		s.routes = append(s.routes, boundRoute{Route: r, invokers: &sync.Pool{New: func() any { return lambda.NewHandler(h) }}})
	}
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case !clean(p):
		writeError(w, http.StatusNotFound, "not_found", "no route for this path: it is not in its clean form (no \".\", \"..\" or empty segments)")
	case s.extra.Sandbox != nil && strings.HasPrefix(p, "/_sandbox/"):
		s.extra.Sandbox.ServeHTTP(w, r)
	case s.extra.Local != nil && strings.HasPrefix(p, "/_local/"):
		s.extra.Local.ServeHTTP(w, r)
	case s.extra.OpenAPI != nil && p == "/openapi.json":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, r, []string{http.MethodGet, http.MethodHead})
			return
		}
		s.extra.OpenAPI.ServeHTTP(w, r)
	case s.extra.Console != nil && (s.console[p] || p == "/"):
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, r, []string{http.MethodGet, http.MethodHead})
			return
		}
		if p == "/" {
			// A person opening the server's address gets the console.
			http.Redirect(w, r, "/console", http.StatusFound)
			return
		}
		s.extra.Console.ServeHTTP(w, r)
	default:
		s.api(w, r)
	}
}

// clean reports whether p is an absolute path in its clean form: no "."
// or ".." segment and no empty one, except that it may end with "/".
func clean(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		if seg == "." || seg == ".." || seg == "" && i != len(segs)-1 {
			return false
		}
	}
	return true
}

// api routes a request to the Lambda handler of its route.
func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, rt := range s.routes {
		params, ok := match(rt.Path, r.URL.Path)
		if !ok {
			continue
		}
		if rt.Method != r.Method {
			allowed = append(allowed, rt.Method)
			continue
		}
		s.invoke(w, r, rt, params)
		return
	}
	if len(allowed) > 0 {
		methodNotAllowed(w, r, allowed)
		return
	}
	writeError(w, http.StatusNotFound, "not_found", "no route "+r.Method+" "+r.URL.Path)
}

// methodNotAllowed answers 405 with the path's methods in Allow.
func methodNotAllowed(w http.ResponseWriter, r *http.Request, methods []string) {
	methods = slices.Clone(methods)
	slices.Sort(methods)
	methods = slices.Compact(methods)
	allow := strings.Join(methods, ", ")
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path+"; use "+allow)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// match matches an API Gateway path template against a path, segment by
// segment (a trailing slash is another path).
func match(tmpl, path string) (map[string]string, bool) {
	ts := strings.Split(strings.TrimPrefix(tmpl, "/"), "/")
	ps := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(ts) != len(ps) {
		return nil, false
	}
	params := map[string]string{}
	for i, t := range ts {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			if ps[i] == "" {
				return nil, false
			}
			params[t[1:len(t)-1]] = ps[i]
			continue
		}
		if t != ps[i] {
			return nil, false
		}
	}
	return params, true
}

// Event builds the API Gateway v2 event of a request, with the identity
// headers as JWT claims (on an internal route, X-Internal-Caller as the
// IAM identity instead) and now (the server's clock) as the request's time.
func Event(r *http.Request, rt handlers.Route, params map[string]string, claims config.Claims, now time.Time) (events.APIGatewayV2HTTPRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return events.APIGatewayV2HTTPRequest{}, err
	}
	q := map[string]string{}
	for k, vs := range r.URL.Query() {
		q[k] = strings.Join(vs, ",") // API Gateway joins repeated parameters with commas
	}
	h := map[string]string{}
	for k, vs := range r.Header {
		h[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	c := map[string]string{}
	for hdr, claim := range map[string]string{
		"X-Account-Id": claims.Account, "X-User-Id": claims.UserID, "X-User-Email": claims.Email,
		"X-User-Name": claims.Name, "X-User-Role": claims.Role,
	} {
		if v := r.Header.Get(hdr); v != "" {
			c[claim] = v
		}
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              rt.RouteKey(),
		RawPath:               r.URL.Path,
		RawQueryString:        r.URL.RawQuery,
		Headers:               h,
		QueryStringParameters: q,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   rt.RouteKey(),
			AccountID:  "local",
			Stage:      "$default",
			RequestID:  time.Now().UTC().Format("20060102T150405.000000000"),
			DomainName: r.Host,
			APIID:      "local",
			Time:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:  now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: r.RemoteAddr, UserAgent: r.UserAgent(),
			},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: c, Scopes: nil},
			},
		},
	}
	if rt.Internal() {
		// Authorized by IAM in AWS, not by a JWT: X-Internal-Caller names
		// the calling service and stands for its principal; without it
		// the request has no identity (the handler answers 401).
		ev.RequestContext.Authorizer = nil
		if svc := r.Header.Get("X-Internal-Caller"); svc != "" {
			ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{AccountID: "local", UserARN: svc, CallerID: svc, UserID: svc},
			}
		}
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	if len(q) == 0 {
		ev.QueryStringParameters = nil
	}
	if len(params) == 0 {
		ev.PathParameters = nil
	}
	return ev, nil
}

// invoke calls the route's handler exactly as Lambda would (JSON in, JSON
// out, and the deadline of the function's Timeout) and writes its answer.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request, rt boundRoute, params map[string]string) {
	ev, err := Event(r, rt.Route, params, s.deps.Config.Claims, s.deps.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_body", "could not read the body")
		return
	}
	payload, _ := json.Marshal(ev)
	ctx, cancel := context.WithTimeout(r.Context(), handlers.FunctionTimeout)
	defer cancel()
	inv := rt.invokers.Get().(lambda.Handler)
	// Back to the pool once its answer (out, which aliases its buffer)
	// has been decoded.
	defer rt.invokers.Put(inv)
	out, err := inv.Invoke(ctx, payload)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "the handler failed")
		return
	}
	var resp apigw.Response
	if err := json.Unmarshal(out, &resp); err != nil {
		writeError(w, http.StatusBadGateway, "internal", "the handler answered something that is not an HTTP API response")
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		body, _ = base64.StdEncoding.DecodeString(resp.Body)
	}
	_, _ = w.Write(body)
}

// Invoke runs a handler as Lambda would, on an arbitrary event (used for
// the scheduled scan and by tests).
func Invoke(ctx context.Context, h any, event any) ([]byte, error) {
	payload, err := json.Marshal(event)
	if err != nil {
		return nil, err
	}
	return lambda.NewHandler(h).Invoke(ctx, payload)
}
