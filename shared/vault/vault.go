// Package vault keeps secrets: the tokens of each connection and the OAuth
// client secrets of each account. Secrets Manager in production
// (secretsvault), memory locally (memvault); with USER_TOKEN_STORE=sealed
// every account's secrets (tokens of both levels, client secrets) sealed
// under KMS data keys (vault/sealed) in the table (dynamovault; memvault
// locally), a Router choosing the store by name; only the deployment's own
// app credentials stay in Secrets Manager. Each passes vaulttest.
package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotFound: no such secret, or no such version of it.
var ErrNotFound = errors.New("vault: not found")

// Vault stores versioned secret values under names.
type Vault interface {
	// Put writes value as a new current version of the secret name
	// (creating the secret, or restoring one scheduled for deletion) and
	// returns the version id. The previous versions stay readable.
	Put(ctx context.Context, name string, value []byte) (version string, err error)
	// Get reads a version of a secret ("" for the current one).
	Get(ctx context.Context, name, version string) ([]byte, error)
	// Delete schedules the secret for deletion after the recovery window
	// (days; Secrets Manager accepts 7 to 30). Deleting a missing secret is
	// not an error.
	Delete(ctx context.Context, name string, recoveryDays int) error
}

// Tokens is what a connection's secret holds.
type Tokens struct {
	AccessToken           string    `json:"access_token"`
	RefreshToken          string    `json:"refresh_token,omitempty"`
	TokenType             string    `json:"token_type,omitempty"`
	AccessTokenExpiresAt  time.Time `json:"access_token_expires_at,omitzero"`
	RefreshTokenExpiresAt time.Time `json:"refresh_token_expires_at,omitzero"`
	Scope                 string    `json:"scope,omitempty"`
	// RotatedFrom is the version these tokens were refreshed from, when a
	// refresh (not an authorization) wrote them.
	RotatedFrom string `json:"rotated_from,omitempty"`
}

// PutTokens stores tokens as a new version of name.
func PutTokens(ctx context.Context, v Vault, name string, t Tokens) (string, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return "", err
	}
	return v.Put(ctx, name, b)
}

// GetTokens reads the tokens of a version of name.
func GetTokens(ctx context.Context, v Vault, name, version string) (Tokens, error) {
	var t Tokens
	b, err := v.Get(ctx, name, version)
	if err != nil {
		return t, err
	}
	err = json.Unmarshal(b, &t)
	return t, err
}

// Secrets are of three kinds, each under its own name prefix so that IAM can
// give every function exactly the kinds it uses (template.yaml scopes each
// policy to "<prefix>/<kind>/*"): no name of one kind can start with the
// prefix of another, whatever the ids in it.
const (
	// TokensDir holds the connections' tokens: <prefix>/tokens/….
	TokensDir = "tokens"
	// ClientsDir holds the accounts' OAuth client secrets: <prefix>/clients/….
	ClientsDir = "clients"
	// DeploymentDir holds this deployment's own OAuth app credentials,
	// which an operator creates: <prefix>/deployment/….
	DeploymentDir = "deployment"
)

// ConnectionSecretName names the secret of a connection:
// <prefix>/tokens/<account>/<vendor>/app or
// <prefix>/tokens/<account>/<vendor>/user/<userId>.
// Ids are escaped so any claim value (auth0|123) makes a valid, unique name.
func ConnectionSecretName(prefix, account, vendor, level, userID string) string {
	n := prefix + "/" + TokensDir + "/" + NamePart(account) + "/" + NamePart(vendor) + "/" + level
	if level == "user" {
		n += "/" + NamePart(userID)
	}
	return n
}

// NamePart escapes an id for use as one segment of a secret name: letters,
// digits and "_+.@-" stay, every other byte becomes "%XX" written as "=XX"
// (Secrets Manager names allow no "%"), including "/" (it separates
// segments) and "=" itself, so the mapping is one to one.
func NamePart(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		if c := id[i]; nameByte(c) && c != '/' && c != '=' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	return b.String()
}

// ClientSecretName names the secret holding an account's OAuth client
// secret of a vendor: <prefix>/clients/<account>/<vendor>.
func ClientSecretName(prefix, account, vendor string) string {
	return prefix + "/" + ClientsDir + "/" + NamePart(account) + "/" + NamePart(vendor)
}

// DeploymentSecretName is the default name of the secret holding this
// deployment's OAuth app credentials of a vendor:
// <prefix>/deployment/<vendor>/client.
func DeploymentSecretName(prefix, vendor string) string {
	return prefix + "/" + DeploymentDir + "/" + NamePart(vendor) + "/client"
}

// Under reports whether name is a secret of the given kind (one of the
// *Dir constants) under prefix.
func Under(prefix, kind, name string) bool {
	return strings.HasPrefix(name, prefix+"/"+kind+"/")
}

// UserTokenName reports whether name is the secret of a user-level
// connection under prefix (<prefix>/tokens/<account>/<vendor>/user/<userId>,
// as ConnectionSecretName makes it).
func UserTokenName(prefix, name string) bool {
	parts, ok := segments(prefix, TokensDir, name)
	return ok && len(parts) == 4 && parts[2] == "user"
}

// TokenName reports whether name is the secret of a connection of either
// level under prefix, as ConnectionSecretName makes it.
func TokenName(prefix, name string) bool {
	parts, ok := segments(prefix, TokensDir, name)
	return ok && (len(parts) == 3 && parts[2] == "app" || len(parts) == 4 && parts[2] == "user")
}

// ClientName reports whether name is an account's client secret under
// prefix, as ClientSecretName makes it.
func ClientName(prefix, name string) bool {
	parts, ok := segments(prefix, ClientsDir, name)
	return ok && len(parts) == 2
}

// AccountSecretName reports whether name is a secret of an account: the
// tokens of a connection (either level) or a client secret. These are the
// names a Router seals in sealed mode; everything else (the deployment's
// own app credentials) stays in Secrets Manager.
func AccountSecretName(prefix, name string) bool {
	return TokenName(prefix, name) || ClientName(prefix, name)
}

// segments splits the rest of name after <prefix>/<kind>/; ok is false
// when name is not of that kind or has an empty segment.
func segments(prefix, kind, name string) ([]string, bool) {
	rest, ok := strings.CutPrefix(name, prefix+"/"+kind+"/")
	if !ok {
		return nil, false
	}
	parts := strings.Split(rest, "/")
	for _, p := range parts {
		if p == "" {
			return nil, false
		}
	}
	return parts, true
}

// SealedVersionPrefix starts every version id of a sealed value, so a
// version id alone says which store holds it (Secrets Manager's ids are
// bare UUIDs).
const SealedVersionPrefix = "sealed-"

// IsSealedVersion reports whether version is the id of a sealed value.
func IsSealedVersion(version string) bool { return strings.HasPrefix(version, SealedVersionPrefix) }

// MaxSealedValueSize bounds a sealed value: MaxValueSize of plaintext in
// its envelope (sealed data key, nonce, tag). A store of sealed values
// accepts values up to it.
const MaxSealedValueSize = MaxValueSize + 1024
