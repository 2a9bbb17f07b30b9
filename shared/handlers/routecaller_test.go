package handlers_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/workplace/connections/infra/sandbox/sandboxtest"
	"github.com/workplace/connections/shared/apigw"
)

// routeCaller calls the routes' handlers (by route key) with API Gateway
// events, as the Lambdas get them, and connects through the sandbox.
type routeCaller struct {
	t      *testing.T
	ctx    context.Context
	routes map[string]apigw.Handler
	sb     *sandboxtest.Sandbox
}

// call sends one request as who and fails the test unless it answers want;
// it returns the body.
func (c routeCaller) call(who jwtCaller, method, path, query, body string, want int) string {
	c.t.Helper()
	r, req := routeEvent(c.t, who, method, path, query, body)
	resp, err := c.routes[r.RouteKey()](c.ctx, req)
	if err != nil || resp.StatusCode != want {
		c.t.Fatalf("%s %s?%s as %s: %d %s (%v), want %d", method, path, query, who.user, resp.StatusCode, resp.Body, err, want)
	}
	return resp.Body
}

// connect authorizes who at flow level of vendor (action: "", "reconnect"
// or "changeUser"), the vendor's login approving at the sandbox: the
// authorization URL, the approval, the callback.
func (c routeCaller) connect(who jwtCaller, vendor, flow, action, login string) {
	c.t.Helper()
	base := "/v1/account/integrations/" + vendor
	q := "flow=" + flow
	if action != "" {
		q += "&action=" + action
	}
	var u struct{ URL string }
	if err := json.Unmarshal([]byte(c.call(who, "GET", base+"/oauth2/url", q, "", 200)), &u); err != nil {
		c.t.Fatal(err)
	}
	back := c.sb.Approve(c.t, vendor, u.URL, url.Values{"sandbox_user": {login}})
	body, _ := json.Marshal(map[string]string{"state": back.State, "code": back.Code})
	c.call(who, "POST", base+"/oauth2/callback", "", string(body), 200)
}
