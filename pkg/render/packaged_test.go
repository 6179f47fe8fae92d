package render_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

// One unit definition: what render writes for a director is byte for byte
// what the package installs (both with the default hala_path), it reads
// its settings from /etc/default/hala-director, and the rendered
// default/hala-director names the director.
func TestDirectorUnitIsThePackagedOne(t *testing.T) {
	unit, err := render.DirectorUnit(inventory.DefaultHalaPath)
	if err != nil {
		t.Fatal(err)
	}
	u := string(unit)
	for _, line := range []string{
		"EnvironmentFile=-/etc/default/hala-director",
		"ExecStart=/usr/bin/hala director -i /etc/hala/inventory.toml --state /var/lib/hala/director/ipvs-owned.json $HALA_DIRECTOR_ARGS",
		"ConditionFileNotEmpty=/etc/hala/inventory.toml",
		"Documentation=man:hala-director(1) https://github.com/hala-lb/hala",
		"RestartPreventExitStatus=78 69",
	} {
		if !strings.Contains(u, "\n"+line+"\n") {
			t.Errorf("unit lacks %q:\n%s", line, u)
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
	got := map[string][]byte{}
	for _, f := range files {
		got[f.Path] = f.Data
	}
	if r := got["stash1/"+render.DirectorUnitPath]; !bytes.Equal(r, unit) {
		t.Errorf("rendered unit differs from the packaged one:\n%s\npackaged:\n%s", r, unit)
	}
	if d := string(got["stash1/"+render.DirectorDefaultsPath]); !strings.Contains(d, "\nHALA_DIRECTOR_ARGS=\"--node stash1\"\n") {
		t.Errorf("rendered %s does not name stash1:\n%s", render.DirectorDefaultsPath, d)
	}
	if d := string(render.DirectorDefaults("")); !strings.Contains(d, "\nHALA_DIRECTOR_ARGS=\"\"\n") || strings.Contains(d, "--metrics-address") {
		t.Errorf("packaged defaults name a director or a metrics address:\n%s", d)
	}

	bin := testutil.RequireTool(t, "systemd-analyze")
	path := filepath.Join(t.TempDir(), render.DirectorUnitPath)
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "verify", path).CombinedOutput()
	// The package installs /usr/bin/hala and the man page; on a build
	// machine they may be missing (make test-package verifies it installed).
	var findings []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" && !strings.HasSuffix(l, "Command /usr/bin/hala is not executable: No such file or directory") &&
			!strings.HasSuffix(l, "Command 'man hala-director(1)' failed with code 16") {
			findings = append(findings, l)
		}
	}
	if len(findings) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
