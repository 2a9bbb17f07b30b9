// Package faults is the fault-injection suite: every step of the callback
// (connect, reconnect, changeUser), settings, disconnect (with and without
// cascade) and the expiry scan (keep-alive, expiry mark, notices) is made
// to fail — an error, a timeout, a throttle, an answer lost after the call
// was performed — at each call it makes to the store, the vault, the
// mailer, the event bus and the vendor, one call at a time. After each
// failure the suite checks what a user would rely on (the previous
// connection still works or the new one fully works, counters match the
// connections, no secret version is left unused without a log line saying
// so, every committed change is published as one event and no change that
// did not commit is) and that doing the same thing again ends in the right
// state.
//
// It has tests only; nothing imports it.
package faults
