package provider

import (
	"strings"

	"golang.org/x/oauth2"

	"github.com/workplace/connections/shared/vendors"
)

// Why a fresh grant is refused although the code exchange worked.
const (
	// ReasonNoRefreshToken: the token response carries no refresh token (a
	// strict server drops offline_access unless consent was prompted).
	ReasonNoRefreshToken = "no_refresh_token"
	// ReasonScopeNotGranted: the token response's scope leaves out one of
	// the vendor's required scopes.
	ReasonScopeNotGranted = "scope_not_granted"
)

// Deficient tells what a token response from a code exchange lacks that
// every grant of v must have: a refresh token, and each of v's required
// scopes. It answers "" when nothing is missing, else one of the Reason
// constants and, for ReasonScopeNotGranted, the scopes not granted.
//
// The scope field is read as RFC 6749 §5.1 defines it: absent means the
// requested scope was granted; present (even empty) it is the granted
// scopes, space-separated. A scope field that is not a string grants
// nothing that can be read, so it grants no required scope. (A
// form-encoded answer, which RFC 6749 does not allow, cannot tell an
// absent field from an empty one: x/oauth2 reads both as "", granting
// nothing.)
func Deficient(v vendors.Vendor, tok *oauth2.Token) (reason string, missing []string) {
	if tok.RefreshToken == "" {
		return ReasonNoRefreshToken, nil
	}
	raw := tok.Extra("scope")
	if raw == nil {
		return "", nil
	}
	granted, _ := raw.(string)
	if missing = v.MissingScopes(granted); len(missing) > 0 {
		return ReasonScopeNotGranted, missing
	}
	return "", nil
}

// GrantedScope is the scope a code exchange's token response granted, as
// the connection records it (connection.GrantedScope): its scope field,
// normalised to single spaces, or, when the field is absent, the scopes
// requested (RFC 6749 §5.1: absent means as requested).
func GrantedScope(v vendors.Vendor, tok *oauth2.Token) string {
	raw := tok.Extra("scope")
	if raw == nil {
		return strings.Join(v.Scopes, " ")
	}
	granted, _ := raw.(string)
	return strings.Join(strings.Fields(granted), " ")
}
