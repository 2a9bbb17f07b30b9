package memvault_test

import (
	"maps"
	"testing"

	"github.com/workplace/connections/shared/vault/memvault"
)

// TestDump: the dump shows every version's value and which is current,
// and a deletion.
func TestDump(t *testing.T) {
	ctx := t.Context()
	v := memvault.New()
	if d := v.Dump(); len(d) != 0 {
		t.Fatalf("empty vault dumps %v", d)
	}
	v1, err := v.Put(ctx, "p/a1/servicenow/app", []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	before := v.Dump()
	if len(before) != 2 || before["p/a1/servicenow/app"] != "current "+v1 || before["p/a1/servicenow/app@"+v1] != "b25l" {
		t.Fatalf("dump %v", before)
	}
	v2, err := v.Put(ctx, "p/a1/servicenow/app", []byte("two"))
	if err != nil {
		t.Fatal(err)
	}
	mid := v.Dump()
	if len(mid) != 3 || mid["p/a1/servicenow/app"] != "current "+v2 || mid["p/a1/servicenow/app@"+v1] != "b25l" {
		t.Fatalf("dump after a second version %v", mid)
	}
	if err := v.Delete(ctx, "p/a1/servicenow/app", 7); err != nil {
		t.Fatal(err)
	}
	if d := v.Dump(); maps.Equal(d, mid) || d["p/a1/servicenow/app"] != "current "+v2+" deleted" {
		t.Fatalf("dump after delete %v", d)
	}
}
