// Package tokenhome moves a connection's tokens to the store
// USER_TOKEN_STORE names, when they sit in the other one (the deployment
// changed its mode since they were written): Secrets Manager → sealed in
// the table, or back. The scan does it for every connection it visits
// (expiry.Scanner.Tokens).
//
// The order keeps every step safe to stop at: read the tokens from the old
// store, write them as a new version in the new one, save the connection
// pointing at the new version (optimistic lock: a connection changed
// meanwhile is left as it is, its tokens where they were), and only then
// schedule the old copy for deletion, with the recovery window. A failure
// before the save leaves the connection reading its old tokens (the new
// copy is an unused version); after it, at worst an old copy lingers until
// its recovery window ends — no token is lost and the connection always
// reads.
//
// Tokens rewritten after the switch by the broker, the live check or a
// reconnect go home at once, leaving the old copy: in sealed mode the scan
// deletes the Secrets Manager copy of every connection it visits
// (Settle: one DeleteSecret, "not found" once it is gone, about $0.000005),
// since a leftover secret costs $0.40 a month; a leftover sealed item in
// secrets mode costs nothing worth a call and stays until the disconnect.
//
// The same holds for an account's OAuth client secret (sealed with the
// tokens in sealed mode): the settings point at a version of it, so a
// visit of the account's app-level connection of a vendor whose OAuth
// client is the account's moves it (MoveClientSecret) in the same order —
// copy home, save the settings pointing at the copy (optimistic lock: a
// settings write meanwhile wins, and itself wrote home), then delete the
// old copy. A settings write stores the new secret home and deletes the
// other store's copy once the settings point at it.
//
// A connection the scan does not visit soon (an expired one is never
// due; a grant may be due only at its warning, months away) and settings
// of a vendor the account has no connection to are moved by the sweep
// (Sweeper), a resumable pass over every connection and settings item of
// the table that the scan carries out a few pages at a time after its
// due work, in the same order under the same locks, until the whole table
// was swept in the current mode.
package tokenhome

import (
	"context"
	"errors"

	"github.com/workplace/connections/shared/connection"
	"github.com/workplace/connections/shared/logctx"
	"github.com/workplace/connections/shared/store"
	"github.com/workplace/connections/shared/vault"
	"github.com/workplace/connections/shared/vendors"
)

// Mover moves tokens home. Its zero value, or one over a Vault that is not
// a vault.Mover, moves nothing.
type Mover struct {
	Store store.Store
	Vault vault.Vault
}

// Move moves c's tokens home if they are elsewhere and returns the
// connection as stored (c itself when nothing moved). It logs, and does
// not return, a failure: the connection's other work goes on with its
// tokens where they were.
func (m Mover) Move(ctx context.Context, c connection.Connection) connection.Connection {
	mv, ok := m.Vault.(vault.Mover)
	if !ok || m.Store == nil {
		return c
	}
	m.MoveClientSecret(ctx, mv, c)
	next, _ := m.moveTokens(ctx, mv, c)
	return next
}

// moveTokens moves c's tokens home if they are elsewhere and returns the
// connection as stored, and whether they are home now with no old copy
// known to be left (a failed Forget leaves one).
func (m Mover) moveTokens(ctx context.Context, mv vault.Mover, c connection.Connection) (connection.Connection, bool) {
	if !mv.Misplaced(c.SecretName, c.SecretVersion) {
		return c, true
	}
	log := logctx.From(ctx, nil)
	version, err := mv.Move(ctx, c.SecretName, c.SecretVersion)
	if err != nil {
		log.WarnContext(ctx, "tokens not moved to their store; tried again on the next visit", "secret", c.SecretName, "error", err.Error())
		return c, false
	}
	next := c
	next.SecretVersion = version
	if err := m.Store.Apply(ctx, store.UpdateConnection{Conn: next}); err != nil {
		log.WarnContext(ctx, "moved tokens not saved on the connection; it still reads the old copy, tried again on the next visit",
			"secret", c.SecretName, "error", err.Error())
		return c, false
	}
	next.Version++
	log.InfoContext(ctx, "tokens moved to their store", "secret", c.SecretName, "from", c.SecretVersion, "to", version)
	if err := mv.Forget(ctx, c.SecretName); err != nil {
		log.WarnContext(ctx, "the old copy of moved tokens not scheduled for deletion", "secret", c.SecretName, "error", err.Error())
		return next, false
	}
	return next, true
}

// Settle finishes a move someone else made: when c was saved pointing at a
// version in its home store while its tokens were, before, at version
// stored elsewhere (Move failed, then a refresh wrote the rotated tokens
// home), or, in sealed mode, whenever a connection's tokens are
// home (the broker, the live check or a reconnect may have rewritten them
// home after the switch, leaving the old secret, which costs money every
// month), the old copy is scheduled for deletion. Call it after c is
// saved, under its lease: nothing points at the old copy any more.
func (m Mover) Settle(ctx context.Context, c connection.Connection, stored string) {
	mv, ok := m.Vault.(vault.Mover)
	if !ok || mv.Misplaced(c.SecretName, c.SecretVersion) {
		return
	}
	moved := mv.Misplaced(c.SecretName, stored) && c.SecretVersion != stored
	if !moved && !mv.Lingering(c.SecretName, c.SecretVersion) {
		return
	}
	if err := mv.Forget(ctx, c.SecretName); err != nil {
		logctx.From(ctx, nil).WarnContext(ctx, "the old copy of moved tokens not scheduled for deletion", "secret", c.SecretName, "error", err.Error())
	}
}

// MoveClientSecret moves the account's OAuth client secret of c's vendor
// home when c is the app-level connection of a vendor whose OAuth client
// is the account's and the settings point at a version stored elsewhere:
// one settings read per such visit. In sealed mode, with the secret home,
// it deletes a Secrets Manager copy left behind (one DeleteSecret). Like
// Move, it logs a failure and leaves the secret where it was.
func (m Mover) MoveClientSecret(ctx context.Context, mv vault.Mover, c connection.Connection) {
	if v, ok := vendors.Lookup(c.Vendor); !ok || c.Level != connection.LevelApp || v.Credentials != vendors.PerAccount {
		return
	}
	log := logctx.From(ctx, nil)
	set, err := store.SettingsOf(ctx, m.Store, c.Account, c.Vendor)
	if err != nil {
		log.WarnContext(ctx, "settings not read to move the client secret; tried again on the next visit", "error", err.Error())
		return
	}
	if set != nil {
		m.moveSettings(ctx, mv, *set, true)
	}
}

// moveSettings moves the client secret set points at home, if it is
// elsewhere; with forget, a sealed-mode copy left in Secrets Manager by a
// secret home already is deleted too. It reports whether the secret moved
// and whether it is home now (or set has none) with no old copy known to
// be left.
func (m Mover) moveSettings(ctx context.Context, mv vault.Mover, set connection.Settings, forget bool) (moved, home bool) {
	log := logctx.From(ctx, nil)
	// Settings written before the version was kept ("") read the current
	// version, home first: one in the other store moves (and the settings
	// then keep the version); while it is home already, each visit costs
	// one read of the other store, until the next settings write.
	if set.ClientSecretName == "" {
		return false, true
	}
	if set.ClientSecretVersion != "" && !mv.Misplaced(set.ClientSecretName, set.ClientSecretVersion) {
		if forget && mv.Lingering(set.ClientSecretName, set.ClientSecretVersion) {
			// Sealed and home: a Secrets Manager copy a settings write or a
			// move failed to delete would cost money every month.
			if err := mv.Forget(ctx, set.ClientSecretName); err != nil {
				log.WarnContext(ctx, "the old copy of a client secret not scheduled for deletion", "secret", set.ClientSecretName, "error", err.Error())
				return false, false
			}
		}
		return false, true
	}
	version, err := mv.Move(ctx, set.ClientSecretName, set.ClientSecretVersion)
	if set.ClientSecretVersion == "" && errors.Is(err, vault.ErrNotFound) {
		return false, true // home already
	}
	if err != nil {
		log.WarnContext(ctx, "client secret not moved to its store; tried again on the next visit", "secret", set.ClientSecretName, "error", err.Error())
		return false, false
	}
	next := set
	next.ClientSecretVersion = version
	if err := m.Store.Apply(ctx, store.PutSettings{Settings: next}); err != nil {
		log.WarnContext(ctx, "moved client secret not saved on the settings; they still read the old copy, tried again on the next visit",
			"secret", set.ClientSecretName, "error", err.Error())
		return false, false
	}
	log.InfoContext(ctx, "client secret moved to its store", "secret", set.ClientSecretName, "from", set.ClientSecretVersion, "to", version)
	if err := mv.Forget(ctx, set.ClientSecretName); err != nil {
		log.WarnContext(ctx, "the old copy of a moved client secret not scheduled for deletion", "secret", set.ClientSecretName, "error", err.Error())
		return true, false
	}
	return true, true
}
