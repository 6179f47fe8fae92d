package cli

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory/inventorytest"

	"github.com/hala-lb/hala/pkg/drain"
)

// bgpDrainInventory is the shared active-active fixture.
var bgpDrainInventory = inventorytest.BGP

// hala drain --director writes the director's own record where hala
// director reads it (apart from the backends'), undrain removes it.
func TestDrainDirectorCommand(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inv.toml")
	if err := os.WriteFile(inv, []byte(bgpDrainInventory), 0o644); err != nil {
		t.Fatal(err)
	}
	drains := filepath.Join(dir, "drain")
	env := []string{"HALA_DRAIN_DIR=" + drains}

	r := hala(t, env, "drain", "-i", inv, "--director", "d2")
	if r.code != 0 || r.stdout != "drained director d2 (10.0.0.2): it withdraws its VIPs and keeps forwarding what still arrives\n" {
		t.Fatalf("drain: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	rec, err := drain.Lookup(drain.DirectorDir(drains), netip.MustParseAddr("10.0.0.2"))
	if err != nil || rec == nil || rec.Name != "d2" {
		t.Fatalf("record %+v, %v", rec, err)
	}
	if rec, _ := drain.Lookup(drains, netip.MustParseAddr("10.0.0.2")); rec != nil {
		t.Errorf("the director's record is among the backends': %+v", rec)
	}
	if r := hala(t, env, "undrain", "-i", inv, "--director", "d2"); r.code != 0 || !strings.HasPrefix(r.stdout, "undrained director d2 (10.0.0.2)") {
		t.Errorf("undrain: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if rec, _ := drain.Lookup(drain.DirectorDir(drains), netip.MustParseAddr("10.0.0.2")); rec != nil {
		t.Errorf("record left after undrain: %+v", rec)
	}
	if r := hala(t, env, "undrain", "-i", inv, "--director", "d2"); r.code != 0 || r.stdout != "director d2 (10.0.0.2) was not drained\n" {
		t.Errorf("second undrain: exit %d stdout %q", r.code, r.stdout)
	}

	if r := hala(t, env, "drain", "-i", inv, "--director", "d9"); r.code != 1 || !strings.Contains(r.stderr, `no [[director]] "d9"`) {
		t.Errorf("unknown director: exit %d stderr %q", r.code, r.stderr)
	}
	vrrp := filepath.Join(dir, "vrrp.toml")
	if err := os.WriteFile(vrrp, []byte(drainInventory), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := hala(t, env, "drain", "-i", vrrp, "--director", "d1"); r.code != 1 || !strings.Contains(r.stderr, `--director needs cluster.ha = "bgp"`) || !strings.Contains(r.stderr, "hint:") {
		t.Errorf("VRRP inventory: exit %d stderr %q", r.code, r.stderr)
	}
	if r := hala(t, env, "drain", "-i", inv, "--director", "d1", "l1"); r.code == 0 {
		t.Errorf("--director with a backend argument: exit 0")
	}
}
