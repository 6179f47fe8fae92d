package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
