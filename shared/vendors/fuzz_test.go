package vendors_test

import (
	"net"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/workplace/connections/shared/vendors"
)

// oneLabel is what may stand before the vendor's suffix in an accepted
// instance host: exactly one DNS label.
var oneLabel = regexp.MustCompile(`^[a-z0-9-]+$`)

// FuzzCheckInstance: the instance URL is where codes and refresh tokens
// are posted, so whatever a caller types, an accepted URL is exactly
// https://<one label>.service-now.com — no IP literal, port, user info,
// path, query or fragment — names the host the caller typed, and is
// accepted again unchanged. With extra hosts configured, an accepted URL
// still carries nothing but a scheme and a host, and is stable.
func FuzzCheckInstance(f *testing.F) {
	sn, ok := vendors.Lookup("servicenow")
	if !ok {
		f.Fatal("no servicenow in the registry")
	}
	extra := []string{"*.custom.example", "sn.example.org"}
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := sn.CheckInstance(raw, nil, nil)
		if err == nil {
			label, ok := strings.CutPrefix(out, "https://")
			if ok {
				label, ok = strings.CutSuffix(label, ".service-now.com")
			}
			if !ok || !oneLabel.MatchString(label) {
				t.Fatalf("CheckInstance(%q) = %q: not https://<one label>.service-now.com", raw, out)
			}
			u, perr := url.Parse(out)
			if perr != nil || u.User != nil || u.Port() != "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || net.ParseIP(u.Hostname()) != nil {
				t.Fatalf("CheckInstance(%q) = %q: parses as %+v (%v)", raw, out, u, perr)
			}
			// The host the caller typed, not one a parser differential
			// conjured up.
			in, perr := url.Parse(strings.TrimSpace(raw))
			if perr != nil || strings.ToLower(in.Hostname()) != u.Host {
				t.Fatalf("CheckInstance(%q) = %q, but the input's host is %v (%v)", raw, out, in, perr)
			}
			if again, err := sn.CheckInstance(out, nil, nil); err != nil || again != out {
				t.Fatalf("CheckInstance(%q) = %q, %v; want it unchanged", out, again, err)
			}
		}
		// Extra hosts only widen what is accepted.
		outX, errX := sn.CheckInstance(raw, extra, nil)
		if err == nil && (errX != nil || outX != out) {
			t.Fatalf("with extra hosts CheckInstance(%q) = %q, %v; without, %q", raw, outX, errX, out)
		}
		if errX == nil {
			u, perr := url.Parse(outX)
			if perr != nil || u.Scheme != "https" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || outX != u.Scheme+"://"+u.Host {
				t.Fatalf("with extra hosts CheckInstance(%q) = %q: more than a scheme and a host", raw, outX)
			}
			if again, err := sn.CheckInstance(outX, extra, nil); err != nil || again != outX {
				t.Fatalf("with extra hosts CheckInstance(%q) = %q, %v; want it unchanged", outX, again, err)
			}
		}
	})
}
