package keepalived

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes the parser panic or loop, that an
// accepted input's tree has no statement without a name, and that every
// error is about syntax or an include (Parse never reads files here).
func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/seed.conf", "testdata/include/keepalived.conf", "testdata/include/conf.d/20-more.conf"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.conf", data, false)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.conf:") && !strings.Contains(err.Error(), "larger than") {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		var walk func([]*Node, int)
		walk = func(ns []*Node, depth int) {
			if depth > MaxDepth+1 {
				t.Fatalf("depth %d beyond MaxDepth", depth)
			}
			for _, n := range ns {
				if n.Pos.Line < 1 || n.Pos.File != "f.conf" {
					t.Fatalf("statement %q at %v", n.Name, n.Pos)
				}
				if !n.Block && len(n.Children) > 0 {
					t.Fatalf("statement %q has children but no block", n.Name)
				}
				walk(n.Children, depth+1)
			}
		}
		walk(cfg.Nodes, 0)
	})
}
