//go:build linux

package render_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/render"
)

// FRR's own parser accepts every rendered frr.conf (vtysh --dryrun reads
// the file as bgpd and bfdd would, without a running daemon), and rejects
// a broken one, so the check can fail.
func TestRouterFRRSnippetParses(t *testing.T) {
	vtysh := testutil.RequireTool(t, "vtysh")
	dryrun := func(path string) (string, error) {
		out, err := exec.Command(vtysh, "--dryrun", "-f", path).CombinedOutput()
		return string(out), err
	}
	n := 0
	for _, c := range goldenCases(t) {
		inv, files := loadCase(t, c)
		if !inv.UsesBGP() {
			continue
		}
		for _, f := range files {
			if !strings.HasPrefix(f.Path, render.RouterDir+"/") || filepath.Base(f.Path) != render.RouterFRRPath {
				continue
			}
			n++
			p := filepath.Join(t.TempDir(), "frr.conf")
			if err := os.WriteFile(p, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := dryrun(p); err != nil {
				t.Errorf("%s/%s: vtysh --dryrun: %v\n%s", c.name, f.Path, err, out)
			}
			broken := strings.Replace(string(f.Data), "maximum-paths 8", "maximum-paths eight", 1)
			if err := os.WriteFile(p, []byte(broken), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := dryrun(p); err == nil {
				t.Errorf("%s/%s: vtysh --dryrun accepted a broken snippet:\n%s", c.name, f.Path, out)
			}
		}
	}
	if n < 2 {
		t.Fatalf("checked %d frr.conf snippets, want the IPv4 example and the IPv6 case at least", n)
	}
}
