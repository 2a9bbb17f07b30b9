package memvault

import "encoding/base64"

// Dump is a canonical copy of everything the vault holds, for tests that
// assert a request changed nothing: for each secret, "<name>" → its state
// ("current <version>", with " deleted" when scheduled for deletion), and
// "<name>@<version>" → that version's value (base64). Two vaults holding
// the same secrets give equal dumps.
func (v *Vault) Dump() map[string]string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]string{}
	for name, s := range v.secrets {
		state := "current " + s.current
		if s.deleted {
			state += " deleted"
		}
		out[name] = state
		for id, b := range s.versions {
			out[name+"@"+id] = base64.StdEncoding.EncodeToString(b)
		}
	}
	return out
}
