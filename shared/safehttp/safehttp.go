// Package safehttp is the HTTP client for calls to vendors. Vendor URLs are
// built from account settings, so besides the host allow-list of settings
// it refuses
//
//   - any request that is not https, and
//   - at connection time, after name resolution (so DNS tricks cannot slip
//     past it), any address that is not an ordinary public one: every block
//     of the IANA IPv4 and IPv6 Special-Purpose Address Registries
//     (https://www.iana.org/assignments/iana-ipv4-special-registry/,
//     https://www.iana.org/assignments/iana-ipv6-special-registry/) —
//     private, loopback, link-local (the instance metadata service),
//     shared, benchmarking, documentation, reserved — multicast, and every
//     IPv6 address outside global unicast (2000::/3: unique-local,
//     site-local, discard, ...). Addresses that embed an IPv4 address are
//     judged by it (IPv4-mapped, ::ffff:0:0/96) or refused (NAT64
//     64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16, Teredo 2001::/32),
//     so 64:ff9b::a9fe:a9fe cannot reach 169.254.169.254 through a NAT64
//     gateway.
//
// The prefix lists are code.dny.dev/ssrf's, generated from the two
// registries; the table-driven test holds a row for every registry entry.
//
// Only hosts the deployment explicitly marked private (PRIVATE_VENDOR_HOSTS:
// the local sandbox, test servers) are exempt: they may be reached at any
// address and over plain http. Configured hosts are not otherwise trusted:
// an extra instance host (ALLOWED_INSTANCE_HOSTS) or a base URL override
// (VENDOR_BASE_URLS) is held to https and public addresses like any vendor.
// No request follows a redirect.
package safehttp

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// guardian refuses the special-purpose prefixes. Ports are the URLs' own
// business (instance URLs have none; configured hosts may name one).
var guardian = ssrf.New(ssrf.WithAnyPort())

// Public reports whether the vendor client may connect to addr: an ordinary
// public unicast address, or an IPv4-mapped IPv6 address of one.
func Public(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	return guardian.SafeAddr(addr.Unmap()) == nil
}

// Client returns a client with the given timeout for vendor calls: https
// and public addresses only, except for hosts matched by private (see
// MatchHost), and no redirects.
func Client(timeout time.Duration, private []string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	guarded := &net.Dialer{Timeout: d.Timeout, KeepAlive: d.KeepAlive, Control: refuseNonPublic}
	return &http.Client{
		Timeout: timeout,
		Transport: &router{
			public:       transport(guarded.DialContext),
			private:      transport(d.DialContext),
			privateHosts: append([]string(nil), private...),
		},
		// Vendors answer token and identity calls directly; a redirect
		// could lead the request (and its credentials) elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func transport(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		Proxy:             nil, // a proxy would dial on our behalf, past the guard
		DialContext:       dial,
		ForceAttemptHTTP2: true,
		MaxIdleConns:      100,
		// The scan checks many connections at once (SCAN_CONCURRENCY), many
		// against one vendor host: keep their connections for reuse rather
		// than Go's default of 2 idle per host, which would close and
		// reopen (with a TLS handshake) nearly every one over HTTP/1.1.
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// router sends requests to hosts marked private through an unguarded
// transport, and every other request, https only, through the guarded one.
// Redirects are never followed, so the URL's host is the host dialled.
type router struct {
	public, private *http.Transport
	privateHosts    []string
}

func (r *router) RoundTrip(req *http.Request) (*http.Response, error) {
	if MatchHost(r.privateHosts, req.URL.Host) {
		return r.private.RoundTrip(req)
	}
	if req.URL.Scheme != "https" {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("safehttp: refusing %s to %s: vendors are called over https only", req.URL.Scheme, req.URL.Host)
	}
	return r.public.RoundTrip(req)
}

// CloseIdleConnections closes both transports' idle connections.
func (r *router) CloseIdleConnections() {
	r.public.CloseIdleConnections()
	r.private.CloseIdleConnections()
}

// refuseNonPublic runs after name resolution, on the address about to be
// dialled.
func refuseNonPublic(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || network != "tcp4" && network != "tcp6" || !Public(ap.Addr()) {
		return fmt.Errorf("safehttp: refusing to connect to non-public address %s (%s)", address, network)
	}
	return nil
}

// MatchHost reports whether host, a URL's host and port as written in it
// (url.URL.Host: "sandbox.test", "127.0.0.1:3000", "[::1]:3000"), matches
// one of patterns, each compared case-insensitively with the whole of it:
// the same host[:port], or a path.Match pattern such as "*.corp.example".
// So "127.0.0.1:3000" matches that port only, and "sandbox.test" only URLs
// that name no port.
func MatchHost(patterns []string, host string) bool {
	host = strings.ToLower(host)
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if p == host {
			return true
		}
		if ok, _ := path.Match(p, host); ok {
			return true
		}
	}
	return false
}
