package layers

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

const module = "github.com/hala-lb/hala/"

// rank is each hala package's layer: a package imports only packages of a
// lower rank, or of its own rank where sameRank allows it. Leaves (rank 1)
// import no hala package but the rank-0 helpers, which import none.
var rank = map[string]int{
	"pkg/internal/atomicfile": 0,
	"pkg/internal/netnspath":  0,
	"pkg/internal/promtext":   0,

	"pkg/inventory":        1,
	"pkg/ipvs":             1,
	"pkg/vip":              1,
	"pkg/logstash":         1,
	"pkg/drain":            1,
	"pkg/keepalived":       1,
	"templates":            1,
	"pkg/sysctl":           1,
	"pkg/director/healthz": 1,
	"pkg/agent/stream":     1,

	"pkg/reconcile": 2,
	"pkg/announce":  2,

	"pkg/director": 3,
	"pkg/status":   3,
	"pkg/rollout":  3,
	"pkg/render":   3,
	"pkg/check":    3,
	"pkg/diagnose": 3,
	"pkg/importer": 3,
	"pkg/agent":    3,

	"pkg/cli":           4,
	"pkg/cli/directord": 4,

	"cmd/hala":          5,
	"cmd/hala-director": 5,
}

// sameRank says which ranks may import within themselves.
var sameRank = map[int]bool{2: true, 3: true, 4: true}

// helpers are test and benchmark support: they may import any rank below
// pkg/cli, and only tests, other helpers and programs import them.
var helpers = []string{"pkg/internal/testutil", "pkg/inventory/inventorytest", "pkg/internal/e2e", "pkg/internal/traffic", "pkg/internal/layers", "pkg/internal/docs", "scripts/"}

// thirdParty: only the listed hala packages may import a module path
// starting with the key.
var thirdParty = map[string][]string{
	"github.com/spf13/cobra":         {"pkg/cli", "pkg/cli/directord", "scripts/man"},
	"github.com/BurntSushi/toml":     {"pkg/inventory"},
	"github.com/vishvananda/netlink": {"pkg/ipvs", "pkg/vip"},
	"github.com/vishvananda/netns":   {"pkg/ipvs", "pkg/vip"},
	"github.com/moby/ipvs":           {"pkg/ipvs"},
	"github.com/osrg/gobgp":          {"pkg/announce"},
}

type pkg struct {
	path    string // without the module prefix
	imports []string
}

// list runs go list over the module: every package and its imports (not
// its tests'), with the integration build tag so tagged files count too.
func list(t *testing.T, args ...string) []pkg {
	t.Helper()
	goTool := testutil.RequireTool(t, "go")
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goTool, append([]string{"list", "-tags", "integration", "-f", `{{.ImportPath}} {{join .Imports " "}}`}, args...)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		pkgs = append(pkgs, pkg{path: strings.TrimPrefix(f[0], module), imports: f[1:]})
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages: %s", len(pkgs), out)
	}
	return pkgs
}

func isHelper(p string) bool {
	for _, h := range helpers {
		if p == h || strings.HasPrefix(p, strings.TrimSuffix(h, "/")+"/") {
			return true
		}
	}
	return false
}

// mayImportCLI are the programs built on pkg/cli's command tree.
func mayImportCLI(p string) bool {
	return strings.HasPrefix(p, "cmd/") || p == "pkg/cli/directord"
}

type errorer interface {
	Errorf(format string, args ...any)
}

// check reports every rule p's imports break.
func check(t errorer, p pkg) {
	r, known := rank[p.path]
	helper := isHelper(p.path)
	if !known && !helper {
		t.Errorf("%s is not in the package map: give it a layer (STYLE.md, docs/architecture.md and rank in this test)", p.path)
		return
	}
	for _, imp := range p.imports {
		if !strings.HasPrefix(imp, module) {
			for prefix, allowed := range thirdParty {
				if (imp == prefix || strings.HasPrefix(imp, prefix+"/")) && !slices.Contains(allowed, p.path) {
					t.Errorf("%s imports %s: only %s may", p.path, imp, strings.Join(allowed, ", "))
				}
			}
			continue
		}
		dep := strings.TrimPrefix(imp, module)
		if dep == "pkg/cli" && !mayImportCLI(p.path) {
			t.Errorf("%s imports pkg/cli: only the programs built on its commands do", p.path)
			continue
		}
		if isHelper(dep) {
			if !helper {
				t.Errorf("%s imports %s, a test helper", p.path, dep)
			}
			continue
		}
		dr, ok := rank[dep]
		switch {
		case !ok:
			// Reported as that package's own error.
		case helper:
			if dr >= rank["pkg/cli"] && !mayImportCLI(p.path) {
				t.Errorf("%s imports %s: test helpers stay below pkg/cli", p.path, dep)
			}
		case dr > r || dr == r && !sameRank[r]:
			t.Errorf("%s (layer %d) imports %s (layer %d): imports go one way, down the layers", p.path, r, dep, dr)
		}
	}
}

// TestImportRules: the package map's rules, package by package.
func TestImportRules(t *testing.T) {
	for _, p := range list(t, "./...") {
		check(t, p)
	}
}

type fakeT struct{ errs int }

func (f *fakeT) Errorf(string, ...any) { f.errs++ }

// TestRulesCatchAViolation: the checks fire on made-up imports, so a typo
// in the tables cannot make the test pass vacuously.
func TestRulesCatchAViolation(t *testing.T) {
	for _, tc := range []struct{ from, imp string }{
		{"pkg/logstash", module + "pkg/inventory"},   // a leaf importing a leaf
		{"pkg/reconcile", module + "pkg/render"},     // upwards
		{"pkg/render", module + "pkg/cli"},           // nothing imports cli
		{"pkg/check", "github.com/spf13/cobra"},      // only cli imports cobra
		{"pkg/render", "github.com/BurntSushi/toml"}, // only inventory imports toml
		{"pkg/reconcile", "github.com/vishvananda/netlink"},
		{"pkg/director", "github.com/osrg/gobgp/v4/api"}, // only announce imports GoBGP
		{"pkg/newthing", "fmt"},                          // not in the map
	} {
		ft := &fakeT{}
		check(ft, pkg{path: tc.from, imports: []string{tc.imp}})
		if ft.errs == 0 {
			t.Errorf("%s importing %s passed the rules", tc.from, tc.imp)
		}
	}
}

// offCheckPath may not be linked into the hala binary: keepalived forks
// hala check per backend and input every delay_loop, and every linked
// package's init runs in every check. The director and what it needs live
// in hala-director (docs/architecture.md); the man pages are rendered by
// scripts/package. Hala packages by exact path, others by module prefix.
var offCheckPath = []string{
	"pkg/director",
	"pkg/announce",
	"pkg/cli/directord",
	"github.com/prometheus",
	"github.com/osrg/gobgp",
	"google.golang.org/protobuf",
	"google.golang.org/grpc",
	"github.com/spf13/cobra/doc",
	"github.com/russross/blackfriday",
	"github.com/cpuguy83/go-md2man",
}

// TestCheckPathStaysLight: nothing heavy in the hala binary.
func TestCheckPathStaysLight(t *testing.T) {
	deps := list(t, "-deps", "./cmd/hala")
	for _, p := range deps {
		for _, bad := range offCheckPath {
			if p.path == bad || strings.Contains(bad, ".") && strings.HasPrefix(p.path, bad+"/") {
				t.Errorf("the hala binary (hala check) links %s; it belongs in hala-director or outside the binary", p.path)
			}
		}
	}
	if !slices.ContainsFunc(deps, func(p pkg) bool { return p.path == "pkg/check" }) {
		t.Error("go list -deps ./cmd/hala lacks pkg/check: the test reads the wrong list")
	}
}

// TestNoRegexpAtInit: no hala package linked into the hala binary compiles
// a regular expression in a package-level variable, whose init every hala
// check would pay; compile on first use (sync.OnceValue) instead.
func TestNoRegexpAtInit(t *testing.T) {
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, p := range list(t, "-deps", "./cmd/hala") {
		if strings.Contains(strings.SplitN(p.path, "/", 2)[0], ".") {
			continue // not hala's
		}
		files, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(p.path), "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			seen++
			file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range file.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.VAR {
					continue
				}
				ast.Inspect(gd, func(n ast.Node) bool {
					if _, ok := n.(*ast.FuncLit); ok {
						return false // runs on first use, not at init
					}
					if call, ok := n.(*ast.CallExpr); ok {
						if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
							if x, ok := sel.X.(*ast.Ident); ok && x.Name == "regexp" && strings.Contains(sel.Sel.Name, "Compile") {
								rel, _ := filepath.Rel(root, f)
								t.Errorf("%s: regexp.%s in a package-level variable runs in every hala process; compile it on first use", rel, sel.Sel.Name)
							}
						}
					}
					return true
				})
			}
		}
	}
	if seen < 20 {
		t.Errorf("read %d files: the walk is wrong", seen)
	}
}
