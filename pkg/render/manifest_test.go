package render_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/inventory/inventorytest"
	"github.com/hala-lb/hala/pkg/render"
)

// twoNodeTOML is examples/two-node.toml's setup with the keys it can leave
// to their defaults left out; stash3TOML adds a third Logstash host, stash3.
var twoNodeTOML = inventorytest.Edit(inventorytest.TwoNode,
	`vrrp_auth_pass = "secret42"`+"\n", "",
	"scheduler = \"rr\"\nforwarding = \"nat\"\none_packet = true\ndelay_loop = \"5s\"\n\n[firewall]\nzone = \"public\"\n", "PIPELINE\n[firewall]\n")

const stash3TOML = `
[[logstash]]
name = "stash3"
address = "192.168.1.240"
`

// parseTOML parses an inventory; pipeline, if set, moves the service's
// input into that pipeline's directory.
func parseTOML(t *testing.T, hosts3 bool, pipeline string) *inventory.Inventory {
	t.Helper()
	src := twoNodeTOML
	if hosts3 {
		src += stash3TOML
	}
	p := ""
	if pipeline != "" {
		p = `pipeline = "` + pipeline + `"`
	}
	inv, err := inventory.Parse("test.toml", []byte(strings.Replace(src, "PIPELINE", p, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func renderAll(t *testing.T, inv *inventory.Inventory) []render.File {
	t.Helper()
	files, err := render.All(inv)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func renderNode(t *testing.T, inv *inventory.Inventory, node string) []render.File {
	t.Helper()
	files, err := render.Node(inv, node)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// hostPaths returns dir joined with the paths of host's files, sorted.
func hostPaths(dir string, files []render.File, host string) []string {
	var out []string
	for _, f := range files {
		if strings.HasPrefix(f.Path, host+"/") {
			out = append(out, filepath.Join(dir, filepath.FromSlash(f.Path)))
		}
	}
	slices.Sort(out)
	return out
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func sync(t *testing.T, dir string, files []render.File, opts render.Options) render.Report {
	t.Helper()
	rep, err := render.Sync(dir, files, opts)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return rep
}

func status(t *testing.T, dir string, files []render.File, opts render.Options) render.Report {
	t.Helper()
	rep, err := render.Status(dir, files, opts)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return rep
}

// TestSyncRemovedHostIsStaleUntilPruned follows an operator who removes a
// host from the inventory: its files are reported stale by Status and by
// Sync (which leaves them), and only a pruning Sync deletes them: exactly
// the files render wrote for it, not a file added by hand in its
// directory or next to it, and the subdirectories that leaves empty.
func TestSyncRemovedHostIsStaleUntilPruned(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	first := renderAll(t, parseTOML(t, true, ""))
	sync(t, dir, first, render.Options{})
	if rep := status(t, dir, first, render.Options{}); len(rep.Written)+len(rep.Stale) != 0 || rep.Manifest {
		t.Fatalf("status right after a render: %+v", rep)
	}
	stash3 := hostPaths(dir, first, "stash3")
	if len(stash3) < 2 {
		t.Fatalf("stash3 has %d files, want at least firewalld.sh and its inputs", len(stash3))
	}
	handInHost := filepath.Join(dir, "stash3", "notes.txt")
	handTop := filepath.Join(dir, "README")
	for _, p := range []string{handInHost, handTop} {
		if err := os.WriteFile(p, []byte("mine\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	second := renderAll(t, parseTOML(t, false, ""))
	rep := status(t, dir, second, render.Options{})
	if !reflect.DeepEqual(rep.Stale, stash3) {
		t.Fatalf("Status stale = %v, want stash3's files %v", rep.Stale, stash3)
	}
	rep = sync(t, dir, second, render.Options{})
	if !reflect.DeepEqual(rep.Stale, stash3) || len(rep.Pruned) != 0 {
		t.Fatalf("Sync without prune: stale %v pruned %v, want stale %v", rep.Stale, rep.Pruned, stash3)
	}
	for _, p := range stash3 {
		if !exists(p) {
			t.Errorf("Sync without prune deleted %s", p)
		}
	}
	// Still stale on the next look: leaving them does not forget them.
	if rep := status(t, dir, second, render.Options{}); !reflect.DeepEqual(rep.Stale, stash3) {
		t.Fatalf("Status after a render that left them: stale %v, want %v", rep.Stale, stash3)
	}

	rep = sync(t, dir, second, render.Options{Prune: true})
	if !reflect.DeepEqual(rep.Pruned, stash3) {
		t.Fatalf("pruned %v, want %v", rep.Pruned, stash3)
	}
	for _, p := range stash3 {
		if exists(p) {
			t.Errorf("%s survived --prune", p)
		}
	}
	for _, p := range []string{handInHost, handTop} {
		if !exists(p) {
			t.Errorf("--prune deleted %s, which render never wrote", p)
		}
	}
	if exists(filepath.Join(dir, "stash3", "logstash")) {
		t.Errorf("stash3/logstash left although --prune emptied it")
	}
	if slices.Contains(rep.Dirs, filepath.Join(dir, "stash3")) {
		t.Errorf("stash3 reported removed although notes.txt is in it")
	}
	for _, f := range second {
		if !exists(filepath.Join(dir, f.Path)) {
			t.Errorf("%s missing after --prune", f.Path)
		}
	}
	if rep := status(t, dir, second, render.Options{}); len(rep.Written)+len(rep.Stale) != 0 || rep.Manifest {
		t.Errorf("status after --prune: %+v, want nothing to do", rep)
	}

	// Without a hand-added file the host directory goes too.
	if err := os.Remove(handInHost); err != nil {
		t.Fatal(err)
	}
	sync(t, dir, first, render.Options{})
	rep = sync(t, dir, second, render.Options{Prune: true})
	if !slices.Contains(rep.Dirs, filepath.Join(dir, "stash3")) || exists(filepath.Join(dir, "stash3")) {
		t.Errorf("emptied host directory not removed: dirs %v", rep.Dirs)
	}
}

// TestSyncNodeJudgesOnlyThatHost: --node runs of different hosts into one
// directory keep each other's files; a host's own file that it no longer
// produces is stale for that host's run only.
func TestSyncNodeJudgesOnlyThatHost(t *testing.T) {
	dir := t.TempDir()
	inv := parseTOML(t, false, "syslog")
	stash1, stash2 := renderNode(t, inv, "stash1"), renderNode(t, inv, "stash2")
	sync(t, dir, stash1, render.Options{Node: "stash1"})
	sync(t, dir, stash2, render.Options{Node: "stash2"})
	for _, node := range []string{"stash1", "stash2"} {
		files := renderNode(t, inv, node)
		if rep := status(t, dir, files, render.Options{Node: node}); len(rep.Written)+len(rep.Stale) != 0 || rep.Manifest {
			t.Errorf("--node %s after both runs: %+v, want nothing to do", node, rep)
		}
	}
	// The whole inventory sees both hosts' files as its own.
	if rep := status(t, dir, renderAll(t, inv), render.Options{}); len(rep.Written)+len(rep.Stale) != 0 || rep.Manifest {
		t.Errorf("full render after the --node runs: %+v, want nothing to do", rep)
	}

	// The service moves from pipeline "syslog" to "logs": the inputs of
	// pipeline-syslog are no longer produced for any Logstash host.
	moved := parseTOML(t, false, "logs")
	old1 := filepath.Join(dir, "stash1", "logstash", "pipeline-syslog", "hala-inputs.conf")
	old2 := filepath.Join(dir, "stash2", "logstash", "pipeline-syslog", "hala-inputs.conf")
	rep := sync(t, dir, renderNode(t, moved, "stash1"), render.Options{Node: "stash1", Prune: true})
	if !reflect.DeepEqual(rep.Pruned, []string{old1}) {
		t.Errorf("--node stash1 --prune removed %v, want only %s", rep.Pruned, old1)
	}
	if !exists(old2) {
		t.Errorf("--node stash1 --prune removed stash2's %s", old2)
	}
	if exists(filepath.Dir(old1)) {
		t.Errorf("the emptied %s is left", filepath.Dir(old1))
	}
	if rep := status(t, dir, renderNode(t, moved, "stash2"), render.Options{Node: "stash2"}); !reflect.DeepEqual(rep.Stale, []string{old2}) {
		t.Errorf("--node stash2 stale = %v, want %s", rep.Stale, old2)
	}
}

// TestSyncManifestIsTheOnlyAuthority: entries that leave the output
// directory or do not come from hala are refused with the manifest's path
// and line, before anything is written; a listed file reached through a
// symlink is never deleted.
func TestSyncManifestIsTheOnlyAuthority(t *testing.T) {
	files := renderAll(t, parseTOML(t, false, ""))
	for _, tc := range []struct {
		name, manifest string
		line           int
	}{
		{"escapes", "# hala render manifest v1: x\nstash1/firewalld.sh\n../victim\n", 3},
		{"absolute", "# hala render manifest v1: x\n/etc/passwd\n", 2},
		{"no host dir", "# hala render manifest v1: x\nvictim\n", 2},
		{"dot-dot inside", "# hala render manifest v1: x\nstash1/../../victim\n", 2},
		{"not a manifest", "stash1/firewalld.sh\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "out")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			victim := filepath.Join(root, "victim")
			if err := os.WriteFile(victim, []byte("keep\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, render.ManifestName), []byte(tc.manifest), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, call := range []func() (render.Report, error){
				func() (render.Report, error) { return render.Status(dir, files, render.Options{Prune: true}) },
				func() (render.Report, error) { return render.Sync(dir, files, render.Options{Prune: true}) },
			} {
				_, err := call()
				var me *render.ManifestError
				if !errors.As(err, &me) || me.Line != tc.line || me.Path != filepath.Join(dir, render.ManifestName) {
					t.Fatalf("error %v, want a ManifestError at line %d", err, tc.line)
				}
			}
			if got := listTree(t, dir); !reflect.DeepEqual(got, []string{render.ManifestName}) {
				t.Errorf("a refused manifest let render write %v", got)
			}
			if !exists(victim) {
				t.Error("the victim file was deleted")
			}
		})
	}

	t.Run("symlinked host directory", func(t *testing.T) {
		root := t.TempDir()
		dir := filepath.Join(root, "out")
		elsewhere := filepath.Join(root, "elsewhere")
		if err := os.MkdirAll(elsewhere, 0o755); err != nil {
			t.Fatal(err)
		}
		first := renderAll(t, parseTOML(t, true, ""))
		sync(t, dir, first, render.Options{})
		// stash3's directory is replaced by a symlink to a directory
		// holding a file of the same name.
		if err := os.RemoveAll(filepath.Join(dir, "stash3")); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(elsewhere, render.FirewalldPath)
		if err := os.WriteFile(target, []byte("not hala's\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(elsewhere, filepath.Join(dir, "stash3")); err != nil {
			t.Fatal(err)
		}
		rep := sync(t, dir, files, render.Options{Prune: true})
		if len(rep.Pruned)+len(rep.Stale) != 0 {
			t.Errorf("files behind a symlink judged stale: pruned %v stale %v", rep.Pruned, rep.Stale)
		}
		if !exists(target) {
			t.Errorf("--prune deleted %s through a symlink", target)
		}
		manifest, err := os.ReadFile(filepath.Join(dir, render.ManifestName))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(manifest), "stash3/") {
			t.Errorf("the manifest still lists stash3's files:\n%s", manifest)
		}
	})
}
