package problem_test

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/workplace/connections/shared/problem"
)

func TestNew(t *testing.T) {
	cases := []struct {
		name   string
		p      *problem.Problem
		status int
		code   string
		msg    string
	}{
		{"formatted", problem.New(http.StatusNotFound, "unknown_vendor", "there is no integration called %q", "jira"), 404, "unknown_vendor", `there is no integration called "jira"`},
		{"plain", problem.New(http.StatusConflict, "already_connected", "already connected"), 409, "already_connected", "already connected"},
		{"escaped percent", problem.New(http.StatusBadRequest, "invalid_body", "100%% JSON"), 400, "invalid_body", "100% JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.p.Status != tc.status || tc.p.Code != tc.code || tc.p.Message != tc.msg || tc.p.Details != nil {
				t.Fatalf("got %+v", tc.p)
			}
			if got, want := tc.p.Error(), tc.code+": "+tc.msg; got != want {
				t.Fatalf("Error() = %q, want %q", got, want)
			}
		})
	}
}

func TestWith(t *testing.T) {
	p := problem.New(http.StatusConflict, "site_choice_required", "choose a site")
	same := p.With("sites", []string{"a", "b"}).With("count", 2)
	if same != p {
		t.Fatal("With must return the same problem, for chaining")
	}
	if want := map[string]any{"sites": []string{"a", "b"}, "count": 2}; !reflect.DeepEqual(p.Details, want) {
		t.Fatalf("details %v, want %v", p.Details, want)
	}
	p.With("count", 3)
	if p.Details["count"] != 3 {
		t.Fatal("With must replace an existing detail")
	}
}

func TestErrorsAs(t *testing.T) {
	err := fmt.Errorf("handler: %w", problem.New(http.StatusForbidden, "forbidden", "app managers only"))
	var p *problem.Problem
	if !errors.As(err, &p) || p.Status != http.StatusForbidden || p.Code != "forbidden" {
		t.Fatalf("errors.As found %+v", p)
	}
}
