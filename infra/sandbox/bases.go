package sandbox

import (
	"slices"
	"strings"

	"github.com/workplace/connections/shared/vendors"
)

// BaseURLs are the vendor base URL overrides (VENDOR_BASE_URLS) that point
// every registry vendor the sandbox speaks at a sandbox served at root
// (e.g. http://127.0.0.1:3000): each of the vendor's bases at
// root/_sandbox/{id}, under which its dialect serves the real paths of all
// of them (auth.atlassian.com's and api.atlassian.com's alike), and, for a
// vendor with per-account instances, "instance" at root/_sandbox/{id}/{name}.
// A new vendor needs nothing here: its registry entry and its dialect are
// enough.
func BaseURLs(root string) map[string]string {
	sb := strings.TrimRight(root, "/") + strings.TrimSuffix(Prefix, "/")
	out := map[string]string{}
	for _, v := range vendors.Registry {
		if _, ok := dialects[v.ID]; !ok {
			continue
		}
		for name := range v.Bases {
			out[v.ID+"."+name] = sb + "/" + v.ID
		}
		if len(v.InstanceHosts) > 0 {
			out[v.ID+".instance"] = sb + "/" + v.ID + "/{name}"
		}
	}
	return out
}

// BaseURLsEnv is BaseURLs(root) as VENDOR_BASE_URLS spells it:
// vendor.base=url pairs, sorted, comma-separated.
func BaseURLsEnv(root string) string {
	m := BaseURLs(root)
	pairs := make([]string, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, k+"="+v)
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}
