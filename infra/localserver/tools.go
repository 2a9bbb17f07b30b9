package localserver

import (
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
		if m, ok := toolMethods[r.URL.Path]; ok {
			w.Header().Set("Allow", m)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path+"; use "+m)
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no local tool "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// toolMethods are the tools' paths and methods.
var toolMethods = map[string]string{
	"/_local/outbox":      http.MethodGet,
	"/_local/expiry-scan": http.MethodPost,
}

// ExpiryScanTool runs the expiry-scan handler, as Lambda would, on a
// scheduled event whose time is the body's "time" (default now).
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
		out, err := Invoke(r.Context(), h, ev)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "the scan failed: see the server log")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}
}
