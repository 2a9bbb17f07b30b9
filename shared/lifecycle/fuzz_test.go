package lifecycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/lifecycle"
	"github.com/workplace/connections/shared/problem"
	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/store/memstore"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vendors"
)

// noNetwork is a transport that reaches no vendor: a fuzzed request that
// gets as far as a code exchange meets a vendor failure.
type noNetwork struct{}

func (noNetwork) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in this test")
}

// fuzzWorld is a lifecycle service on fresh embedded backends with
// ServiceNow settings saved and the Atlassian app's credentials, no
// network, and a log to read.
type fuzzWorld struct {
	svc   *lifecycle.Service
	mem   *memstore.Store
	vault *memvault.Vault
	logs  *bytes.Buffer
}

const fuzzSNSecret = "sn-secret-pLnT9"

func newFuzzWorld(t *testing.T, settings bool) *fuzzWorld {
	t.Helper()
	w := &fuzzWorld{mem: memstore.New(), vault: memvault.New(), logs: &bytes.Buffer{}}
	app, _ := json.Marshal(provider.Credentials{ClientID: "atl-client", ClientSecret: "atl-secret-pLnT9"})
	if _, err := w.vault.Put(t.Context(), sandboxtest.DeploymentSecret, app); err != nil {
		t.Fatal(err)
	}
	w.svc = &lifecycle.Service{
		Store: w.mem, Vault: w.vault, Now: func() time.Time { return start },
		Clients: &provider.Factory{
			Store: w.mem, Vault: w.vault, HTTP: &http.Client{Transport: noNetwork{}},
			RedirectURL:       sandboxtest.RedirectURL,
			DeploymentSecrets: map[string]string{"confluence": sandboxtest.DeploymentSecret},
		},
		Log:          slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SecretPrefix: "test", WarningWindow: 10 * 24 * time.Hour, SecretRecoveryDays: 7,
	}
	if settings {
		_, err := w.svc.SaveSettings(t.Context(), manager, "servicenow", lifecycle.SettingsRequest{
			InstanceURL: ptr(snInstance), ClientID: ptr(snClientID), ClientSecret: ptr(fuzzSNSecret),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// dump is everything the world stores, item by item and secret by secret.
func (w *fuzzWorld) dump() map[string]string {
	d := w.mem.Dump()
	for k, v := range w.vault.Dump() {
		d["vault "+k] = v
	}
	return d
}

// fuzzNonce is the state the fuzz world issues: 256 bits, hex, like every
// state the service makes.
const fuzzNonce = "5f2b9c0e4d7a1b3c8e6f0a2d4c9b7e1f3a5c8d0b2e4f6a1c3e5b7d9f0a2c4e6b"

// Markers put in front of the fuzzed code and error description: if
// either shows in an answer or a log line, a caller's input leaked.
const (
	codeMarker = "pc7Q-"
	descMarker = "pd9Z-"
)

var oauthCode = regexp.MustCompile(`^(invalid_request|invalid_client|invalid_grant|unauthorized_client|unsupported_grant_type|invalid_scope|` +
	`access_denied|unsupported_response_type|server_error|temporarily_unavailable|unsupported_token_type|invalid_token|` +
	`insufficient_scope|interaction_required|login_required|consent_required|account_selection_required|unrecognised_error)$`)

// FuzzCallbackState: the callback's state is the only thing that binds a
// returning browser to the person who started the flow. Whatever the state
// (the issued one cut short or extended, made up, empty, huge), the code
// and the vendor's error, and whoever presents it: the answer is a
// documented 4xx, or 502 vendor_error once a real state reaches the
// vendor; a state that is not the issued one, or the issued one presented
// by anyone else, never gets past the state check; nothing is stored
// except that a state which was consumed is gone; and neither the code nor
// the vendor's description shows in the answer or the logs.
//
// The callback is being hardened (DESIGN §3 "Callback hardening"): a state
// of the wrong shape without a code becomes invalid_state (today
// invalid_body), and vendor errors other than access_denied become 502
// vendor_error (today 400 authorization_denied). Both answers are accepted
// here where the contracts differ; the bad-input catalogue pins each.
// The iss check has its own target, FuzzIssuer.
func FuzzCallbackState(f *testing.F) {
	callers := []lifecycle.Caller{manager, bob, caller(otherAccount, manager.UserID, manager.Name, true)}
	f.Fuzz(func(t *testing.T, servicenow bool, who, cut uint8, suffix, code, errCode, errDesc string) {
		vendor := "confluence"
		if servicenow {
			vendor = "servicenow"
		}
		w := newFuzzWorld(t, servicenow)
		ctx := context.Background()
		st := connection.AuthState{
			Nonce: fuzzNonce, Account: manager.Account, UserID: manager.UserID, Email: manager.Email, Name: manager.Name,
			Vendor: vendor, Flow: connection.LevelApp, Action: connection.ActionConnect,
			CreatedAt: start, ExpiresAt: start.Add(10 * time.Minute),
		}
		if servicenow {
			st.Instance, st.Verifier = snInstance, "verifier-pLnT9-0123456789012345678901234567890123"
		}
		if err := w.mem.PutState(ctx, st); err != nil {
			t.Fatal(err)
		}
		before := w.dump()

		presenter := callers[int(who)%len(callers)]
		req := lifecycle.CallbackRequest{Vendor: vendor, State: fuzzNonce[:int(cut)%(len(fuzzNonce)+1)] + suffix, Error: errCode}
		if code != "" {
			req.Code = codeMarker + code
		}
		if errDesc != "" {
			req.ErrorDescription = descMarker + errDesc
		}
		res, err := w.svc.CompleteAuthorization(ctx, presenter, req)
		var p *problem.Problem
		if !errors.As(err, &p) {
			t.Fatalf("callback %+v by %s: %+v, %v; want a documented error", req, presenter.UserID, res, err)
		}

		real := req.State == fuzzNonce
		owner := presenter.Account == manager.Account && presenter.UserID == manager.UserID
		answer := p.Code
		if p.Status != http.StatusBadRequest && !(p.Status == http.StatusBadGateway && answer == "vendor_error") {
			t.Fatalf("callback %+v: %d %s", req, p.Status, answer)
		}
		allowed := map[string]bool{}
		switch {
		case req.Code == "" && req.Error == "":
			// Neither a code nor an error: a bad body, or (hardened, for a
			// state of the wrong shape) a bad state.
			allowed["invalid_body"] = true
			allowed["invalid_state"] = !real
		case !real || !owner:
			allowed["invalid_state"] = true
		case req.Error == "access_denied":
			allowed["authorization_denied"] = true
		case req.Error != "":
			allowed["authorization_denied"] = true // today
			allowed["vendor_error"] = true         // hardened
		default:
			allowed["vendor_error"] = true // the exchange meets no vendor
		}
		if !allowed[answer] {
			t.Fatalf("callback %+v by %s: %d %s, want one of %v", req, presenter.UserID, p.Status, answer, allowed)
		}
		if vc, ok := p.Details["vendorError"]; ok {
			if s, _ := vc.(string); !oauthCode.MatchString(s) {
				t.Fatalf("vendorError %q is not an OAuth error code", vc)
			}
		}

		// Nothing stored changed, except that the state may be spent —
		// and only the issued one, only once it was looked up.
		after := w.dump()
		spent := maps.Clone(before)
		delete(spent, "STATE#"+fuzzNonce+" STATE")
		if !maps.Equal(after, before) && !(real && maps.Equal(after, spent)) {
			t.Fatalf("callback %+v by %s (%s) changed the store:\nbefore %v\nafter  %v", req, presenter.UserID, answer, before, after)
		}
		if !real && !maps.Equal(after, before) {
			t.Fatalf("a state other than the issued one changed the store")
		}

		// Nothing of the code or the description leaks.
		out, _ := json.Marshal(p)
		for _, text := range []string{err.Error(), string(out), w.logs.String()} {
			if strings.Contains(text, codeMarker) || strings.Contains(text, descMarker) || strings.Contains(text, "pLnT9") {
				t.Fatalf("callback %+v: a code, description or secret leaked into %s", req, text)
			}
		}
	})
}

// FuzzSettingsURL: the instance (ServiceNow) and site (Confluence) URLs an
// app manager types are where codes and refresh tokens go. Whatever is
// typed, it is saved only as https://<one label>.service-now.com or
// https://<one label>.atlassian.net — never an IP literal, port, user
// info, path, other domain or plain http — or refused with 400
// invalid_instance having stored nothing at all, not even the client
// secret; and the client secret never shows in the answer.
func FuzzSettingsURL(f *testing.F) {
	shape := map[bool]*regexp.Regexp{
		true:  regexp.MustCompile(`^https://[a-z0-9-]+\.service-now\.com$`),
		false: regexp.MustCompile(`^https://[a-z0-9-]+\.atlassian\.net$`),
	}
	f.Fuzz(func(t *testing.T, servicenow bool, raw string) {
		w := newFuzzWorld(t, false)
		before := w.dump()
		vendor, req := "confluence", lifecycle.SettingsRequest{SiteURL: &raw}
		if servicenow {
			vendor, req = "servicenow", lifecycle.SettingsRequest{InstanceURL: &raw, ClientID: ptr("c1"), ClientSecret: ptr(fuzzSNSecret)}
		}
		view, err := w.svc.SaveSettings(t.Context(), manager, vendor, req)
		if err != nil {
			var p *problem.Problem
			if !errors.As(err, &p) || p.Status != http.StatusBadRequest || p.Code != "invalid_instance" {
				t.Fatalf("%s settings with %q: %v, want 400 invalid_instance", vendor, raw, err)
			}
			if after := w.dump(); !maps.Equal(after, before) {
				t.Fatalf("refused %s settings with %q stored something:\nbefore %v\nafter  %v", vendor, raw, before, after)
			}
			return
		}
		got := view.InstanceURL
		if !servicenow {
			got = view.SiteURL
		}
		if !shape[servicenow].MatchString(got) && !(!servicenow && raw == "" && got == "") {
			t.Fatalf("%s settings with %q saved %q", vendor, raw, got)
		}
		stored, err := w.mem.GetSettings(t.Context(), manager.Account, vendor)
		if err != nil || stored.InstanceURL != view.InstanceURL || stored.SiteURL != view.SiteURL {
			t.Fatalf("stored %+v (%v), answered %+v", stored, err, view)
		}
		if b, _ := json.Marshal(view); strings.Contains(string(b), fuzzSNSecret) {
			t.Fatalf("the answer shows the client secret: %s", b)
		}
		// Saved once, accepted again as it is.
		if got != "" {
			again := req
			if servicenow {
				again.InstanceURL = &got
			} else {
				again.SiteURL = &got
			}
			if v2, err := w.svc.SaveSettings(t.Context(), manager, vendor, again); err != nil || v2.InstanceURL != view.InstanceURL || v2.SiteURL != view.SiteURL {
				t.Fatalf("saving %q again: %+v, %v", got, v2, err)
			}
		}
	})
}

// vendorCalls is a transport that records every request the vendor client
// makes and reaches no vendor.
type vendorCalls struct{ urls []string }

func (c *vendorCalls) RoundTrip(r *http.Request) (*http.Response, error) {
	c.urls = append(c.urls, r.URL.Scheme+"://"+r.URL.Host+r.URL.Path)
	return nil, errors.New("no network in this test")
}

// FuzzIssuer: the iss of an authorization response (RFC 9207) is the
// client's defence against mix-up attacks. Whatever iss a callback carries
// with the issued state, presented by its owner: only the exact issuer of
// the state's authorization server passes (the instance URL for
// ServiceNow, https://auth.atlassian.com for Atlassian, compared as strings
// per RFC 9207 §2.4), or no iss at all, as neither vendor sends one; every
// other iss is 400 issuer_mismatch before the code or the vendor's error is
// looked at, the code goes to no vendor, and nothing is stored but the spent
// state. A vendor that always sent iss (SendsIssuer) would refuse an absent
// one too. Neither the code nor a secret shows in the answer or the logs.
func FuzzIssuer(f *testing.F) {
	// The issuers, written out here rather than computed by the code under
	// test.
	issuer := map[bool]string{true: snInstance, false: "https://auth.atlassian.com"}
	tokenURL := map[bool]string{true: snInstance + "/oauth_token.do", false: "https://auth.atlassian.com/oauth/token"}
	f.Fuzz(func(t *testing.T, servicenow, denied bool, iss string) {
		vendor := "confluence"
		if servicenow {
			vendor = "servicenow"
		}
		w := newFuzzWorld(t, servicenow)
		calls := &vendorCalls{}
		w.svc.Clients.HTTP = &http.Client{Transport: calls}
		ctx := context.Background()
		st := connection.AuthState{
			Nonce: fuzzNonce, Account: manager.Account, UserID: manager.UserID, Email: manager.Email, Name: manager.Name,
			Vendor: vendor, Flow: connection.LevelApp, Action: connection.ActionConnect,
			CreatedAt: start, ExpiresAt: start.Add(10 * time.Minute), Verifier: "verifier-pLnT9-0123456789012345678901234567890123",
		}
		if servicenow {
			st.Instance = snInstance
		}
		if err := w.mem.PutState(ctx, st); err != nil {
			t.Fatal(err)
		}
		before := w.dump()
		spent := maps.Clone(before)
		delete(spent, "STATE#"+fuzzNonce+" STATE")

		want := issuer[servicenow]
		exact := iss == want
		v, ok := vendors.Lookup(vendor)
		if !ok {
			t.Fatalf("no vendor %s", vendor)
		}
		if got := v.IssuerMatches(iss, st.Instance); got != (exact || iss == "") {
			t.Fatalf("%s IssuerMatches(%q) = %v, want %v (issuer %s)", vendor, iss, got, exact || iss == "", want)
		}
		always := v
		always.SendsIssuer = true
		if got := always.IssuerMatches(iss, st.Instance); got != exact {
			t.Fatalf("%s sending iss: IssuerMatches(%q) = %v, want %v (issuer %s)", vendor, iss, got, exact, want)
		}

		req := lifecycle.CallbackRequest{Vendor: vendor, State: fuzzNonce, Code: codeMarker + "code", Issuer: iss}
		if denied {
			req.Code, req.Error = "", "access_denied"
		}
		res, err := w.svc.CompleteAuthorization(ctx, manager, req)
		var p *problem.Problem
		if !errors.As(err, &p) {
			t.Fatalf("callback with iss %q: %+v, %v; want a documented error", iss, res, err)
		}
		switch {
		case !exact && iss != "":
			if p.Status != http.StatusBadRequest || p.Code != "issuer_mismatch" {
				t.Fatalf("%s callback with iss %q (issuer %s): %d %s, want 400 issuer_mismatch", vendor, iss, want, p.Status, p.Code)
			}
			if len(calls.urls) != 0 {
				t.Fatalf("%s callback with iss %q reached the vendor: %v", vendor, iss, calls.urls)
			}
		case denied:
			if p.Status != http.StatusBadRequest || p.Code != "authorization_denied" || len(calls.urls) != 0 {
				t.Fatalf("%s denial with iss %q: %d %s, vendor calls %v; want 400 authorization_denied and no call", vendor, iss, p.Status, p.Code, calls.urls)
			}
		default:
			// Past the issuer check the code goes to the state's token
			// endpoint, which this test's network never reaches.
			if p.Status != http.StatusBadGateway || p.Code != "vendor_error" {
				t.Fatalf("%s callback with iss %q: %d %s, want 502 vendor_error from the exchange", vendor, iss, p.Status, p.Code)
			}
			if len(calls.urls) == 0 {
				t.Fatalf("%s callback with iss %q: the code was never exchanged", vendor, iss)
			}
			for _, u := range calls.urls {
				if u != tokenURL[servicenow] {
					t.Fatalf("%s callback with iss %q called %s, want only %s", vendor, iss, u, tokenURL[servicenow])
				}
			}
		}

		// The state is spent, whatever the answer; nothing else changed.
		if after := w.dump(); !maps.Equal(after, spent) {
			t.Fatalf("%s callback with iss %q (%s) changed the store:\nbefore %v\nafter  %v", vendor, iss, p.Code, before, after)
		}
		out, _ := json.Marshal(p)
		for _, text := range []string{err.Error(), string(out), w.logs.String()} {
			if strings.Contains(text, codeMarker) || strings.Contains(text, "pLnT9") {
				t.Fatalf("callback with iss %q: the code or a secret leaked into %s", iss, text)
			}
		}
	})
}
