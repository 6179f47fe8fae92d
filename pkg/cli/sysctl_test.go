package cli

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// runCapture runs hala with args and returns its stdout, stderr and exit code.
func runCapture(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = Run(args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), code
}

// procTree writes a /proc/sys-like tree of key → value under a temp dir.
func procTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for k, v := range files {
		p := filepath.Join(root, filepath.FromSlash(strings.ReplaceAll(k, ".", "/")))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestSysctlApplySetsRenderedKeys(t *testing.T) {
	root := procTree(t, map[string]string{
		"net.ipv4.ip_forward":                   "0",
		"net.ipv4.ip_nonlocal_bind":             "1",
		"net.ipv4.vs.expire_nodest_conn":        "0",
		"net.ipv4.vs.expire_quiescent_template": "0",
		"net.ipv4.vs.conntrack":                 "0",
	})
	args := []string{"sysctl", "apply", "-i", "testdata/vip-sysctl.toml", "--node", "stash1", "--sysctl-root", root}

	out, errOut, code := runCapture(append(args, "--dry-run")...)
	if code != 0 {
		t.Fatalf("dry run exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"net.ipv4.ip_forward: 0 → 1 (dry run)\n",
		"net.ipv4.ip_nonlocal_bind: 1 (unchanged)\n",
		"net.ipv4.vs.expire_nodest_conn: 0 → 1 (dry run)\n",
		"4 of 5 settings would change (dry run)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "net/ipv4/ip_forward")); string(b) != "0\n" {
		t.Fatalf("dry run wrote ip_forward = %q", b)
	}

	out, errOut, code = runCapture(args...)
	if code != 0 {
		t.Fatalf("apply exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"net.ipv4.ip_forward: 0 → 1\n", "4 of 5 settings changed\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "net/ipv4/ip_forward")); string(b) != "1\n" {
		t.Fatalf("ip_forward = %q after apply", b)
	}

	out, _, code = runCapture(args...)
	if code != 0 || !strings.Contains(out, "0 of 5 settings changed\n") {
		t.Fatalf("second apply (exit %d) should change nothing:\n%s", code, out)
	}
}

func TestSysctlApplyWithoutIPVSHints(t *testing.T) {
	root := procTree(t, map[string]string{"net.ipv4.ip_forward": "0", "net.ipv4.ip_nonlocal_bind": "0"})
	out, errOut, code := runCapture("sysctl", "apply", "-i", "testdata/vip-sysctl.toml", "--node", "stash1", "--sysctl-root", root)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "hala: error: sysctl net.ipv4.vs.expire_nodest_conn: not in this kernel") ||
		!strings.Contains(errOut, "hala: hint: the net.ipv4.vs.* keys appear once IPVS is loaded: modprobe ip_vs") {
		t.Errorf("stderr lacks the error and the modprobe hint:\n%s", errOut)
	}
	// The keys the kernel has are still set.
	if !strings.Contains(out, "net.ipv4.ip_forward: 0 → 1\n") {
		t.Errorf("stdout lacks ip_forward's change:\n%s", out)
	}
}

func TestSysctlApplyUnknownNode(t *testing.T) {
	_, errOut, code := runCapture("sysctl", "apply", "-i", "testdata/vip-sysctl.toml", "--node", "nosuch", "--sysctl-root", t.TempDir())
	if code != 1 || !strings.Contains(errOut, `"nosuch"`) {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
}

// An IPv6 director forwards, which makes the kernel ignore router
// advertisements: sysctl apply sets accept_ra = 2 on the director's
// interface, written in the slash form a VLAN name with a dot needs.
func TestSysctlApplyAcceptRAOnIPv6Director(t *testing.T) {
	root := procTree(t, map[string]string{
		"net.ipv4.ip_forward":                   "0",
		"net.ipv4.ip_nonlocal_bind":             "0",
		"net.ipv6.conf.all.forwarding":          "0",
		"net.ipv6.ip_nonlocal_bind":             "0",
		"net.ipv4.vs.expire_nodest_conn":        "0",
		"net.ipv4.vs.expire_quiescent_template": "0",
		"net.ipv4.vs.conntrack":                 "0",
	})
	ra := filepath.Join(root, "net", "ipv6", "conf", "eth0.10", "accept_ra")
	if err := os.MkdirAll(filepath.Dir(ra), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ra, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCapture("sysctl", "apply", "-i", "testdata/ipv6-vlan.toml", "--node", "v6a", "--sysctl-root", root)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"net.ipv6.conf.all.forwarding: 0 → 1\n", "net/ipv6/conf/eth0.10/accept_ra: 1 → 2\n", "8 of 8 settings changed\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if b, _ := os.ReadFile(ra); string(b) != "2\n" {
		t.Errorf("accept_ra = %q after apply, want 2", b)
	}
}

// Without root every write is refused: the hint says root is needed, even
// when IPVS keys are missing too (before, the modprobe hint won). As root
// the test runs the binary as nobody; otherwise in process, the keys
// read-only.
func TestSysctlApplyWithoutRootSaysSo(t *testing.T) {
	root := procTree(t, map[string]string{"net.ipv4.ip_forward": "0", "net.ipv4.ip_nonlocal_bind": "0"})
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			err = os.Chmod(p, 0o444)
		} else if err == nil {
			err = os.Chmod(p, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
		return nil
	})
	args := []string{"sysctl", "apply", "-i", "", "--node", "stash1", "--sysctl-root", root}
	var stdout, stderr string
	var code int
	if os.Geteuid() != 0 {
		args[3] = "testdata/vip-sysctl.toml"
		stdout, stderr, code = runCapture(args...)
	} else {
		stdout, stderr, code = runAsNobody(t, args)
	}
	if code != 1 || !strings.Contains(stderr, "set net.ipv4.ip_forward: open ") || !strings.Contains(stderr, "permission denied") ||
		!strings.HasSuffix(stderr, "hala: hint: setting kernel parameters needs root (run hala sysctl apply as root)\n") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s\nwant exit 1 and the root hint", code, stdout, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "net/ipv4/ip_forward")); string(b) != "0\n" {
		t.Errorf("ip_forward = %q", b)
	}
}

// runAsNobody runs the hala binary with args as user nobody (65534), the
// inventory (args[3]) and the binary copied where nobody can read them.
func runAsNobody(t *testing.T, args []string) (stdout, stderr string, code int) {
	t.Helper()
	dir := t.TempDir()
	// The test's temporary directories share a parent, private to root.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for src, dst := range map[string]string{testutil.HalaBinary(t): "hala", "testdata/vip-sysctl.toml": "inv.toml"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	args[3] = filepath.Join(dir, "inv.toml")
	cmd := exec.Command(filepath.Join(dir, "hala"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	code, stdout, stderr = testutil.Run(t, cmd)
	return stdout, stderr, code
}
