package localserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/mail"
	"github.com/workplace/connections/shared/mail/memmail"
)

// Tools serves /_local/: the outbox of emails sent (the embedded mailer's,
// nil on AWS), the expiry scan on a scheduled event, and the clock (the
// one d.Now reads).
func Tools(d *handlers.Deps, outbox *memmail.Outbox, clock *Clock) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_local/outbox", func(w http.ResponseWriter, r *http.Request) {
		msgs := []mail.Message{}
		if outbox != nil {
			msgs = append(msgs, outbox.Messages()...)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(msgs)
	})
	scan := ExpiryScanTool(d)
	mux.HandleFunc("POST /_local/expiry-scan", scan)
	mux.HandleFunc("GET /_local/clock", func(w http.ResponseWriter, r *http.Request) {
		writeClock(w, clock)
	})
	mux.HandleFunc("POST /_local/clock", ClockTool(d, clock))
	mux.HandleFunc("/_local/", func(w http.ResponseWriter, r *http.Request) {
		// A known tool asked with the wrong method is 405, as on the API.
		if ms, ok := toolMethods[r.URL.Path]; ok {
			methodNotAllowed(w, r, ms)
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no local tool "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// toolMethods are the tools' paths and methods (a GET pattern serves HEAD
// too).
var toolMethods = map[string][]string{
	"/_local/outbox":      {http.MethodGet, http.MethodHead},
	"/_local/expiry-scan": {http.MethodPost},
	"/_local/clock":       {http.MethodGet, http.MethodHead, http.MethodPost},
	"/_local/events":      {http.MethodGet, http.MethodHead}, // served beside Tools (events.go)
}

// clockView is the answer of GET and POST /_local/clock: the local time
// now, and whether it has been moved away from the real clock.
type clockView struct {
	Time  time.Time `json:"time"`
	Moved bool      `json:"moved"`
}

func writeClock(w http.ResponseWriter, clock *Clock) {
	now, moved := clock.Read()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(clockView{Time: now.UTC(), Moved: moved})
}

// ClockTool is POST /_local/clock: {"time":"<RFC3339>"} moves the clock
// of every route and of the sandbox so that it is that time now (an
// offset from the real clock: time keeps flowing from there);
// {"time":null} returns to the real clock. It answers as GET does.
func ClockTool(d *handlers.Deps, clock *Clock) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Time json.RawMessage `json:"time"` // absent: empty; null: "null"
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil || dec.More() || len(body.Time) == 0 {
			writeError(w, http.StatusBadRequest, "invalid_body", `the body must be {"time":"<RFC3339>"} or {"time":null}`)
			return
		}
		if string(body.Time) == "null" {
			clock.Reset()
			d.Log.InfoContext(r.Context(), "local clock back to the real clock")
			writeClock(w, clock)
			return
		}
		var raw string
		if err := json.Unmarshal(body.Time, &raw); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_time", "time must be an RFC3339 string, e.g. 2027-01-20T06:00:00Z, or null")
			return
		}
		t, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_time", "time must be RFC3339, e.g. 2027-01-20T06:00:00Z")
			return
		}
		if err := clock.Set(t); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_time", "time must be within about 290 years of the real clock")
			return
		}
		d.Log.InfoContext(r.Context(), "local clock moved", "time", t.UTC())
		writeClock(w, clock)
	}
}

// scanGrace is what the scan's Lambda has beyond its budget (template.yaml:
// 840 s of budget in a 900 s Timeout).
const scanGrace = time.Minute

// ExpiryScanTool runs the expiry-scan handler, as Lambda would, on a
// scheduled event whose time is the body's "time" (default now), with the
// deadline its Lambda would have: the scan's budget and a minute. It
// answers the run's report; a failed run (handlers.ErrScanFailed) is a 500
// with code scan_failed and the report beside the error.
func ExpiryScanTool(d *handlers.Deps) http.HandlerFunc {
	h := handlers.ExpiryScan(d)
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Time string `json:"time"`
		}
		if r.ContentLength != 0 {
			// A chunked request may still have an empty body: that is "now".
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
				writeError(w, http.StatusBadRequest, "invalid_body", `the body must be {"time":"<RFC3339>"}`)
				return
			}
		}
		at := d.Now().UTC()
		if body.Time != "" {
			t, err := time.Parse(time.RFC3339, body.Time)
			if err != nil {
				writeError(w, http.StatusBadRequest, "invalid_time", "time must be RFC3339, e.g. 2027-01-20T06:00:00Z")
				return
			}
			at = t
		}
		ev := events.EventBridgeEvent{
			Version: "0", ID: "local-" + at.Format("20060102T150405"), DetailType: "Scheduled Event",
			Source: "aws.events", AccountID: "local", Time: at, Region: "local",
			Resources: []string{"local/expiry-scan"}, Detail: json.RawMessage("{}"),
		}
		ctx, cancel := context.WithTimeout(r.Context(), d.Config.ScanBudget+scanGrace)
		defer cancel()
		out, err := Invoke(ctx, h, ev)
		if err != nil && ctx.Err() != nil {
			w.Header().Set("Retry-After", handlers.RetryAfter)
			writeError(w, http.StatusServiceUnavailable, "unavailable", "the scan did not finish in time: a service it depends on was too slow to answer; what it did not reach stays due")
			return
		}
		var failed *handlers.ScanFailure
		if errors.As(err, &failed) {
			// A failed run is a Lambda error; here it is a 500 that still
			// shows what the run did.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]any{
				"error":  map[string]string{"code": "scan_failed", "message": "the scan run failed: see the report and the server log"},
				"report": failed.Report,
			})
			return
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "the scan failed: see the server log")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}
}
