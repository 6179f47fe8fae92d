//go:build linux && integration

package importer

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/keepalived"
	"github.com/hala-lb/hala/pkg/render"
)

// TestIntegrationMigrationNoSplitBrain is the migration's step 5 with the
// real keepalived: director LVS_DEVEL keeps its hand-written
// keepalived.conf (keepalived's keepalived.conf.vrrp shape: instances with
// their own passwords, none, another advert_int, interface and VRRP
// version), while its peer lb2 already runs hala's render of the imported
// inventory. Both on two LANs (eth0, eth1), VRRP only. Each VIP must end
// up on exactly one director, the one with the higher priority, and stay
// there: had the render changed a VIP's adverts (a password it did not
// have, another interval), the two would not hear each other and both
// would hold it.
func TestIntegrationMigrationNoSplitBrain(t *testing.T) {
	testutil.RequireKernel(t)
	bin := testutil.RequireTool(t, "keepalived")

	const conf = "testdata/vrrp-sample.conf"
	cfg, err := keepalived.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Directors: []Director{
		{Name: "LVS_DEVEL", Address: netip.MustParseAddr("192.168.200.1")},
		{Name: "lb2", Address: netip.MustParseAddr("192.168.200.2")},
	}}
	res, err := Import(cfg, conf, opts)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Parse("imported.toml", res.TOML)
	if err != nil {
		t.Fatalf("imported inventory: %v\n%s", err, res.TOML)
	}
	files, err := render.Node(inv, "lb2")
	if err != nil {
		t.Fatal(err)
	}
	var rendered []byte
	for _, f := range files {
		if f.Path == "lb2/"+render.KeepalivedPath {
			rendered = f.Data
		}
	}
	original, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}

	eth0, eth1 := testutil.NewLAN(t), testutil.NewLAN(t)
	old, hala := testutil.NewNetNS(t), testutil.NewNetNS(t)
	eth0.Attach(t, old, "eth0", netip.MustParsePrefix("192.168.200.1/24"))
	eth0.Attach(t, hala, "eth0", netip.MustParsePrefix("192.168.200.2/24"))
	eth1.Attach(t, old, "eth1", netip.MustParsePrefix("192.168.201.1/24"))
	eth1.Attach(t, hala, "eth1", netip.MustParsePrefix("192.168.201.2/24"))
	startVRRP(t, bin, old, "old", original)
	startVRRP(t, bin, hala, "hala", vrrpOnly(rendered))

	// VI_1, VI_2: MASTER at 150 in the original; VI_3, VI_4: hala's
	// render makes lb2 their master (150 against the original's 100).
	want := map[string]*testutil.NetNS{
		"192.168.200.16/24": old, "192.168.200.17/24": old,
		"192.168.200.18/24": hala, "192.168.200.19/24": hala,
	}
	holders := func() error {
		o, h := old.IP(t, "-o", "addr", "show"), hala.IP(t, "-o", "addr", "show")
		for addr, ns := range want {
			inOld, inHala := strings.Contains(o, " "+addr+" "), strings.Contains(h, " "+addr+" ")
			switch {
			case inOld && inHala:
				return fmt.Errorf("split brain: %s is on both directors", addr)
			case ns == old && !inOld, ns == hala && !inHala:
				return fmt.Errorf("%s is not (yet) on %s", addr, ns)
			}
		}
		return nil
	}
	// A backup takes over after 3 adverts and a skew (at most ~10s at the
	// 3s interval); the rest is slack for a slow VM.
	took := testutil.WaitFor(t, 45*time.Second, holders)
	t.Logf("every VIP on its one master after %v", took.Round(100*time.Millisecond))
	// Stable over three adverts of the slowest instance and then some.
	for end := time.Now().Add(12 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if err := holders(); err != nil {
			t.Fatal(err)
		}
	}
}

// startVRRP runs keepalived's VRRP part with conf in ns.
func startVRRP(t *testing.T, bin string, ns *testutil.NetNS, name string, conf []byte) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(path, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	testutil.Start(t, ns.Cmd(bin, "--vrrp", "--dont-fork", "--log-console", "--no-syslog", "--log-detail",
		"--use-file", path,
		"--pid", filepath.Join(dir, "keepalived.pid"),
		"--vrrp_pid", filepath.Join(dir, "vrrp.pid"),
		"--checkers_pid", filepath.Join(dir, "checkers.pid")))
}

// vrrpOnly makes a rendered keepalived.conf runnable here: its script user
// may not exist on this machine (no script runs in VRRP only).
func vrrpOnly(conf []byte) []byte {
	if _, err := user.Lookup("keepalived_script"); err == nil {
		return conf
	}
	return bytes.Replace(conf, []byte("script_user keepalived_script"), []byte("script_user nobody"), 1)
}
