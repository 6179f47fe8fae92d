package inventory

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic or hang,
// must return either an inventory or joined *Problems, and an inventory it
// returns must validate again unchanged. The committed corpus in
// testdata/fuzz/FuzzParse holds the examples and near-misses.
func FuzzParse(f *testing.F) {
	examples, _ := filepath.Glob("../../examples/*.toml")
	for _, name := range examples {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(base))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := Parse("f.toml", data)
		// The position scanner must survive any input, not only valid TOML.
		scanPositions(string(data))
		if err != nil {
			if inv != nil {
				t.Fatal("Parse returned an inventory and an error")
			}
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok {
				t.Fatalf("error is not joined: %T", err)
			}
			for _, e := range joined.Unwrap() {
				var p *Problem
				if !errors.As(e, &p) || !strings.HasPrefix(p.Error(), "f.toml") || p.Message == "" {
					t.Fatalf("not a located Problem: %v", e)
				}
			}
			return
		}
		if inv == nil {
			t.Fatal("Parse returned neither inventory nor error")
		}
		before := inv.String()
		inv.SetDefaults()
		if err := inv.Validate(); err != nil {
			t.Fatalf("a parsed inventory no longer validates: %v", err)
		}
		if inv.String() != before {
			t.Fatalf("SetDefaults is not idempotent: %s then %s", before, inv.String())
		}
	})
}
