package localserver

import (
	"net/http"

	"github.com/workplace/connections/shared/openapi"
)

// OpenAPIHandler serves the API's OpenAPI 3.1 description as JSON (GET
// /openapi.json): the document shared/openapi embeds, converted from its
// YAML source once.
func OpenAPIHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, err := openapi.JSON()
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "the API description does not convert to JSON")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(doc)
	})
}
