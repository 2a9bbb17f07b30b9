package sealed_test

import (
	"fmt"
	"testing"

	"github.com/workplace/connections/shared/keys/memkeys"
	"github.com/workplace/connections/shared/vault/memvault"
	"github.com/workplace/connections/shared/vault/sealed"
)

var benchValue = []byte(`{"access_token":"` + fmt.Sprintf("%0900d", 0) + `","refresh_token":"rt","token_type":"Bearer"}`)

// BenchmarkSealedPut: sealing a token set of about 1 KB into the embedded
// store; kms-calls/op is the data keys asked for per Put.
func BenchmarkSealedPut(b *testing.B) {
	k := memkeys.New()
	v := sealed.New(memvault.New(memvault.ForSealed()), k)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := v.Put(ctx, fmt.Sprintf("connections/tokens/a1/box/user/u-%d", i%1000), benchValue); err != nil {
			b.Fatal(err)
		}
		i++
	}
	gen, open := k.Calls()
	b.ReportMetric(float64(gen+open)/float64(b.N), "kms-calls/op")
}

// BenchmarkSealedGet: opening values another container sealed (its data
// key opened once, then cached).
func BenchmarkSealedGet(b *testing.B) {
	k := memkeys.New()
	store := memvault.New(memvault.ForSealed())
	writer := sealed.New(store, k)
	ctx := b.Context()
	ids := make([]string, 1000)
	for i := range ids {
		var err error
		if ids[i], err = writer.Put(ctx, fmt.Sprintf("connections/tokens/a1/box/user/u-%d", i), benchValue); err != nil {
			b.Fatal(err)
		}
	}
	reader := sealed.New(store, k)
	gen0, open0 := k.Calls()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := reader.Get(ctx, fmt.Sprintf("connections/tokens/a1/box/user/u-%d", i%1000), ids[i%1000]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	gen, open := k.Calls()
	b.ReportMetric(float64(gen-gen0+open-open0)/float64(b.N), "kms-calls/op")
}
