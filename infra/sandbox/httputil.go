package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// oauthError is an OAuth error answer (RFC 6749 section 5.2).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// unescape query-unescapes s, or keeps it as it is when it is not
// escaped validly.
func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// readParams reads a form-encoded body, or (allowJSON) a JSON object of
// strings.
func readParams(w http.ResponseWriter, r *http.Request, allowJSON bool) (map[string]string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	out := map[string]string{}
	switch {
	case ct == "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, errors.New("malformed form body")
		}
		for k, vs := range r.PostForm {
			if len(vs) != 1 {
				return nil, fmt.Errorf("parameter %s is repeated", k)
			}
			out[k] = vs[0]
		}
	case ct == "application/json" && allowJSON:
		var raw map[string]any
		if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
			return nil, errors.New("malformed JSON body")
		}
		for k, v := range raw {
			str, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("parameter %s must be a string", k)
			}
			out[k] = str
		}
	case allowJSON:
		return nil, errors.New("body must be application/json or application/x-www-form-urlencoded")
	default:
		return nil, errors.New("body must be application/x-www-form-urlencoded")
	}
	return out, nil
}

// hasScope tells whether a space-separated scope has want.
func hasScope(scope, want string) bool {
	return slices.Contains(strings.Fields(scope), want)
}

// newToken is 256 random bits, base64url.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}
