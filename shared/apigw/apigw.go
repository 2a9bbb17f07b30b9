// Package apigw is the plumbing between API Gateway HTTP API (payload 2.0)
// events and the use cases: who is calling, JSON bodies, and errors in the
// documented shape {"error":{"code":…,"message":…}}.
package apigw

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workplace/connections/shared/config"
	"github.com/workplace/connections/shared/problem"
)

// Request and Response are the Lambda event types of an HTTP API.
type (
	Request  = events.APIGatewayV2HTTPRequest
	Response = events.APIGatewayV2HTTPResponse
)

// Handler is what each Lambda (and each local route) runs.
type Handler func(ctx context.Context, req Request) (Response, error)

// Error is an answer with a documented status and code.
type Error = problem.Problem

// Errorf builds an *Error.
func Errorf(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Identity is the caller, from the JWT claims the authorizer validated.
type Identity struct {
	Account      string
	UserID       string
	Email        string
	Name         string
	Role         string
	IsAppManager bool
}

// Caller reads the caller's identity; a missing account or user claim is 401.
func Caller(req Request, claims config.Claims, managerRole string) (Identity, error) {
	var c map[string]string
	if a := req.RequestContext.Authorizer; a != nil && a.JWT != nil {
		c = a.JWT.Claims
	}
	id := Identity{
		Account: c[claims.Account],
		UserID:  c[claims.UserID],
		Email:   c[claims.Email],
		Name:    c[claims.Name],
		Role:    c[claims.Role],
	}
	if id.Account == "" || id.UserID == "" {
		return id, Errorf(http.StatusUnauthorized, "unauthorized", "the token carries no account or user")
	}
	id.IsAppManager = managerRole != "" && id.Role == managerRole
	return id, nil
}

// InternalCaller reads the IAM principal of a request to an internal route,
// which API Gateway authorizes with AWS_IAM: the ARN of the identity that
// signed it (requestContext.authorizer.iam.userArn). A request without one
// is 401: in AWS it never reaches the function, so this is the local
// server's request without X-Internal-Caller.
func InternalCaller(req Request) (string, error) {
	if a := req.RequestContext.Authorizer; a != nil && a.IAM != nil && a.IAM.UserARN != "" {
		return a.IAM.UserARN, nil
	}
	return "", Errorf(http.StatusUnauthorized, "unauthorized", "the request carries no IAM identity")
}

// JSON answers with a JSON body.
func JSON(status int, v any) Response {
	b, err := json.Marshal(v)
	if err != nil {
		return Fail(context.Background(), err)
	}
	return Response{StatusCode: status, Headers: headers(), Body: string(b)}
}

// NoContent answers 204.
func NoContent() Response {
	return Response{StatusCode: http.StatusNoContent, Headers: map[string]string{"Cache-Control": "no-store"}}
}

// Fail turns an error into the documented error response. Anything that is
// not an *Error is answered as a 500 without its text, which might name
// internals (the caller logs it).
func Fail(ctx context.Context, err error) Response {
	var e *Error
	if !errors.As(err, &e) {
		e = Errorf(http.StatusInternalServerError, "internal", "something went wrong on our side; try again")
	}
	body := map[string]any{"code": e.Code, "message": e.Message}
	for k, v := range e.Details {
		if k != "code" && k != "message" {
			body[k] = v
		}
	}
	b, _ := json.Marshal(map[string]any{"error": body})
	return Response{StatusCode: e.Status, Headers: headers(), Body: string(b)}
}

func headers() map[string]string {
	return map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}
}

// DecodeBody parses a JSON body strictly: one JSON object of the
// documented shape, and an unknown field is 400 invalid_body. Bodies our own
// frontend composes use it, so that a misspelt field is an error rather
// than a setting silently not saved.
func DecodeBody(req Request, v any) error { return decodeBody(req, v, true) }

// DecodeTolerantBody parses a JSON body like DecodeBody but ignores unknown
// fields: for bodies that carry what a third party sent (the OAuth callback
// page forwards every query parameter of the vendor's redirect, which grows
// the day a vendor adds iss or session_state).
func DecodeTolerantBody(req Request, v any) error { return decodeBody(req, v, false) }

func decodeBody(req Request, v any, strict bool) error {
	body := req.Body
	if req.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return Errorf(http.StatusBadRequest, "invalid_body", "the body must be JSON")
		}
		body = string(b)
	}
	if !strings.HasPrefix(strings.TrimLeft(body, " \t\r\n"), "{") {
		// null, arrays and scalars would decode into a struct silently.
		return Errorf(http.StatusBadRequest, "invalid_body", "the body must be a JSON object of the documented shape")
	}
	dec := json.NewDecoder(strings.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return Errorf(http.StatusBadRequest, "invalid_body", "the body must be a JSON object of the documented shape")
	}
	// Only whitespace may follow (dec.More would let a stray '}' or ']' through).
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(http.StatusBadRequest, "invalid_body", "the body must hold one JSON object")
	}
	return nil
}
