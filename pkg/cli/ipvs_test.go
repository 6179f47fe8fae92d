package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Mistakes are reported before the kernel is asked anything, so they show
// the same on every machine.
func TestIPVSUsageErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("[cluster]\nname = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"ipvs", "plan"}, `required flag(s) "inventory" not set`},
		{[]string{"ipvs", "plan", "-i", twoNode, "-o", "yaml"}, "hala: hint: use -o text, -o json or -o shell"},
		{[]string{"ipvs", "apply", "-i", bad}, "bad.toml:2:"},
		{[]string{"ipvs", "plan", "-i", twoNode, "--node", "nosuch"}, `node "nosuch" is not a [[director]]`},
		{[]string{"ipvs", "show", "-o", "yaml"}, "hala: hint: use -o text or -o json"},
	}
	for _, tc := range tests {
		code, stdout, stderr := runHala(t, tc.args...)
		if code != 1 || stdout != "" || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and %q", tc.args, code, stdout, stderr, tc.stderr)
		}
	}
}

func kernelHasIPVS() bool {
	_, err := os.Stat("/proc/net/ip_vs")
	return err == nil
}

// Without IPVS in the kernel every command says so, with the fix.
func TestIPVSWithoutKernelSupport(t *testing.T) {
	if runtime.GOOS == "linux" && kernelHasIPVS() {
		t.Skip("this kernel has IPVS; the integration tests cover the commands")
	}
	for _, args := range [][]string{
		{"ipvs", "plan", "-i", twoNode},
		{"ipvs", "apply", "-i", twoNode, "--state", filepath.Join(t.TempDir(), "s.json")},
		{"ipvs", "show"},
	} {
		code, stdout, stderr := runHala(t, args...)
		if code != 1 || stdout != "" || !strings.HasPrefix(stderr, "hala: error: IPVS not supported: ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
		if runtime.GOOS == "linux" && !strings.Contains(stderr, "hala: hint: load the IPVS kernel module: modprobe ip_vs\n") {
			t.Errorf("%v: no modprobe hint: %q", args, stderr)
		}
	}
}

// Every command that acts on the inventory prints its warnings, as render
// and validate do: wlc with one_packet sends every packet to one backend,
// and an operator running apply must be told. The warning is printed right
// after loading, before the kernel is asked anything, so it shows whatever
// the command's outcome on this machine.
func TestKernelCommandsPrintInventoryWarnings(t *testing.T) {
	data, err := os.ReadFile("testdata/vip-sysctl.toml")
	if err != nil {
		t.Fatal(err)
	}
	warn := strings.Replace(string(data), "one_packet = true", "one_packet = true\nscheduler = \"wlc\"", 1)
	dir := t.TempDir()
	inv := filepath.Join(dir, "warn.toml")
	if err := os.WriteFile(inv, []byte(warn), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state.json")
	for _, args := range [][]string{
		{"ipvs", "plan", "-i", inv, "--state", state},
		{"ipvs", "apply", "-i", inv, "--state", state, "--dry-run"},
		{"ipvs", "show", "-i", inv, "--state", state},
		{"vip", "show", "-i", inv, "--node", "stash1", "--netns", filepath.Join(dir, "no-such-netns")},
		{"sysctl", "apply", "-i", inv, "--node", "stash1", "--dry-run", "--sysctl-root", dir},
	} {
		_, _, stderr := runHala(t, args...)
		if !strings.HasPrefix(stderr, "hala: warning: "+inv+":") || !strings.Contains(stderr, "one_packet") {
			t.Errorf("%v: stderr does not start with the one_packet warning:\n%s", args, stderr)
		}
	}
}
