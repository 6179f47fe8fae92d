package render_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/render"
)

var ipAddrReplace = regexp.MustCompile(`(?m)^(?:ExecStart=)?ip addr replace (\S+ dev \S+)$`)

// TestLocalVIPsUnit: a DR or TUN real server holds its VIPs on lo/tunl0
// beyond a reboot: it gets a systemd oneshot unit that adds exactly the
// addresses setup.sh adds, before Logstash starts, enabled at boot and
// installed by setup.sh; systemd's own verifier accepts the unit. Hosts
// that hold no VIP get no unit.
func TestLocalVIPsUnit(t *testing.T) {
	units := 0
	for _, c := range goldenCases(t) {
		_, files := loadCase(t, c)
		byPath := map[string][]byte{}
		for _, f := range files {
			byPath[f.Path] = f.Data
		}
		for _, f := range files {
			host, ok := strings.CutSuffix(f.Path, "/"+render.SetupPath)
			if !ok {
				continue
			}
			setup := string(f.Data)
			want := ipAddrReplace.FindAllStringSubmatch(setup, -1)
			unit, hasUnit := byPath[host+"/"+render.LocalVIPsUnitPath]
			if len(want) == 0 {
				if hasUnit {
					t.Errorf("%s: %s rendered for a host that holds no VIP", c.name, host)
				}
				continue
			}
			if !hasUnit {
				t.Errorf("%s: %s holds VIPs until reboot only: no %s", c.name, host, render.LocalVIPsUnitPath)
				continue
			}
			units++
			u := string(unit)
			var got, wantAddrs []string
			for _, m := range ipAddrReplace.FindAllStringSubmatch(u, -1) {
				got = append(got, m[1])
			}
			for _, m := range want {
				wantAddrs = append(wantAddrs, m[1])
			}
			if !slices.Equal(got, wantAddrs) {
				t.Errorf("%s: %s's unit adds %v, setup.sh adds %v", c.name, host, got, wantAddrs)
			}
			for _, line := range []string{"Before=logstash.service", "Type=oneshot", "RemainAfterExit=yes", "WantedBy=multi-user.target"} {
				if !strings.Contains(u, "\n"+line+"\n") {
					t.Errorf("%s: %s's unit lacks %q:\n%s", c.name, host, line, u)
				}
			}
			for _, step := range []string{
				`install -D -m 0644 "$here/` + render.LocalVIPsUnitPath + `" /etc/systemd/system/` + render.LocalVIPsUnitPath,
				"systemctl enable " + render.LocalVIPsUnitPath,
			} {
				if !strings.Contains(setup, "\n"+step) && !strings.Contains(setup, "\t"+step) {
					t.Errorf("%s: %s/setup.sh lacks %q", c.name, host, step)
				}
			}
			verifyUnit(t, c.name+"/"+host, unit)
		}
	}
	if units == 0 {
		t.Fatal("no golden case renders a DR/TUN real server's unit")
	}
}

// verifyUnit runs systemd-analyze verify on the unit; any output is a
// finding (it warns about unknown keys with exit status 0).
func verifyUnit(t *testing.T, name string, unit []byte) {
	t.Helper()
	bin := testutil.RequireTool(t, "systemd-analyze")
	path := filepath.Join(t.TempDir(), render.LocalVIPsUnitPath)
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("%s: systemd-analyze verify: %v\n%s", name, err, out)
	}
}
