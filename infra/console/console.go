// Package console is a tiny page for clicking through every flow of the
// local server in a browser: pick who you are, save settings, connect,
// reconnect, change user, disconnect, and read your notices. The callback
// page is where the sandbox vendors send the browser back; it posts what it
// got to the callback route with your identity, as the real frontend does.
package console

import (
	"embed"
	"net/http"
)

//go:embed index.html callback.html
var pages embed.FS

// Handler serves /console and /console/callback.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := "index.html"
		switch r.URL.Path {
		case "/console", "/console/":
		case "/console/callback":
			page = "callback.html"
		default:
			http.NotFound(w, r)
			return
		}
		b, err := pages.ReadFile(page)
		if err != nil {
			http.Error(w, "missing page", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		// The callback URL carries the authorization code: never leak it.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
		h.Set("X-Frame-Options", "DENY")
		_, _ = w.Write(b)
	})
}
