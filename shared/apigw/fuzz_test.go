package apigw_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/workplace/connections/shared/apigw"
)

// fuzzBody has the kinds of fields the service's bodies have: strings,
// optional strings, an optional number, an optional boolean.
type fuzzBody struct {
	State       string  `json:"state"`
	Code        string  `json:"code,omitempty"`
	InstanceURL *string `json:"instanceUrl,omitempty"`
	Days        *int    `json:"refreshTokenLifespanDays,omitempty"`
	Cascade     *bool   `json:"cascade,omitempty"`
}

// decode runs DecodeBody and checks what every answer must be: nil, or the
// documented 400 invalid_body with a fixed message (never a piece of the
// body, never a 5xx).
func decode(t *testing.T, req apigw.Request) (fuzzBody, bool) {
	t.Helper()
	var v fuzzBody
	err := apigw.DecodeBody(req, &v)
	if err == nil {
		return v, true
	}
	var e *apigw.Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != "invalid_body" {
		t.Fatalf("DecodeBody(%q, base64 %v) = %v, want nil or 400 invalid_body", req.Body, req.IsBase64Encoded, err)
	}
	if !strings.HasPrefix(e.Message, "the body must ") || len(e.Message) > 80 || len(e.Details) > 0 {
		t.Fatalf("DecodeBody(%q): message %q, details %v", req.Body, e.Message, e.Details)
	}
	return fuzzBody{}, false
}

// FuzzDecodeBody: any body, plain or base64 as API Gateway may send it,
// is either refused with 400 invalid_body or is exactly one JSON object
// whose value survives a round trip; the base64 form of a body is decoded
// exactly as the body itself.
func FuzzDecodeBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, body string, asBase64 bool) {
		v, ok := decode(t, apigw.Request{Body: body})
		if ok {
			if !json.Valid([]byte(body)) || !strings.HasPrefix(strings.TrimLeft(body, " \t\r\n"), "{") {
				t.Fatalf("DecodeBody accepted %q, which is not one JSON object", body)
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if w, ok := decode(t, apigw.Request{Body: string(again)}); !ok || !reflect.DeepEqual(w, v) {
				t.Fatalf("round trip of %q: %+v → %s → %+v (%v)", body, v, again, w, ok)
			}
		}
		// The same body as a base64-encoded event decodes alike.
		w, okB := decode(t, apigw.Request{Body: base64.StdEncoding.EncodeToString([]byte(body)), IsBase64Encoded: true})
		if okB != ok || !reflect.DeepEqual(w, v) {
			t.Fatalf("%q: plain %+v (%v), base64 %+v (%v)", body, v, ok, w, okB)
		}
		if asBase64 {
			// The fuzzed text itself as a base64 body: refused unless it
			// is base64 of a body that is accepted, and then alike.
			w, okB := decode(t, apigw.Request{Body: body, IsBase64Encoded: true})
			raw, err := base64.StdEncoding.DecodeString(body)
			if err != nil {
				if okB {
					t.Fatalf("accepted %q, which is not base64", body)
				}
				return
			}
			p, okP := decode(t, apigw.Request{Body: string(raw)})
			if okB != okP || !reflect.DeepEqual(w, p) {
				t.Fatalf("base64 %q: %+v (%v); its text %q: %+v (%v)", body, w, okB, raw, p, okP)
			}
		}
	})
}
