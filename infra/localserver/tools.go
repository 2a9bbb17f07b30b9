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
// nil on AWS) and the expiry scan on a scheduled event.
func Tools(d *handlers.Deps, outbox *memmail.Outbox) http.Handler {
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
}

// scanGrace is what the scan's Lambda has beyond its budget (template.yaml:
// 840 s of budget in a 900 s Timeout).
const scanGrace = time.Minute

// ExpiryScanTool runs the expiry-scan handler, as Lambda would, on a
// scheduled event whose time is the body's "time" (default now), with the
// deadline its Lambda would have: the scan's budget and a minute.
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
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "the scan failed: see the server log")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}
}
