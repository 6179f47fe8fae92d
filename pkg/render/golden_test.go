package render_test

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenCase is one inventory whose rendered files are kept under
// testdata/<name>/golden/ with their modes in testdata/<name>/modes.golden.
type goldenCase struct {
	name      string
	inventory string
}

func (c goldenCase) dir() string { return filepath.Join("testdata", c.name) }

// glob is filepath.Glob that fails the test when nothing matches, so a
// moved directory cannot make a test pass by testing nothing.
func glob(t testing.TB, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) == 0 {
		t.Fatalf("%s matches no files", pattern)
	}
	sort.Strings(m)
	return m
}

// goldenCases lists every example (examples/*.toml, as example-<name>) and
// every extra case (testdata/<case>/inventory.toml).
func goldenCases(t testing.TB) []goldenCase {
	t.Helper()
	var cases []goldenCase
	for _, p := range glob(t, "../../examples/*.toml") {
		cases = append(cases, goldenCase{name: "example-" + strings.TrimSuffix(filepath.Base(p), ".toml"), inventory: p})
	}
	for _, p := range glob(t, "testdata/*/inventory.toml") {
		cases = append(cases, goldenCase{name: filepath.Base(filepath.Dir(p)), inventory: p})
	}
	return cases
}

func loadCase(t testing.TB, c goldenCase) (*inventory.Inventory, []render.File) {
	t.Helper()
	inv, err := inventory.Load(c.inventory)
	if err != nil {
		t.Fatalf("load %s: %v", c.inventory, err)
	}
	files, err := render.All(inv)
	if err != nil {
		t.Fatalf("render %s: %v", c.inventory, err)
	}
	return inv, files
}

func modes(files []render.File) []byte {
	var b bytes.Buffer
	for _, f := range files {
		fmt.Fprintf(&b, "%04o %s\n", f.Mode.Perm(), f.Path)
	}
	return b.Bytes()
}

// TestGolden renders every example and every testdata case and compares
// each file, the set of files and their modes with the golden copies.
// go test ./pkg/render -update (make golden) rewrites them.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			_, files := loadCase(t, c)
			golden := filepath.Join(c.dir(), "golden")
			modesFile := filepath.Join(c.dir(), "modes.golden")
			if *update {
				if err := os.RemoveAll(golden); err != nil {
					t.Fatal(err)
				}
				for _, f := range files {
					p := filepath.Join(golden, filepath.FromSlash(f.Path))
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, f.Data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(modesFile, modes(files), 0o644); err != nil {
					t.Fatal(err)
				}
			}

			want := map[string][]byte{}
			err := filepath.WalkDir(golden, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, err := filepath.Rel(golden, p)
				if err != nil {
					return err
				}
				data, err := os.ReadFile(p)
				want[filepath.ToSlash(rel)] = data
				return err
			})
			if err != nil {
				t.Fatalf("read golden files (run go test ./pkg/render -update): %v", err)
			}
			for _, f := range files {
				w, ok := want[f.Path]
				if !ok {
					t.Errorf("%s: rendered but has no golden file", f.Path)
					continue
				}
				delete(want, f.Path)
				if !bytes.Equal(w, f.Data) {
					t.Errorf("%s differs from its golden file (go test ./pkg/render -update rewrites it; review the diff):\n%s", f.Path, lineDiff(w, f.Data))
				}
			}
			for p := range want {
				t.Errorf("%s: golden file but not rendered", p)
			}
			wantModes, err := os.ReadFile(modesFile)
			if err != nil {
				t.Fatal(err)
			}
			if got := modes(files); !bytes.Equal(got, wantModes) {
				t.Errorf("modes differ from %s:\n%s", modesFile, lineDiff(wantModes, got))
			}
		})
	}
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got []byte) string {
	w := strings.Split(string(want), "\n")
	g := strings.Split(string(got), "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
			if shown++; shown == 5 {
				break
			}
		}
	}
	return b.String()
}

// TestDeterministic renders every case twice from freshly loaded
// inventories: the bytes must be identical (no map order, no time, no
// path of the inventory in the output).
func TestDeterministic(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			_, a := loadCase(t, c)
			for i := 0; i < 5; i++ {
				_, b := loadCase(t, c)
				if len(a) != len(b) {
					t.Fatalf("run %d rendered %d files, first %d", i, len(b), len(a))
				}
				for j := range a {
					if a[j].Path != b[j].Path || a[j].Mode != b[j].Mode || !bytes.Equal(a[j].Data, b[j].Data) {
						t.Fatalf("run %d: %s differs from the first render", i, b[j].Path)
					}
				}
			}
		})
	}
}

// TestNodeMatchesAll checks that rendering one host gives exactly that
// host's files of the full render.
func TestNodeMatchesAll(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			inv, all := loadCase(t, c)
			byHost := map[string][]render.File{}
			for _, f := range all {
				h, _, _ := strings.Cut(f.Path, "/")
				if h == render.MonitoringDir {
					continue // the cluster's, not a host's
				}
				byHost[h] = append(byHost[h], f)
			}
			for h, want := range byHost {
				got, err := render.Node(inv, h)
				if err != nil {
					t.Fatalf("Node(%q): %v", h, err)
				}
				if len(got) != len(want) {
					t.Fatalf("Node(%q): %d files, All has %d", h, len(got), len(want))
				}
				for i := range got {
					if got[i].Path != want[i].Path || !bytes.Equal(got[i].Data, want[i].Data) {
						t.Errorf("Node(%q): %s differs from All's", h, got[i].Path)
					}
				}
			}
			if _, err := render.Node(inv, "no-such-host"); err == nil || !strings.Contains(err.Error(), `no host "no-such-host"`) {
				t.Errorf("Node of an unknown host: err = %v", err)
			}
		})
	}
}
