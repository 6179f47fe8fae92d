package render_test

import (
	"bytes"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

// FuzzLoadValidateRender feeds arbitrary TOML through inventory.Parse
// (decode, defaults, validation) and renders whatever it accepts. Nothing
// may panic; an accepted inventory must render without error (validation
// is what stops bad input, render must not be the first to notice), and
// render twice to the same bytes. The seed corpus in
// testdata/fuzz/FuzzLoadValidateRender holds the examples and golden cases.
func FuzzLoadValidateRender(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := inventory.Parse("fuzz.toml", data)
		if err != nil {
			return
		}
		a, err := render.All(inv)
		if err != nil {
			t.Fatalf("valid inventory does not render: %v\n%s", err, data)
		}
		b, err := render.All(inv)
		if err != nil || len(a) != len(b) {
			t.Fatalf("second render: %v, %d files, first %d", err, len(b), len(a))
		}
		for i := range a {
			if a[i].Path != b[i].Path || !bytes.Equal(a[i].Data, b[i].Data) {
				t.Fatalf("%s renders differently twice", a[i].Path)
			}
		}
	})
}
