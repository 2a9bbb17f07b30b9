// Package safehttp is the HTTP client for calls to vendors. Vendor URLs are
// built from account settings, so besides the host allow-list of settings it
// refuses, at connection time, any address that is not public: loopback,
// private, link-local (the instance metadata service among them),
// unspecified, multicast. Hosts the deployment itself configured (the local
// sandbox, extra instance hosts) are trusted.
package safehttp

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path"
	"strings"
	"syscall"
	"time"
)

// Client returns a client with the given timeout that refuses non-public
// addresses except for trusted hosts (exact names or "*.example.com"
// patterns, with or without a port).
func Client(timeout time.Duration, trusted []string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	guarded := &net.Dialer{Timeout: d.Timeout, KeepAlive: d.KeepAlive, Control: refuseNonPublic}
	t := &http.Transport{
		Proxy: nil, // a proxy would dial on our behalf, past the guard
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if isTrusted(addr, trusted) {
				return d.DialContext(ctx, network, addr)
			}
			return guarded.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: t,
		// Vendors answer token and identity calls directly; a redirect
		// could lead the request (and its credentials) elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// refuseNonPublic runs after name resolution, on the address about to be
// dialled, so DNS tricks cannot slip past it.
func refuseNonPublic(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || !Public(ip) {
		return fmt.Errorf("safehttp: refusing to connect to non-public address %s", host)
	}
	return nil
}

// Public reports whether ip is a public unicast address.
func Public(ip net.IP) bool {
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() ||
		isSharedOrReserved(ip))
}

// isSharedOrReserved covers ranges net.IP has no predicate for: carrier-grade
// NAT (100.64.0.0/10) and "this network" (0.0.0.0/8).
func isSharedOrReserved(ip net.IP) bool {
	v4 := ip.To4()
	if v4 == nil {
		return false
	}
	return v4[0] == 0 || v4[0] == 100 && v4[1]&0xc0 == 64
}

func isTrusted(addr string, trusted []string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	host = strings.ToLower(host)
	for _, t := range trusted {
		t = strings.ToLower(t)
		if th, _, err := net.SplitHostPort(t); err == nil {
			t = th
		}
		if ok, _ := path.Match(t, host); ok || t == host {
			return true
		}
	}
	return false
}

// HostsOf returns the hosts of URLs (for trusting configured base URLs).
func HostsOf(urls ...string) []string {
	var out []string
	for _, u := range urls {
		rest, ok := strings.CutPrefix(u, "http://")
		if !ok {
			rest, ok = strings.CutPrefix(u, "https://")
		}
		if !ok {
			continue
		}
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			rest = rest[:i]
		}
		if rest != "" {
			out = append(out, rest)
		}
	}
	return out
}
