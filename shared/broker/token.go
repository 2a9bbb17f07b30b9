package broker

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/health"
	"github.com/workplace/connections/shared/logctx"
	"github.com/workplace/connections/shared/metrics"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/vendors"
)

// TokenRequest is the body of POST /v1/internal/token.
type TokenRequest struct {
	Account string `json:"account"`
	Vendor  string `json:"vendor"`
	// User asks for that user's user-level token ("": the app level).
	User string `json:"user,omitempty"`
	// Fallback is "none" (or "") or "app": with User and no usable
	// user-level connection, answer with the app-level token.
	Fallback string `json:"fallback,omitempty"`
	// MinValiditySeconds (default 300, 0 to 3000): the token answered
	// stays valid at least this long, else it is refreshed first.
	MinValiditySeconds *int `json:"minValiditySeconds,omitempty"`
}

// Token is the answer: an access token and where to use it. Never a
// refresh token.
type Token struct {
	AccessToken string           `json:"accessToken"`
	TokenType   string           `json:"tokenType"`
	ExpiresAt   time.Time        `json:"expiresAt"`
	Level       connection.Level `json:"level"`
	Vendor      string           `json:"vendor"`
	Instance    string           `json:"instance"`
	APIBaseURL  string           `json:"apiBaseUrl"`
}

// Limits of a token request.
const (
	DefaultMinValidity = 300 * time.Second
	MaxMinValidity     = 3000 * time.Second
	// maxID bounds an account or user id (the JWT claims they come from
	// are of that size; DynamoDB keys are bounded too).
	maxID = 256
)

func invalidParameter(format string, args ...any) error {
	return problem.New(http.StatusBadRequest, "invalid_parameter", format, args...)
}

// checkID refuses an account or user id no connection can have.
func checkID(name, id string) error {
	if len(id) > maxID || !utf8.ValidString(id) || strings.ContainsFunc(id, unicode.IsControl) {
		return invalidParameter("%s must be at most %d characters of printable text", name, maxID)
	}
	return nil
}

// Token answers a platform service (principal, its IAM identity) with a
// usable access token of the asked connection. Refusals are the
// documented answers: 400 invalid_body or invalid_parameter, 404
// unknown_vendor or not_connected, 409 reconnect_required (with level),
// 503 vendor_unavailable (nothing marked).
func (s *Service) Token(ctx context.Context, principal string, r TokenRequest) (Token, error) {
	if r.Account == "" || r.Vendor == "" {
		return Token{}, problem.New(http.StatusBadRequest, "invalid_body", "the body needs account and vendor")
	}
	if err := checkID("account", r.Account); err != nil {
		return Token{}, err
	}
	if err := checkID("user", r.User); err != nil {
		return Token{}, err
	}
	fallback := false
	switch r.Fallback {
	case "", "none":
	case "app":
		fallback = true
	default:
		return Token{}, invalidParameter("fallback must be none or app")
	}
	need := DefaultMinValidity
	if r.MinValiditySeconds != nil {
		need = time.Duration(*r.MinValiditySeconds) * time.Second
		if *r.MinValiditySeconds < 0 || need > MaxMinValidity {
			return Token{}, invalidParameter("minValiditySeconds must be from 0 to %d", int(MaxMinValidity/time.Second))
		}
	}
	v, ok := vendors.Lookup(r.Vendor)
	if !ok {
		return Token{}, problem.New(http.StatusNotFound, "unknown_vendor", "there is no integration called %q", r.Vendor)
	}
	ctx = logctx.With(ctx, s.log(ctx).With("account", r.Account, "vendor", v.ID))
	f := finder{detectedBy: health.DetectedByBroker, actor: connection.Actor{Type: connection.ActorBroker, ID: principal}}

	if r.User != "" {
		u, err := s.usable(ctx, connection.UserKey(r.Account, v.ID, r.User), need, "", f)
		if err == nil {
			return s.answer(ctx, v, u, false), nil
		}
		var nc *notConnected
		var dg *deadGrant
		if !fallback || !(errors.As(err, &nc) || errors.As(err, &dg)) {
			return Token{}, s.refusal(ctx, v, err)
		}
		s.log(ctx).InfoContext(ctx, "no usable user-level connection: answering with the app level", "reason", err.Error())
	}
	u, err := s.usable(ctx, connection.AppKey(r.Account, v.ID), need, "", f)
	if err != nil {
		return Token{}, s.refusal(ctx, v, err)
	}
	return s.answer(ctx, v, u, r.User != ""), nil
}

// answer is the token of u, logged without it.
func (s *Service) answer(ctx context.Context, v vendors.Vendor, u usable, fellBack bool) Token {
	c := u.conn
	m := metrics.BrokerHits
	if u.refreshed {
		m = metrics.BrokerRefreshes
	}
	metrics.Log(ctx, s.log(ctx), slog.LevelInfo, "token issued", map[string]string{metrics.DimVendor: v.ID}, []metrics.Value{metrics.V(m, 1)},
		slog.String("flow", string(c.Level)), slog.Bool("refreshed", u.refreshed), slog.Bool("fallback", fellBack),
		slog.Time("expiresAt", c.AccessTokenExpiresAt))
	return Token{
		AccessToken: u.tokens.AccessToken,
		TokenType:   "Bearer",
		ExpiresAt:   c.AccessTokenExpiresAt.UTC(),
		Level:       c.Level,
		Vendor:      v.ID,
		Instance:    c.Instance,
		APIBaseURL:  v.APIBaseURL(c.Instance, c.SiteID, s.Clients.VendorBaseURLs),
	}
}

// refusal turns the errors of usable into the broker's answers.
func (s *Service) refusal(ctx context.Context, v vendors.Vendor, err error) error {
	var nc *notConnected
	var dg *deadGrant
	var vd *vendorDown
	switch {
	case errors.As(err, &nc):
		return problem.New(http.StatusNotFound, "not_connected", "%s has no %s-level connection here", v.Name, nc.level).With("level", string(nc.level))
	case errors.As(err, &dg):
		metrics.Log(ctx, s.log(ctx), slog.LevelInfo, "token refused: reconnect required", map[string]string{metrics.DimVendor: v.ID},
			[]metrics.Value{metrics.V(metrics.BrokerRefusals, 1)}, slog.String("flow", string(dg.level)), slog.String("reason", dg.reason))
		return problem.New(http.StatusConflict, "reconnect_required",
			"the %s-level %s connection no longer works: it must be reconnected", dg.level, v.Name).With("level", string(dg.level))
	case errors.As(err, &vd):
		return vendorUnavailable(v)
	}
	return err
}
