package localserver

import (
	"encoding/json"
	"net/http"

	"github.com/workplace/connections/shared/handlers"
	"github.com/workplace/connections/shared/mail"
)

// Tools serves /_local/: the outbox of emails sent (embedded mailer only)
// and, once it exists, the expiry scan on a scheduled event.
func Tools(d *handlers.Deps) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_local/outbox", func(w http.ResponseWriter, r *http.Request) {
		msgs := []mail.Message{}
		if d.Outbox != nil {
			msgs = append(msgs, d.Outbox.Messages()...)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(msgs)
	})
	mux.HandleFunc("/_local/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no local tool "+r.Method+" "+r.URL.Path)
	})
	return mux
}
