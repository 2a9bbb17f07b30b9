package sandbox

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// Prefix is where the local server mounts the sandbox.
const Prefix = "/_sandbox/"

// Server is the sandbox authorization server, an http.Handler.
type Server struct {
	now   func() time.Time
	times map[*dialect]Lifetimes

	mu    sync.Mutex
	codes map[string]*authCode
	// The grants are what these two point at: no list of them is kept.
	access  map[string]*accessToken
	refresh map[string]*grant
	// retired are refresh tokens rotated away, for their dialect's reuse
	// leeway and reuse detection.
	retired map[string]retiredToken
	clients map[string]string // vendor|instance|client_id → secret fixed at first use
	outages map[string]int    // vendor → status answered by its endpoints
	issued  int

	stats map[string]*grantCounts // vendor → token requests received; fixed at New, counters atomic
}

// New builds a sandbox from cfg.
func New(cfg Config) *Server {
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	times := map[*dialect]Lifetimes{}
	stats := map[string]*grantCounts{}
	for id, d := range dialects {
		times[d] = cfg.lifetimes(d)
		stats[id] = &grantCounts{}
	}
	return &Server{
		now:     now,
		times:   times,
		codes:   map[string]*authCode{},
		access:  map[string]*accessToken{},
		refresh: map[string]*grant{},
		retired: map[string]retiredToken{},
		clients: map[string]string{},
		outages: map[string]int{},
		stats:   stats,
	}
}

// tools are the sandbox's own routes, the same for every vendor:
// /_sandbox/{vendor}/{name}. They are not the vendor's API but knobs that
// change how it behaves and probes that tell what it saw.
var tools = map[string]func(s *Server, w http.ResponseWriter, r *http.Request, vendorID string){
	"revoke":     (*Server).knobRevoke, // knobs.go
	"outage":     (*Server).knobOutage, // knobs.go
	"introspect": (*Server).introspect, // introspect.go
	"stats":      (*Server).serveStats, // stats.go
}

// ServeHTTP routes a request (see the package documentation).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, Prefix); ok {
		p = rest
	} else {
		p = strings.TrimPrefix(p, "/")
	}
	segs := strings.Split(p, "/")
	for _, seg := range segs {
		if seg == "" {
			s.notFound(w, r)
			return
		}
	}
	vendorID := segs[0]
	d, ok := dialects[vendorID]
	if !ok {
		s.notFound(w, r)
		return
	}
	rest := segs[1:]
	if len(rest) == 1 {
		if tool, ok := tools[rest[0]]; ok {
			tool(s, w, r, vendorID)
			return
		}
	}
	// Everything but the tools is the vendor's dialect's.
	if !d.route(s, w, r, vendorID, d, rest) {
		s.notFound(w, r)
	}
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, oauthError{"not_found", "no sandbox route for " + r.Method + " " + r.URL.Path})
}

// allow answers 405 unless the request has the method.
func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeJSON(w, http.StatusMethodNotAllowed, oauthError{"method_not_allowed", "use " + method})
	return false
}
