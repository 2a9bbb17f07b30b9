package console_test

// The console driven by a real browser: headless Chromium clicks through
// the flows a person would, against the whole local server (embedded
// backends, sandbox vendors), and every check is on what the page shows.
// No sleeps: each step waits for the page to show something.
//
// Screenshots of the steps are committed in docs/console/; they are
// rewritten only with UPDATE_SCREENSHOTS=1, so that a normal run leaves
// the tree clean.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/workplace/connections/infra/localserver"
)

// screenshotDir is docs/console/ from this package's directory.
const screenshotDir = "../../docs/console"

// screenshotWidth is the browser window's width, and so the screenshots'.
const screenshotWidth = 1000

// chromePath finds the browser: $CHROME_PATH, else the first of the usual
// names on PATH (Debian's package is chromium). No browser is a failure,
// not a skip: CI installs it (.ci/run).
func chromePath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: install it (apt-get install -y chromium; .ci/run does) or set CHROME_PATH to the browser")
	return ""
}

// page is the browser tab and the test's steps on it.
type page struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots []string // the screenshots taken, in order
}

func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v\n--- the page shows:\n%s", what, err, p.text())
	}
}

// text is what the page shows (for failure messages).
func (p *page) text() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// visible is a JavaScript predicate: the element sel is shown and its text
// contains want.
const visible = `(sel, want) => { const e = document.querySelector(sel); return !!e && e.checkVisibility() && e.innerText.includes(want); }`

// see waits until the element sel shows text. It waits across navigations
// (a flow through the vendor ends on another page load): a poll that a
// navigation interrupts starts again on the new page.
func (p *page) see(sel, text string) {
	p.t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		_, err := chromedp.Run(p.ctx, chromedp.PollFunction[bool](visible, chromedp.WithPollingArgs(sel, text),
			chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingMutation()))
		if err == nil {
			return
		}
		if errors.Is(err, chromedp.ErrPollingTimeout) || time.Now().After(deadline) || p.ctx.Err() != nil {
			p.t.Fatalf("the page never showed %q in %s: %v\n--- the page shows:\n%s", text, sel, err, p.text())
		}
	}
}

// count is how many elements match sel and are shown.
func (p *page) count(sel string) int {
	p.t.Helper()
	n, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](fmt.Sprintf(`[...document.querySelectorAll(%q)].filter(e => e.checkVisibility()).length`, sel)))
	if err != nil {
		p.t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

// actions is how many actions the page has finished, the reload of its
// data that follows each included.
func (p *page) actions() int {
	p.t.Helper()
	n, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`Number(document.body.getAttribute("data-actions") || 0)`))
	if err != nil {
		p.t.Fatalf("actions: %v", err)
	}
	return n
}

// click clicks the shown element sel.
func (p *page) click(sel string) {
	p.t.Helper()
	p.do("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// act clicks sel, waits until the action has finished (the page has
// reloaded its data after it), and checks the result shows text: the
// answer must survive that reload.
func (p *page) act(sel, text string) {
	p.t.Helper()
	before := p.actions()
	p.click(sel)
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](fmt.Sprintf(`Number(document.body.getAttribute("data-actions") || 0) > %d`, before),
		chromedp.WithPollingTimeout(45*time.Second))); err != nil {
		p.t.Fatalf("the action of %s never finished: %v\n--- the page shows:\n%s", sel, err, p.text())
	}
	p.see("#result", text)
}

// follow clicks the link sel and waits until the page it leads to (path)
// has wired its controls: a click before that would be lost.
func (p *page) follow(sel, path string) {
	p.t.Helper()
	p.click(sel)
	ready := fmt.Sprintf(`location.pathname === %q && document.body.getAttribute("data-ready") === "1"`, path)
	deadline := time.Now().Add(45 * time.Second)
	for {
		// A poll fails with the page it ran in when the navigation
		// replaces it: poll again in the new one.
		_, err := chromedp.Run(p.ctx, chromedp.Poll[bool](ready, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return
		}
		if errors.Is(err, chromedp.ErrPollingTimeout) || time.Now().After(deadline) || p.ctx.Err() != nil {
			p.t.Fatalf("following %s never reached a ready %s: %v\n--- the page shows:\n%s", sel, path, err, p.text())
		}
	}
}

// fill sets the value of the input sel.
func (p *page) fill(sel, value string) {
	p.t.Helper()
	p.do("fill "+sel, chromedp.SetValue(chromedp.CSS(sel), value, chromedp.NodeVisible))
}

// become sets the identity fields and uses them.
func (p *page) become(user, email, name, role, wantText string) {
	p.t.Helper()
	p.fill("#user", user)
	p.fill("#email", email)
	p.fill("#name", name)
	p.do("choose role", chromedp.SetValue(chromedp.CSS("#role"), role))
	p.act("#use-identity", "Now acting as "+name)
	p.see("#current-identity", wantText)
}

// shot saves a screenshot of the whole page as docs/console/NN-name.png
// with UPDATE_SCREENSHOTS=1; otherwise it checks that one is committed.
func (p *page) shot(name string) {
	p.t.Helper()
	file := fmt.Sprintf("%02d-%s.png", len(p.shots)+1, name)
	p.shots = append(p.shots, file)
	path := filepath.Join(screenshotDir, file)
	if os.Getenv("UPDATE_SCREENSHOTS") != "1" {
		if _, err := os.Stat(path); err != nil {
			p.t.Errorf("no screenshot %s committed: run UPDATE_SCREENSHOTS=1 go test -run TestConsoleInABrowser ./infra/console/", path)
		}
		return
	}
	raw, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", file, err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", file, err)
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, paletted(img)); err != nil {
		p.t.Fatalf("screenshot %s: %v", file, err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		p.t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != screenshotWidth {
		p.t.Errorf("screenshot %s is %dpx wide, want %d", file, b.Dx(), screenshotWidth)
	}
}

// paletted is img in its 256 most used colours, each other colour drawn as
// the nearest of them: a page is mostly flat colours and anti-aliased text,
// so it looks the same in a third of the bytes.
func paletted(img image.Image) *image.Paletted {
	b := img.Bounds()
	counts := map[color.RGBA]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			counts[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	all := make([]color.RGBA, 0, len(counts))
	for c := range counts {
		all = append(all, c)
	}
	slices.SortFunc(all, func(a, b color.RGBA) int {
		if d := counts[b] - counts[a]; d != 0 {
			return d
		}
		return int(a.R)<<16 | int(a.G)<<8 | int(a.B) - (int(b.R)<<16 | int(b.G)<<8 | int(b.B))
	})
	pal := make(color.Palette, 0, 256)
	for _, c := range all[:min(256, len(all))] {
		pal = append(pal, c)
	}
	out := image.NewPaletted(b, pal)
	index := map[color.RGBA]uint8{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			i, ok := index[c]
			if !ok {
				i = uint8(pal.Index(c))
				index[c] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	return out
}

// machineTime is an RFC 3339 timestamp, which a person should never see.
var machineTime = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d`)

func TestConsoleInABrowser(t *testing.T) {
	exe := chromePath(t)

	// The whole local server on a free port, on the real clock (the
	// console's buttons move it).
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	env := map[string]string{"LOG_LEVEL": "ERROR"}
	s, _, err := localserver.Local(context.Background(), localserver.Options{
		Getenv: func(k string) string { return env[k] }, BaseURL: base,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		srv.Listener.Close()
		t.Fatal(err)
	}
	srv.Config.Handler = s
	srv.Start()
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // as root in a container the sandbox cannot start; the pages are our own
		chromedp.WindowSize(screenshotWidth, 900),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "en-GB"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	// A bound for the whole walk, far above its usual 5–30 s: under make
	// test the race-built server shares 2 cores with every other package.
	ctx, cancel := context.WithTimeout(ctx, 8*time.Minute)
	t.Cleanup(cancel)
	p := &page{t: t, ctx: ctx, base: base}

	// The server's address is the console.
	p.do("open the server", chromedp.Navigate(base+"/"))
	p.see("#current-identity", "Acting as Ada Admin")
	p.see("#clock-now", "(real time)")
	p.see("#list", "ServiceNow")
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != base+"/console" {
		t.Fatalf("/ took the browser to %s, want the console", loc)
	}
	// Every vendor's settings, from the registry.
	for _, sel := range []string{"#set-servicenow-instanceUrl", "#set-servicenow-refreshTokenLifespanDays", "#set-confluence-siteUrl", "#set-jira-siteUrl"} {
		if p.count(sel) != 1 {
			t.Fatalf("no settings field %s", sel)
		}
	}
	p.shot("console")

	// A refused save: the API's code and message, kept after the page
	// reloads its data.
	p.fill("#set-servicenow-instanceUrl", "https://acme.example.com")
	p.act(`button[data-act="save-settings"][data-vendor="servicenow"]`, "400 invalid_instance")
	p.shot("settings-refused")
	p.fill("#set-servicenow-instanceUrl", "https://acme.service-now.com")
	p.fill("#set-servicenow-refreshTokenLifespanDays", "30")
	p.act(`button[data-act="save-settings"][data-vendor="servicenow"]`, "refresh tokens live 30 days")

	// Connect: to the sandbox vendor and back, the outcome shown.
	p.click(`button[data-act="connect"][data-vendor="servicenow"]`)
	p.see("#result", "ServiceNow connected as Admin")
	p.see(`#list tr[data-vendor="servicenow"]`, "connected until")
	p.see(`#list tr[data-vendor="servicenow"]`, "(in 30 days)")
	// The broker's token works at the vendor; the live check agrees.
	p.act(`button[data-act="token"][data-vendor="servicenow"]`, "The vendor says: it works")
	p.act(`button[data-act="check"][data-vendor="servicenow"]`, "ServiceNow: works (connected)")
	p.shot("connected")

	// Change user: another person approves at the vendor.
	p.fill("#sbuser", "carol")
	p.click(`button[data-act="change-user"][data-vendor="servicenow"]`)
	p.see("#result", "the connected user is now Carol")
	p.see(`#list tr[data-vendor="servicenow"]`, "Carol")
	p.shot("change-user")

	// A refused change of site: Confluence connected on acme, then a
	// change of user approved on another site.
	p.fill("#sbuser", "admin")
	p.click(`button[data-act="connect"][data-vendor="confluence"]`)
	p.see("#result", "Confluence connected as Admin")
	p.fill("#sbuser", "dave")
	p.fill("#sbsite", "beta")
	p.click(`button[data-act="change-user"][data-vendor="confluence"]`)
	p.see("#result", "Change the user of Confluence failed — 409 site_mismatch")
	p.see(`#list tr[data-vendor="confluence"]`, "Admin")
	p.shot("site-mismatch")
	p.fill("#sbsite", "acme")

	// A plain user sees no manager-only control, and connects their own.
	p.become("u2", "bob@acme.example", "Bob Builder", "member", "not an app manager")
	for _, sel := range []string{`button[data-act="connect"]`, `button[data-act="change-user"]`, `button[data-act="disconnect"]`,
		`button[data-act="token"]`, `button[data-act="check"]`, `button[data-act="save-settings"]`, "#settings-section", "#audit"} {
		if n := p.count(sel); n != 0 {
			t.Fatalf("a plain user sees %d of %s", n, sel)
		}
	}
	p.fill("#sbuser", "bob")
	p.click(`button[data-act="connect-mine"][data-vendor="servicenow"]`)
	p.see("#result", "Your ServiceNow connected as Bob")
	p.see(`#list tr[data-vendor="servicenow"]`, "Disconnect mine")
	p.shot("plain-user")
	p.become("u1", "ada@acme.example", "Ada Admin", "appManager", "an app manager")

	// Time travel: the one clock moves every route; the scan finds the
	// ServiceNow grant expiring (30-day lifespan, 10-day warning).
	for range 3 {
		p.act("#clock-7", "Clock moved 7 days ahead")
	}
	p.see("#clock-now", "(moved)")
	p.act("#scan", "Expiry scan at")
	p.see(`#list tr[data-vendor="servicenow"]`, "expiring on")
	p.see("#notices", "ServiceNow will be disconnected on")
	p.shot("scan-expiring")

	// Notices: dismissed, it is gone, and the answer stays.
	p.act(`#notices button[data-act="dismiss"][data-vendor="servicenow"]`, "Notice dismissed")
	p.see("#notices", "No notices.")
	p.act("#clock-7", "Clock moved 7 days ahead")
	p.act("#clock-1", "Clock moved 1 day ahead")
	p.see(`#list tr[data-vendor="servicenow"]`, "expiring on") // the scan has not seen the expiry yet
	p.act("#clock-7", "Clock moved 7 days ahead")
	p.act("#scan", "Expiry scan at")
	p.see(`#list tr[data-vendor="servicenow"]`, "disconnected: expired on")
	p.see("#notices", "ServiceNow has unexpectedly been disconnected")
	p.shot("notice-disconnected")

	// Reconnect from the email's link.
	p.click("#outbox")
	p.see("#result", "sent so far")
	p.see("#view", "ServiceNow has been disconnected")
	p.shot("emails")
	p.follow(`#view a[href$="/console/manage/apps/integrations"]`, "/console/manage/apps/integrations")
	p.see("#reconnect-title", "Reconnect integrations")
	p.see(`#reconnect-list p[data-vendor="servicenow"]`, "disconnected: expired on")
	p.shot("reconnect-page")
	p.fill("#sbuser", "carol") // the connected vendor user approves again
	p.click(`#reconnect-list button[data-act="reconnect"][data-vendor="servicenow"]`)
	p.see("#result", "ServiceNow reconnected as Carol")
	p.see("#reconnect-list", "Nothing to reconnect")
	p.see("#notices", "No notices.")
	p.shot("reconnected")

	// Bob's own connection expired too: his email links to his page.
	p.follow(`#pagenav a[href="/console"]`, "/console")
	p.click("#outbox")
	p.see("#result", "sent so far")
	p.follow(`#view a[href$="/console/profile/external-apps"]`, "/console/profile/external-apps")
	p.see("#reconnect-title", "Reconnect your external apps")
	p.become("u2", "bob@acme.example", "Bob Builder", "member", "not an app manager")
	p.see("#notices", "ServiceNow has unexpectedly been disconnected")
	p.fill("#sbuser", "bob")
	p.click(`#reconnect-list button[data-act="reconnect-mine"][data-vendor="servicenow"]`)
	p.see("#result", "Your ServiceNow reconnected as Bob")
	p.see("#reconnect-list", "Nothing to reconnect: all your connections are working.")
	p.see("#notices", "No notices.")
	p.shot("user-reconnected")
	p.become("u1", "ada@acme.example", "Ada Admin", "appManager", "an app manager")

	// Disconnect: Cancel keeps it; then the cascade dialog (Bob's own
	// connection) — Cancel keeps everything; confirming disconnects.
	p.follow(`#pagenav a[href="/console"]`, "/console")
	p.see(`#list tr[data-vendor="servicenow"]`, "connected until")
	p.click(`button[data-act="disconnect"][data-vendor="servicenow"]`)
	p.see("#dialog", "Disconnect ServiceNow for the whole account?")
	p.click("#dialog-cancel")
	p.see("#result", "Cancelled: nothing was disconnected")
	p.see(`#list tr[data-vendor="servicenow"]`, "connected until")
	p.click(`button[data-act="disconnect"][data-vendor="servicenow"]`)
	p.click("#dialog-ok")
	p.see("#dialog", "Users are still connected to ServiceNow")
	p.shot("disconnect-cascade-dialog")
	p.act("#dialog-cancel", "409 has_user_connections")
	p.see("#result", "Cancelled: nothing was disconnected")
	p.see(`#list tr[data-vendor="servicenow"]`, "connected until")
	p.click(`button[data-act="disconnect"][data-vendor="servicenow"]`)
	p.click("#dialog-ok")
	p.see("#dialog", "Users are still connected to ServiceNow")
	p.act("#dialog-ok", "ServiceNow is disconnected.")
	p.see(`#list tr[data-vendor="servicenow"]`, "not connected")
	p.shot("disconnected")

	// What happened, with human dates.
	p.click("#events")
	p.see("#result", "published so far")
	p.see("#view", "Connection Disconnected")
	p.click("#audit")
	p.see("#result", "audit entries")
	p.see("#view", "disconnected")
	p.see("#view", "UTC (")
	p.shot("audit")
	if n := p.count("#view td"); n == 0 {
		t.Fatal("the audit timeline is empty")
	}
	if ts := machineTime.FindString(p.text()); ts != "" {
		t.Fatalf("the page shows a machine timestamp %q:\n%s", ts, p.text())
	}
	p.act("#clock-real", "Back to real time")
	p.see("#clock-now", "(real time)")
	p.onlyShots()
}

// onlyShots makes docs/console/ hold the screenshots of these steps and
// nothing else: an update removes the others, a normal run reports them.
func (p *page) onlyShots() {
	p.t.Helper()
	files, err := filepath.Glob(filepath.Join(screenshotDir, "*.png"))
	if err != nil {
		p.t.Fatal(err)
	}
	for _, f := range files {
		if slices.Contains(p.shots, filepath.Base(f)) {
			continue
		}
		if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
			if err := os.Remove(f); err != nil {
				p.t.Fatal(err)
			}
			continue
		}
		p.t.Errorf("%s is no step's screenshot: run UPDATE_SCREENSHOTS=1 go test -run TestConsoleInABrowser ./infra/console/", f)
	}
}
