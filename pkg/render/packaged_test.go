package render_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

// The packaged unit is the rendered one's template: the same service
// settings and hardening, line for line, except that it names no
// director and reads this director's flags from /etc/default/hala-director.
func TestPackagedDirectorUnit(t *testing.T) {
	unit, err := render.PackagedDirectorUnit("/usr/bin/hala")
	if err != nil {
		t.Fatal(err)
	}
	u := string(unit)
	for _, line := range []string{
		"EnvironmentFile=-/etc/default/hala-director",
		"ExecStart=/usr/bin/hala director -i /etc/hala/inventory.toml --state /var/lib/hala/director/ipvs-owned.json $HALA_DIRECTOR_ARGS",
	} {
		if !strings.Contains(u, "\n"+line+"\n") {
			t.Errorf("packaged unit lacks %q:\n%s", line, u)
		}
	}
	inv, err := inventory.Load("../../examples/two-node-director.toml")
	if err != nil {
		t.Fatal(err)
	}
	files, err := render.Node(inv, "stash1")
	if err != nil {
		t.Fatal(err)
	}
	var rendered string
	for _, f := range files {
		if f.Path == "stash1/"+render.DirectorUnitPath {
			rendered = string(f.Data)
		}
	}
	// Every setting line from [Unit] on is shared but Description and ExecStart.
	settings := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s[strings.Index(s, "[Unit]"):], "\n") {
			if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "Description=") || strings.HasPrefix(l, "ExecStart=") || strings.HasPrefix(l, "EnvironmentFile=") {
				continue
			}
			out = append(out, l)
		}
		return out
	}
	if got, want := strings.Join(settings(u), "\n"), strings.Join(settings(rendered), "\n"); got != want {
		t.Errorf("packaged unit's settings differ from the rendered unit's:\n%s\nrendered:\n%s", got, want)
	}
	bin := testutil.RequireTool(t, "systemd-analyze")
	path := filepath.Join(t.TempDir(), render.DirectorUnitPath)
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "verify", path).CombinedOutput()
	// The package installs /usr/bin/hala; on a build machine it may be missing.
	var findings []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" && !strings.HasSuffix(l, "Command /usr/bin/hala is not executable: No such file or directory") {
			findings = append(findings, l)
		}
	}
	if len(findings) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
