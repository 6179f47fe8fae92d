package render_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

// keepalivedVersion returns the version keepalived --version reports,
// such as [2 2 7].
func keepalivedVersion(t *testing.T, bin string) [3]int {
	t.Helper()
	out, _ := exec.Command(bin, "--version").CombinedOutput()
	m := regexp.MustCompile(`Keepalived v(\d+)\.(\d+)\.(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("%s --version: no version in %q", bin, out)
	}
	var v [3]int
	for i := range v {
		v[i], _ = strconv.Atoi(string(m[i+1]))
	}
	return v
}

func versionBefore(v, w [3]int) bool {
	for i := range v {
		if v[i] != w[i] {
			return v[i] < w[i]
		}
	}
	return false
}

// TestKeepalivedConfigTest runs the real `keepalived --config-test` on every
// keepalived.conf rendered from every example and golden case. It must exit
// 0 and print nothing on stderr (keepalived reports even ignored keywords
// and rounded values there).
//
// keepalived -t checks interface names against the local interfaces, so
// each inventory gets a fresh network namespace holding an interface of
// every name its directors use. It does not talk to IPVS: on this host's
// kernel, which has no IPVS, it still checks the virtual_server blocks
// (a bad lb_algo or lb_kind is reported), so the test runs here as well as
// in the test VM.
//
// Adjustments of the tested copy, each logged:
//   - misc_path points at a real hala binary: keepalived -t reports a
//     missing or insecure check program only when it exists, so a fake
//     path would hide problems;
//   - with keepalived before 2.2.8, script_user is root: those versions'
//     -t kills itself (exit 143) when a check runs as a non-root user
//     (fixed upstream in 2.2.8). The non-root user is proven at runtime by
//     the end-to-end suite.
func TestKeepalivedConfigTest(t *testing.T) {
	bin := testutil.RequireTool(t, "keepalived")
	testutil.RequireTool(t, "ip")
	ver := keepalivedVersion(t, bin)
	rootScripts := versionBefore(ver, [3]int{2, 2, 8})
	hala := testutil.HalaBinary(t)
	userLine := regexp.MustCompile(`(?m)^(\s*script_user) .*$`)
	tested, rendered := 0, 0

	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			inv, files := loadCase(t, c)
			ns := testutil.NewNetNS(t)
			ifaces := map[string]bool{}
			var names []string
			for _, d := range inv.Directors {
				names = append(names, inv.InterfaceOf(inventory.VIP{}, d))
				for _, v := range inv.VIPs {
					names = append(names, inv.InterfaceOf(v, d))
				}
			}
			for _, name := range names {
				if ifaces[name] {
					continue
				}
				ifaces[name] = true
				// Some kernels lack the dummy driver; a bridge is an
				// interface as good for keepalived's name check.
				if err := ns.Cmd("ip", "link", "add", name, "type", "dummy").Run(); err != nil {
					ns.IP(t, "link", "add", name, "type", "bridge")
				}
				// keepalived -t refuses a VRRP interface without multicast,
				// which dummy interfaces lack by default.
				ns.IP(t, "link", "set", name, "multicast", "on", "up")
			}

			dir := t.TempDir()
			for _, f := range files {
				if filepath.Base(f.Path) != render.KeepalivedPath {
					continue
				}
				rendered++
				data := bytes.ReplaceAll(f.Data, []byte(`misc_path "`+inv.Cluster.HalaPath+" "), []byte(`misc_path "`+hala+" "))
				data = bytes.ReplaceAll(data, []byte(`script "`+inv.Cluster.HalaPath+" "), []byte(`script "`+hala+" "))
				if rootScripts {
					data = userLine.ReplaceAll(data, []byte("${1} root"))
				}
				conf := filepath.Join(dir, strings.ReplaceAll(f.Path, "/", "_"))
				if err := os.WriteFile(conf, data, 0o600); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns.Name, bin, "--config-test", "-f", conf)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				cancel()
				if err != nil || stderr.Len() > 0 {
					t.Errorf("keepalived --config-test -f %s (rendered %s): %v\nstderr:\n%s\nstdout:\n%s\nconfig:\n%s",
						conf, f.Path, err, stderr.Bytes(), stdout.Bytes(), data)
					continue
				}
				tested++
			}
		})
	}
	if rootScripts {
		t.Logf("keepalived %d.%d.%d < 2.2.8: tested copies use script_user root (its -t exits 143 with a non-root script user)", ver[0], ver[1], ver[2])
	}
	if tested == 0 {
		t.Fatal("no keepalived.conf was config-tested: a test that tests nothing must not pass")
	}
	if tested != rendered && !t.Failed() {
		t.Fatalf("%d of %d rendered keepalived.conf files were config-tested", tested, rendered)
	}
	t.Logf("misc_path of tested copies points at %s; %d configurations passed keepalived --config-test", hala, tested)
}
