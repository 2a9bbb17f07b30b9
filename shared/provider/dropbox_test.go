package provider_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/provider"
	"github.com/workplace/connections/shared/vendors"
)

// dropboxTeamAccount is users/get_current_account for a member of a team,
// as Dropbox's API spec gives the FullAccount example (abridged).
const dropboxTeamAccount = `{"account_id":"dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
 "name":{"given_name":"Franz","surname":"Ferdinand","familiar_name":"Franz","display_name":"Franz Ferdinand (Personal)","abbreviated_name":"FF"},
 "email":"franz@dropbox.com","email_verified":true,"disabled":false,"country":"US","locale":"en",
 "team":{"id":"dbtid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I","name":"Acme, Inc.","office_addin_policy":{".tag":"disabled"}},
 "team_member_id":"dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU","is_paired":true,"account_type":{".tag":"business"}}`

func TestAuthCodeURLDropbox(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) {})
	u, err := url.Parse(f.client(t, lookup(t, "dropbox")).AuthCodeURL("state-1", plantedVerifier))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Path != "/dbx-www/oauth2/authorize" || q.Get("token_access_type") != "offline" || q.Get("response_type") != "code" ||
		q.Get("scope") != "account_info.read files.metadata.read files.content.read" || q.Get("code_challenge_method") != "S256" {
		t.Fatalf("authorization URL %s", u)
	}
}

func TestIdentifyDropbox(t *testing.T) {
	db := lookup(t, "dropbox")
	tok := &oauth2.Token{AccessToken: plantedAccess}
	t.Run("a team member: the team is the site", func(t *testing.T) {
		f := identityServer(t, "[]")
		who, err := f.client(t, db).Identify(t.Context(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if who.User.ID != "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc" || who.User.Name != "Franz Ferdinand (Personal)" || who.User.Email != "franz@dropbox.com" {
			t.Fatalf("user %+v", who.User)
		}
		if len(who.Sites) != 1 || who.Sites[0] != (provider.Site{ID: "dbtid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I", Name: "Acme, Inc."}) {
			t.Fatalf("sites %+v", who.Sites)
		}
		// An RPC without arguments: POST, no body, so no Content-Type.
		r := f.last(t)
		if r.Method != http.MethodPost || r.Path != "/dbx/2/users/get_current_account" || r.RawQuery != "" ||
			r.Header.Get("Content-Type") != "" || len(r.Form) != 0 {
			t.Fatalf("request %s %s?%s %v %v", r.Method, r.Path, r.RawQuery, r.Header, r.Form)
		}
	})
	for name, body := range map[string]string{
		"team null":   `{"account_id":"dbid:p1","name":{"display_name":"Pat"},"email":"pat@example.com","team":null}`,
		"team absent": `{"account_id":"dbid:p1","name":{"display_name":"Pat"},"email":"pat@example.com"}`,
	} {
		t.Run("a personal account has no site: "+name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { writeJSON(w, 200, body) })
			who, err := f.client(t, db).Identify(t.Context(), tok)
			if err != nil || who.User.ID != "dbid:p1" || who.User.Name != "Pat" || len(who.Sites) != 0 {
				t.Fatalf("who %+v, %v", who, err)
			}
		})
	}
	for name, a := range map[string]answer{
		"no account id":  {200, "", `{"name":{"display_name":"` + plantedBody + `"}}`},
		"expired token":  {401, "", `{"error_summary":"expired_access_token/","error":{".tag":"expired_access_token"}}`},
		"missing scope":  {401, "", `{"error_summary":"missing_scope/","error":{".tag":"missing_scope","required_scope":"account_info.read"}}`},
		"bad input 400":  {400, "text/plain", "Error in call to API function: " + plantedBody},
		"unparsable 200": {200, "", `{"account_id":` + plantedBody},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ url.Values) { a.write(w) })
			who, err := f.client(t, db).Identify(t.Context(), tok)
			clean(t, err)
			if who.User.ID != "" {
				t.Fatalf("who %+v with an error", who)
			}
		})
	}
}

// dropboxFake answers Dropbox's revocation and token endpoints: the
// revocation takes the access tokens in live (else 401, as for an expired
// one), the token endpoint answers refresh with refresh (an answer).
type dropboxFake struct {
	live    map[string]bool
	refresh answer
}

func (d dropboxFake) handle(w http.ResponseWriter, r *http.Request, _ url.Values) {
	switch r.URL.Path {
	case "/dbx/2/auth/token/revoke":
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !d.live[tok] {
			writeJSON(w, 401, `{"error_summary":"expired_access_token/","error":{".tag":"expired_access_token"}}`)
			return
		}
		writeJSON(w, 200, "null")
	case "/dbx/oauth2/token":
		d.refresh.write(w)
	default:
		writeJSON(w, 404, `{}`)
	}
}

// Dropbox revokes with the access token as Bearer (vendors.RevokeBearer):
// the stored one when it still works, else a fresh one from a refresh.
func TestRevokeBearer(t *testing.T) {
	db := lookup(t, "dropbox")
	if db.Revocation != vendors.RevokeBearer || !strings.HasSuffix(db.RevokeURL, "/2/auth/token/revoke") {
		t.Fatalf("Dropbox revokes with Bearer at /2/auth/token/revoke: %q %q", db.Revocation, db.RevokeURL)
	}
	const freshAccess = "AT-fresh-from-refresh-1c9e"
	refreshed := answer{200, "", `{"access_token":"` + freshAccess + `","token_type":"bearer","expires_in":14400,"scope":"account_info.read"}`}
	stored := &oauth2.Token{AccessToken: plantedAccess, RefreshToken: plantedRefresh}
	paths := func(f *fakeVendor) string {
		var ps []string
		for _, r := range f.requests() {
			ps = append(ps, r.Path)
		}
		return strings.Join(ps, " ")
	}
	// Every revocation request carries a Bearer token and nothing else:
	// no body, no query, no client credentials.
	bare := func(t *testing.T, r request, token string) {
		t.Helper()
		if r.Method != http.MethodPost || r.RawQuery != "" || len(r.Form) != 0 || r.Header.Get("Content-Type") != "" ||
			r.Header.Get("Authorization") != "Bearer "+token {
			t.Fatalf("revocation %s %s?%s headers %v form %v", r.Method, r.Path, r.RawQuery, r.Header, r.Form)
		}
	}

	t.Run("a live access token: one call", func(t *testing.T) {
		f := newFake(t, dropboxFake{live: map[string]bool{plantedAccess: true}, refresh: refreshed}.handle)
		if err := f.client(t, db).Revoke(t.Context(), stored); err != nil {
			t.Fatal(err)
		}
		if got := paths(f); got != "/dbx/2/auth/token/revoke" {
			t.Fatalf("requests %s", got)
		}
		bare(t, f.last(t), plantedAccess)
	})
	t.Run("an expired access token: refresh, then revoke the fresh one", func(t *testing.T) {
		f := newFake(t, dropboxFake{live: map[string]bool{freshAccess: true}, refresh: refreshed}.handle)
		if err := f.client(t, db).Revoke(t.Context(), stored); err != nil {
			t.Fatal(err)
		}
		if got := paths(f); got != "/dbx/2/auth/token/revoke /dbx/oauth2/token /dbx/2/auth/token/revoke" {
			t.Fatalf("requests %s", got)
		}
		rs := f.requests()
		bare(t, rs[0], plantedAccess)
		bare(t, rs[2], freshAccess)
		// The refresh authenticates the client as the registry says
		// (HTTP Basic), with the stored refresh token.
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+":"+plantedSecret))
		if rs[1].Form.Get("grant_type") != "refresh_token" || rs[1].Form.Get("refresh_token") != plantedRefresh ||
			rs[1].Header.Get("Authorization") != basic || rs[1].Form.Has("client_secret") {
			t.Fatalf("refresh %v %v", rs[1].Header, rs[1].Form)
		}
	})
	t.Run("no access token stored: refresh first", func(t *testing.T) {
		f := newFake(t, dropboxFake{live: map[string]bool{freshAccess: true}, refresh: refreshed}.handle)
		if err := f.client(t, db).Revoke(t.Context(), &oauth2.Token{RefreshToken: plantedRefresh}); err != nil {
			t.Fatal(err)
		}
		if got := paths(f); got != "/dbx/oauth2/token /dbx/2/auth/token/revoke" {
			t.Fatalf("requests %s", got)
		}
	})
	t.Run("a grant already dead: nothing to revoke", func(t *testing.T) {
		dead := answer{400, "", `{"error":"invalid_grant","error_description":"refresh token is invalid or revoked"}`}
		f := newFake(t, dropboxFake{refresh: dead}.handle)
		if err := f.client(t, db).Revoke(t.Context(), stored); err != nil {
			t.Fatalf("a dead grant is revoked already: %v", err)
		}
		if got := paths(f); got != "/dbx/2/auth/token/revoke /dbx/oauth2/token" {
			t.Fatalf("requests %s", got)
		}
	})
	t.Run("nothing stored: no call", func(t *testing.T) {
		f := newFake(t, dropboxFake{}.handle)
		for _, tok := range []*oauth2.Token{nil, {}} {
			if err := f.client(t, db).Revoke(t.Context(), tok); err != nil || len(f.requests()) != 0 {
				t.Fatalf("%v, %d requests", err, len(f.requests()))
			}
		}
	})
	failures := map[string]func(w http.ResponseWriter, r *http.Request, _ url.Values){
		"revocation 500": func(w http.ResponseWriter, r *http.Request, _ url.Values) {
			answer{500, "text/plain", plantedBody + plantedAccess}.write(w)
		},
		"refresh outage":          dropboxFake{refresh: answer{503, "", `{"error":"temporarily_unavailable","error_description":"` + plantedBody + `"}`}}.handle,
		"fresh token refused too": dropboxFake{refresh: refreshed}.handle,
	}
	for name, h := range failures {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, h)
			err := f.client(t, db).Revoke(t.Context(), stored)
			clean(t, err)
			if errors.Is(err, provider.ErrRefused) {
				t.Fatalf("%v: a failed revocation is not a refused refresh", err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		f := newFake(t, dropboxFake{}.handle)
		c := f.client(t, db)
		f.srv.Close()
		clean(t, c.Revoke(t.Context(), stored))
	})
}
