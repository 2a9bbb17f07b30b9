package lifecycle_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/store"
)

// shown collects everything the service lets out: results, views and errors.
type shown struct {
	t     *testing.T
	texts []string
}

func (s *shown) out(v any, err error) {
	s.t.Helper()
	if err != nil {
		s.texts = append(s.texts, err.Error())
		var p *problem.Problem
		if errors.As(err, &p) {
			b, jerr := json.Marshal(p)
			if jerr != nil {
				s.t.Fatal(jerr)
			}
			s.texts = append(s.texts, string(b))
		}
		return
	}
	b, jerr := json.Marshal(v)
	if jerr != nil {
		s.t.Fatal(jerr)
	}
	s.texts = append(s.texts, string(b))
}

// TestSecretsNeverLeak runs every flow, the failing ones included, and
// looks for any token, code or client secret in the logs, the errors and
// the JSON of every answer.
func TestSecretsNeverLeak(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	sh := &shown{t: t}
	var codes []string
	secrets := []string{e.snSecret, e.confluenceSecret}

	auth := func(who lifecycle.Caller, vendorID, flow, action string, kv ...string) lifecycle.CallbackRequest {
		out, err := e.svc.StartAuthorization(ctx, who, lifecycle.AuthURLRequest{Vendor: vendorID, Flow: flow, Action: action})
		sh.out(out, err)
		if err != nil {
			t.Fatal(err)
		}
		req := e.sandbox.Approve(t, vendorID, out.URL, knobs(kv...))
		if req.Code != "" {
			codes = append(codes, req.Code)
		}
		return req
	}
	complete := func(who lifecycle.Caller, req lifecycle.CallbackRequest) error {
		res, err := e.complete(who, req)
		sh.out(res, err)
		return err
	}
	flow := func(who lifecycle.Caller, vendorID, flow, action string, kv ...string) error {
		return complete(who, auth(who, vendorID, flow, action, kv...))
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	settings := func(who lifecycle.Caller, vendorID string, r lifecycle.SettingsRequest) error {
		v, err := e.svc.SaveSettings(ctx, who, vendorID, r)
		sh.out(v, err)
		return err
	}
	disconnect := func(who lifecycle.Caller, vendorID, flow string, cascade bool) error {
		err := e.disconnect(who, vendorID, flow, cascade)
		sh.out(nil, err)
		return err
	}
	failing := func(inject, clear func(), run func() error) {
		t.Helper()
		inject()
		err := run()
		clear()
		if err == nil {
			t.Fatal("an injected failure went unnoticed")
		}
	}

	// ServiceNow, the whole life.
	rotated := "sn-rotated-" + randomHex()
	secrets = append(secrets, rotated)
	_ = settings(bob, "servicenow", lifecycle.SettingsRequest{InstanceURL: ptr(snInstance), ClientID: ptr(snClientID), ClientSecret: ptr(e.snSecret)})
	_ = settings(manager, "servicenow", lifecycle.SettingsRequest{InstanceURL: ptr("https://evil.com"), ClientID: ptr(snClientID), ClientSecret: ptr(e.snSecret)})
	must(settings(manager, "servicenow", lifecycle.SettingsRequest{InstanceURL: ptr(snInstance), ClientID: ptr(snClientID), ClientSecret: ptr(e.snSecret)}))
	must(flow(manager, "servicenow", "app", ""))
	must(flow(bob, "servicenow", "user", "", "sandbox_user", "bob"))
	must(flow(carol, "servicenow", "user", "", "sandbox_user", "carol"))
	must(flow(manager, "servicenow", "app", "reconnect"))
	must(flow(manager, "servicenow", "app", "changeUser", "sandbox_user", "grace"))
	_ = flow(manager, "servicenow", "app", "reconnect", "sandbox_user", "mallory")
	_ = flow(manager, "servicenow", "app", "reconnect", "sandbox_deny", "1")
	_ = flow(manager, "servicenow", "app", "changeUser", "sandbox_site", "other")
	replay := auth(bob, "servicenow", "user", "reconnect", "sandbox_user", "bob")
	_ = complete(carol, replay)
	_ = complete(bob, replay)
	failing(func() { e.sandbox.Knob(e.t, "servicenow/outage?status=500") }, func() { e.sandbox.Knob(e.t, "servicenow/outage?status=0") },
		func() error { return flow(manager, "servicenow", "app", "reconnect", "sandbox_user", "grace") })
	failing(func() { e.http.setFail(identityPath) }, func() { e.http.setFail(nil) },
		func() error { return flow(manager, "servicenow", "app", "reconnect", "sandbox_user", "grace") })
	failing(func() { e.vault.setPut(func(string) error { return errVault }) }, func() { e.vault.setPut(nil) },
		func() error { return flow(manager, "servicenow", "app", "reconnect", "sandbox_user", "grace") })
	failing(func() {
		e.store.setApply(func(context.Context, []store.Op) error { return fmt.Errorf("injected: %w", store.ErrConflict) })
	}, func() { e.store.setApply(nil) },
		func() error { return flow(manager, "servicenow", "app", "reconnect", "sandbox_user", "grace") })
	must(settings(manager, "servicenow", lifecycle.SettingsRequest{InstanceURL: ptr(snInstance), ClientID: ptr(snClientID), ClientSecret: ptr(rotated)}))
	_ = disconnect(manager, "servicenow", "app", false)
	must(disconnect(bob, "servicenow", "user", false))
	must(disconnect(manager, "servicenow", "app", true))
	_ = disconnect(manager, "servicenow", "app", true)

	// Confluence.
	_ = flow(manager, "confluence", "app", "", "sandbox_site", "acme,beta")
	must(settings(manager, "confluence", lifecycle.SettingsRequest{SiteURL: ptr("https://acme.atlassian.net")}))
	must(flow(manager, "confluence", "app", "", "sandbox_site", "beta,acme"))
	must(flow(bob, "confluence", "user", "", "sandbox_user", "bob"))
	_ = flow(manager, "confluence", "app", "changeUser", "sandbox_user", "grace", "sandbox_site", "beta")
	must(flow(manager, "confluence", "app", "reconnect"))
	failing(func() { e.http.setFail(identityPath) }, func() { e.http.setFail(nil) },
		func() error { return flow(bob, "confluence", "user", "reconnect", "sandbox_user", "bob") })
	sh.out(e.view(manager, "confluence"), nil)
	sh.out(e.view(bob, "servicenow"), nil)
	must(disconnect(manager, "confluence", "app", true))

	issued := e.http.allIssued()
	if len(issued) < 10 || len(codes) < 10 {
		t.Fatalf("the run issued only %d token sets and %d codes", len(issued), len(codes))
	}
	for _, tok := range issued {
		secrets = append(secrets, tok.AccessToken, tok.RefreshToken)
	}
	secrets = append(secrets, codes...)

	logs := e.logs.String()
	for _, want := range []string{"authorization completed", "identity lookup failed", "code exchange failed", "disconnected"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("logs lack %q: the capture does not work", want)
		}
	}
	places := map[string]string{"logs": logs}
	for i, s := range sh.texts {
		places[fmt.Sprintf("answer %d", i)] = s
	}
	for where, text := range places {
		for _, secret := range secrets {
			for _, part := range fragments(secret) {
				if strings.Contains(text, part) {
					t.Errorf("a secret (%.6s…) appears in %s", secret, where)
				}
			}
		}
	}
}

// fragments are the parts of a secret to look for: the whole, and its head
// and tail, so that a truncated secret is found too.
func fragments(secret string) []string {
	if secret == "" {
		return nil
	}
	if len(secret) < 32 {
		return []string{secret}
	}
	return []string{secret, secret[:16], secret[len(secret)-16:]}
}
