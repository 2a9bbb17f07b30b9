// Package console is the local server's pages for clicking through every
// flow in a browser: pick who you are, save each vendor's settings,
// connect, reconnect, change user, disconnect, get a token, check a
// connection, move the local clock, run the scan, and read your notices,
// the emails, the events and the audit timeline. The callback page is
// where the sandbox vendors send the browser back; it posts what it got
// to the callback route with your identity, as the real frontend does.
// The reconnect pages are where the notice emails link to.
package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/workplace/connections/shared/vendors"
)

//go:embed index.html callback.html
var pages embed.FS

// Options say what the pages need to know of the deployment.
type Options struct {
	// AppReconnectPath and UserReconnectPath are the paths, under
	// /console, that the notice emails link to (FRONTEND_URL +
	// APP_RECONNECT_PATH / USER_RECONNECT_PATH, FRONTEND_URL being
	// /console in local mode): each is a page that starts the reconnect
	// of the connections at its level.
	AppReconnectPath  string
	UserReconnectPath string
	// ManagerRole is the role claim of app managers (APP_MANAGER_ROLE):
	// the console shows manager-only controls to that role only.
	ManagerRole string
}

// Console serves the console's pages.
type Console struct {
	index, callback []byte
	paths           map[string]string // path → page
}

// bootMarker is replaced in index.html by the console's configuration.
const bootMarker = "/*BOOT*/{}"

// New builds the console's pages.
func New(o Options) (*Console, error) {
	index, err := pages.ReadFile("index.html")
	if err != nil {
		return nil, err
	}
	callback, err := pages.ReadFile("callback.html")
	if err != nil {
		return nil, err
	}
	app, user := Path(o.AppReconnectPath), Path(o.UserReconnectPath)
	boot := map[string]any{
		"managerRole":       o.ManagerRole,
		"appReconnectPath":  app,
		"userReconnectPath": user,
		"vendors":           Vendors(vendors.Registry),
	}
	// json.Marshal escapes <, > and &: the result is safe inside a
	// <script> element.
	b, err := json.Marshal(boot)
	if err != nil {
		return nil, err
	}
	c := &Console{
		index:    bytes.Replace(index, []byte(bootMarker), b, 1),
		callback: callback,
		paths:    map[string]string{"/console": "index", "/console/": "index", "/console/callback": "callback"},
	}
	for _, p := range []string{app, user} {
		if p != "/console" && p != "/console/callback" {
			c.paths[p] = "index"
		}
	}
	return c, nil
}

// Path is the console's path of a reconnect path of the configuration
// ("/manage/apps/integrations" → "/console/manage/apps/integrations").
func Path(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return "/console"
	}
	return "/console/" + p
}

// Pages are the paths the console serves (GET and HEAD).
func (c *Console) Pages() []string {
	out := make([]string, 0, len(c.paths))
	for p := range c.paths {
		out = append(out, p)
	}
	return out
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page, ok := c.paths[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b := c.index
	if page == "callback" {
		b = c.callback
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// The callback URL carries the authorization code: never leak it.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
	h.Set("X-Frame-Options", "DENY")
	_, _ = w.Write(b)
}

// Vendor is a vendor as the console shows it: its settings fields are
// derived from its registry entry, so a new vendor gets them for free.
type Vendor struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Type   string  `json:"type"`
	Fields []Field `json:"fields"`
}

// Field is one settings field: Name is its key in the body of
// PUT /v1/account/integrations/{vendor}/settings.
type Field struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Kind        string `json:"kind"` // url, text, secret or days
	Required    bool   `json:"required,omitempty"`
	Placeholder string `json:"placeholder,omitempty"`
	Value       string `json:"value,omitempty"` // what the field starts with (the sandbox's values)
	Help        string `json:"help,omitempty"`
}

// Vendors are the registry's vendors with their settings fields.
func Vendors(reg []vendors.Vendor) []Vendor {
	out := make([]Vendor, 0, len(reg))
	for _, v := range reg {
		out = append(out, Vendor{ID: v.ID, Name: v.Name, Type: string(v.Type), Fields: Fields(v)})
	}
	return out
}

// Fields are the settings a vendor takes (shared/lifecycle.SaveSettings):
// a vendor whose OAuth client each customer registers (PerAccount) takes
// its instance, client and, where its refresh tokens have a fixed
// lifespan, that lifespan; a vendor whose grant may cover several sites
// (SiteChoice) takes the site to use.
func Fields(v vendors.Vendor) []Field {
	var out []Field
	if v.Credentials == vendors.PerAccount {
		example := "https://acme.example.com"
		if len(v.InstanceHosts) > 0 {
			example = "https://acme" + strings.TrimPrefix(v.InstanceHosts[0], "*")
		}
		out = append(out,
			Field{Name: "instanceUrl", Label: "Instance URL", Kind: "url", Required: true, Placeholder: example, Value: example,
				Help: "where the customer's " + v.Name + " lives; its host must be " + strings.Join(v.InstanceHosts, " or ")},
			Field{Name: "clientId", Label: "Client id", Kind: "text", Required: true, Value: "local-client",
				Help: "the OAuth client registered in that instance"},
			Field{Name: "clientSecret", Label: "Client secret", Kind: "secret", Value: "local-secret",
				Help: "stored in the vault, never shown again; leave empty to keep the stored one"},
		)
		if days := int(v.Refresh.Lifespan / (24 * time.Hour)); days > 0 {
			out = append(out, Field{Name: "refreshTokenLifespanDays", Label: "Refresh token lifespan (days)", Kind: "days",
				Placeholder: strconv.Itoa(days), Value: strconv.Itoa(days),
				Help: "as configured on the OAuth client; the connection expires this long after it is authorized"})
		}
	}
	if v.SiteChoice {
		out = append(out, Field{Name: "siteUrl", Label: "Site URL", Kind: "url", Placeholder: "https://acme.atlassian.net",
			Help: "picks the site when a grant covers several; empty: none chosen"})
	}
	return out
}
