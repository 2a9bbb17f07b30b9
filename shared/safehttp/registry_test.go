package safehttp_test

import (
	"net/netip"
	"testing"

	"github.com/workplace/connections/shared/safehttp"
)

// entry is one row of an IANA Special-Purpose Address Registry, with
// addresses inside it (refused) and a public neighbour (allowed).
type entry struct {
	block  string // the registry's Address Block
	name   string
	global string // the registry's "Globally Reachable": True, False or N/A
	inside []string
	// neighbour is an ordinary public address next to the block (or, for
	// a block outside IPv6 global unicast, a public address of the same
	// family): the guard is not simply refusing everything around it.
	neighbour string
}

// ipv4Registry is the IANA IPv4 Special-Purpose Address Registry,
// https://www.iana.org/assignments/iana-ipv4-special-registry/ (every
// row), plus multicast (its own registry, never a vendor).
var ipv4Registry = []entry{
	{"0.0.0.0/8", "This network", "False", []string{"0.1.2.3", "0.255.255.255"}, "1.0.0.1"},
	{"0.0.0.0/32", "This host on this network", "False", []string{"0.0.0.0"}, "1.1.1.1"},
	{"10.0.0.0/8", "Private-Use", "False", []string{"10.0.0.1", "10.255.255.254"}, "11.0.0.1"},
	{"100.64.0.0/10", "Shared Address Space", "False", []string{"100.64.0.1", "100.127.255.254"}, "100.128.0.1"},
	{"127.0.0.0/8", "Loopback", "False", []string{"127.0.0.1", "127.255.255.254"}, "128.0.0.1"},
	{"169.254.0.0/16", "Link Local", "False", []string{"169.254.169.254", "169.254.0.1"}, "169.255.0.1"},
	{"172.16.0.0/12", "Private-Use", "False", []string{"172.16.0.1", "172.31.255.254"}, "172.32.0.1"},
	{"192.0.0.0/24", "IETF Protocol Assignments", "False", []string{"192.0.0.1", "192.0.0.254"}, "192.0.1.1"},
	{"192.0.0.0/29", "IPv4 Service Continuity Prefix", "False", []string{"192.0.0.7"}, "192.0.1.1"},
	{"192.0.0.8/32", "IPv4 dummy address", "False", []string{"192.0.0.8"}, "192.0.1.1"},
	// Anycast service addresses the registry marks globally reachable:
	// refused all the same, as no vendor endpoint lives there.
	{"192.0.0.9/32", "Port Control Protocol Anycast", "True", []string{"192.0.0.9"}, "192.0.1.1"},
	{"192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "True", []string{"192.0.0.10"}, "192.0.1.1"},
	{"192.0.0.170/32", "NAT64/DNS64 Discovery", "False", []string{"192.0.0.170"}, "192.0.1.1"},
	{"192.0.0.171/32", "NAT64/DNS64 Discovery", "False", []string{"192.0.0.171"}, "192.0.1.1"},
	{"192.0.2.0/24", "Documentation (TEST-NET-1)", "False", []string{"192.0.2.1"}, "192.0.3.1"},
	{"192.31.196.0/24", "AS112-v4", "True", []string{"192.31.196.1"}, "192.31.197.1"},
	{"192.52.193.0/24", "AMT", "True", []string{"192.52.193.1"}, "192.52.194.1"},
	{"192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "N/A", []string{"192.88.99.1"}, "192.88.100.1"},
	{"192.168.0.0/16", "Private-Use", "False", []string{"192.168.0.1", "192.168.255.254"}, "192.169.0.1"},
	{"192.175.48.0/24", "Direct Delegation AS112 Service", "True", []string{"192.175.48.1"}, "192.175.49.1"},
	{"198.18.0.0/15", "Benchmarking", "False", []string{"198.18.0.1", "198.19.255.254"}, "198.20.0.1"},
	{"198.51.100.0/24", "Documentation (TEST-NET-2)", "False", []string{"198.51.100.1"}, "198.51.101.1"},
	{"203.0.113.0/24", "Documentation (TEST-NET-3)", "False", []string{"203.0.113.1"}, "203.0.114.1"},
	{"240.0.0.0/4", "Reserved", "False", []string{"240.0.0.1", "255.255.255.254"}, "223.5.5.5"},
	{"255.255.255.255/32", "Limited Broadcast", "False", []string{"255.255.255.255"}, "223.5.5.5"},
	{"224.0.0.0/4", "Multicast (not a special-purpose entry)", "False", []string{"224.0.0.1", "239.255.255.250"}, "223.5.5.5"},
}

// ipv6Registry is the IANA IPv6 Special-Purpose Address Registry,
// https://www.iana.org/assignments/iana-ipv6-special-registry/ (every
// row), plus the deprecated site-local block and multicast.
var ipv6Registry = []entry{
	{"::1/128", "Loopback Address", "False", []string{"::1"}, "2001:4860:4860::8888"},
	{"::/128", "Unspecified Address", "False", []string{"::"}, "2001:4860:4860::8888"},
	// IPv4-mapped addresses are judged by the IPv4 address they carry
	// (TestPublicOddAddresses: ::ffff:8.8.8.8 is allowed as 8.8.8.8 is).
	{"::ffff:0:0/96", "IPv4-mapped Address", "False", []string{"::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::ffff:198.18.0.1"}, "2001:4860:4860::8888"},
	// NAT64 reaches any IPv4 address, the metadata service among them
	// (64:ff9b::a9fe:a9fe is 169.254.169.254): refused whatever it carries.
	{"64:ff9b::/96", "IPv4-IPv6 Translat.", "True", []string{"64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "64:ff9b::808:808"}, "2001:4860:4860::8888"},
	{"64:ff9b:1::/48", "IPv4-IPv6 Translat.", "False", []string{"64:ff9b:1::a9fe:a9fe"}, "2001:4860:4860::8888"},
	{"100::/64", "Discard-Only Address Block", "False", []string{"100::1"}, "2001:4860:4860::8888"},
	{"100:0:0:1::/64", "Dummy IPv6 Prefix", "False", []string{"100:0:0:1::1"}, "2001:4860:4860::8888"},
	{"2001::/23", "IETF Protocol Assignments", "False", []string{"2001::1", "2001:1ff:ffff::1"}, "2001:200::1"},
	// Teredo carries an (obfuscated) IPv4 address: refused.
	{"2001::/32", "TEREDO", "N/A", []string{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:a9fe:a9fe::1"}, "2001:200::1"},
	{"2001:1::1/128", "Port Control Protocol Anycast", "True", []string{"2001:1::1"}, "2001:200::1"},
	{"2001:1::2/128", "Traversal Using Relays around NAT Anycast", "True", []string{"2001:1::2"}, "2001:200::1"},
	{"2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", "True", []string{"2001:1::3"}, "2001:200::1"},
	{"2001:2::/48", "Benchmarking", "False", []string{"2001:2::1"}, "2001:200::1"},
	{"2001:3::/32", "AMT", "True", []string{"2001:3::1"}, "2001:200::1"},
	{"2001:4:112::/48", "AS112-v6", "True", []string{"2001:4:112::1"}, "2001:200::1"},
	{"2001:10::/28", "Deprecated (previously ORCHID)", "N/A", []string{"2001:10::1"}, "2001:200::1"},
	{"2001:20::/28", "ORCHIDv2", "True", []string{"2001:20::1"}, "2001:200::1"},
	{"2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "True", []string{"2001:30::1"}, "2001:200::1"},
	{"2001:db8::/32", "Documentation", "False", []string{"2001:db8::1", "2001:db8:ffff::1"}, "2001:db9::1"},
	// 6to4 carries an IPv4 address in its prefix (2002:a9fe:a9fe:: is
	// 169.254.169.254's): refused whatever it carries.
	{"2002::/16", "6to4", "N/A", []string{"2002:a9fe:a9fe::1", "2002:808:808::1"}, "2003::1"},
	{"2620:4f:8000::/48", "Direct Delegation AS112 Service", "True", []string{"2620:4f:8000::1"}, "2620:4f:8001::1"},
	{"3fff::/20", "Documentation", "False", []string{"3fff::1", "3fff:fff::1"}, "3fff:1000::1"},
	{"5f00::/16", "Segment Routing (SRv6) SIDs", "False", []string{"5f00::1"}, "2001:4860:4860::8888"},
	{"fc00::/7", "Unique-Local", "False", []string{"fc00::1", "fd12:3456::1"}, "2606:4700:4700::1111"},
	{"fe80::/10", "Link-Local Unicast", "False", []string{"fe80::1", "febf::1"}, "2606:4700:4700::1111"},
	{"fec0::/10", "Site-Local (deprecated, RFC 3879; not an entry)", "False", []string{"fec0::1"}, "2606:4700:4700::1111"},
	{"ff00::/8", "Multicast (not a special-purpose entry)", "False", []string{"ff02::1", "ff0e::1"}, "2606:4700:4700::1111"},
}

// TestEveryRegistryEntry: an address in every block of both registries is
// refused, and a public neighbour of each is allowed. The audit's
// findings (198.18.0.0/15, 240.0.0.0/4, 192.0.0.0/24, 64:ff9b::/96,
// 2002::/16, fec0::/10) are rows here.
func TestEveryRegistryEntry(t *testing.T) {
	for _, reg := range [][]entry{ipv4Registry, ipv6Registry} {
		for _, e := range reg {
			t.Run(e.block+" "+e.name, func(t *testing.T) {
				p := netip.MustParsePrefix(e.block)
				for _, s := range e.inside {
					a := netip.MustParseAddr(s)
					if !p.Contains(a) {
						t.Fatalf("test data: %s is not in %s", s, p)
					}
					if safehttp.Public(a) {
						t.Errorf("%s (in %s, %s, globally reachable %s) is allowed", s, e.block, e.name, e.global)
					}
				}
				n := netip.MustParseAddr(e.neighbour)
				if p.Contains(n) {
					t.Fatalf("test data: neighbour %s is in %s", n, p)
				}
				if !safehttp.Public(n) {
					t.Errorf("public neighbour %s of %s is refused", n, e.block)
				}
			})
		}
	}
}

func TestPublicOddAddresses(t *testing.T) {
	for _, tc := range []struct {
		addr netip.Addr
		want bool
	}{
		{netip.Addr{}, false}, // not an address at all
		{netip.MustParseAddr("fe80::1%eth0"), false},
		{netip.MustParseAddr("2606:4700::1111%eth0"), false}, // a zone means a local link
		{netip.MustParseAddr("::a9fe:a9fe"), false},          // IPv4-compatible (deprecated ::/96)
		{netip.MustParseAddr("::ffff:8.8.8.8"), true},        // IPv4-mapped: judged as 8.8.8.8
		{netip.MustParseAddr("8.8.8.8"), true},
		{netip.MustParseAddr("149.96.10.1"), true},
		{netip.MustParseAddr("2606:4700::1111"), true},
	} {
		if got := safehttp.Public(tc.addr); got != tc.want {
			t.Errorf("Public(%v) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}
