// Package problem is the error a use case answers with: an HTTP status and
// one of the documented codes, with a message safe to show to the caller.
package problem

import "fmt"

// Problem is an answer with a documented status and code.
type Problem struct {
	Status  int
	Code    string
	Message string
	Details map[string]any // extra fields beside code and message
}

func (p *Problem) Error() string { return p.Code + ": " + p.Message }

// New builds a Problem.
func New(status int, code, format string, args ...any) *Problem {
	return &Problem{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// With adds a detail field.
func (p *Problem) With(key string, v any) *Problem {
	if p.Details == nil {
		p.Details = map[string]any{}
	}
	p.Details[key] = v
	return p
}
