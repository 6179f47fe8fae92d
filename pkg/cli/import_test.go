package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

const seedConf = "../keepalived/testdata/seed.conf"

func runBinary(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return testutil.Run(t, exec.Command(testutil.HalaBinary(t), args...))
}

// The seed's multicast keepalived.conf imports with a placeholder that
// validate rejects with a hint; with --director it validates.
func TestImportSeedBinary(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "cluster.toml")
	code, stdout, stderr := runBinary(t, "import", "--out-file", out, seedConf)
	if code != 0 || stdout != "" {
		t.Fatalf("import: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, want := range []string{
		"hala: warning: not mapped: " + seedConf + ":8: smtp_connect_timeout 30:",
		"wrote " + out + "\n",
		"hala: hint: " + seedConf + " names no director address",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("inventory %v, %v: want mode 0600 (it holds vrrp_auth_pass)", fi, err)
	}
	code, _, stderr = runBinary(t, "validate", out)
	if code != 1 || !strings.Contains(stderr, `director[0] ("LVS_MASTER").address: 0.0.0.0 is a placeholder`) ||
		!strings.Contains(stderr, "hala: hint: hala import writes 0.0.0.0 where keepalived.conf names no director address") {
		t.Errorf("validate of the placeholder: exit %d, stderr:\n%s", code, stderr)
	}

	// import never replaces a file.
	code, _, stderr = runBinary(t, "import", "--out-file", out, seedConf)
	if code != 1 || !strings.Contains(stderr, "hala: error: write "+out+": it exists") {
		t.Errorf("import over an existing file: exit %d, stderr %q", code, stderr)
	}

	code, stdout, stderr = runBinary(t, "import", "--director", "stash1=192.168.1.210", "--director", "stash2=192.168.1.220", seedConf)
	if code != 0 || strings.Contains(stderr, "hint") {
		t.Fatalf("import --director: exit %d, stderr %q", code, stderr)
	}
	good := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(good, []byte(stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runBinary(t, "validate", good)
	if code != 0 || stdout != good+": ok (2 directors, 2 logstash hosts, 1 VIP, 1 service)\n" {
		t.Errorf("validate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("vrrp_instance VI_1 {\n  state MASTER\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"import", bad}, "hala: error: " + bad + `:1: block "vrrp_instance" is never closed: syntax error` + "\n"},
		{[]string{"import", "--director", "stash1", seedConf}, "hala: error: director \"stash1\": want NAME=ADDR\nhala: hint: --director stash1=192.168.1.210\n"},
		{[]string{"import", "--logstash-port", "0", seedConf}, "hala: error: --logstash-port 0 is out of range 1-65535\n"},
		{[]string{"import", filepath.Join(dir, "missing.conf")}, "no such file"},
	}
	for _, tc := range tests {
		code, stdout, stderr := runHala(t, tc.args...)
		if code != 1 || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
}

// A refused import prints every note it collected before the error, and
// writes nothing.
func TestImportRefusedPrintsNotes(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	data := "global_defs {\n  smtp_connect_timeout 30\n}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n  authentication {\n    auth_type AH\n  }\n  virtual_ipaddress {\n    10.0.0.100/24\n  }\n}\n"
	if err := os.WriteFile(conf, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "cluster.toml")
	code, stdout, stderr := runHala(t, "import", "--out-file", out, conf)
	want := "hala: warning: not mapped: " + conf + ":2: smtp_connect_timeout 30: no inventory key (hala renders global_defs itself)\n" +
		"hala: error: import " + conf + ": hala would render VRRP differently from it (peers whose adverts disagree each become MASTER):\n" +
		"  " + conf + ":8: auth_type AH: hala renders auth_type PASS or no authentication: peers would reject the other's adverts\n"
	if code != 1 || stdout != "" || stderr != want {
		t.Errorf("exit %d, stdout %q, stderr\n%s\nwant\n%s", code, stdout, stderr, want)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("refused import wrote %s: %v", out, err)
	}
}

// -o into a directory that does not exist is an error: nothing is created.
func TestImportOutMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "typo", "cluster.toml")
	code, stdout, stderr := runHala(t, "import", "--director", "stash1=192.168.1.210", "--director", "stash2=192.168.1.220", "-o", out, seedConf)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "hala: error: write "+out+": directory "+filepath.Join(dir, "typo")+" does not exist\n") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "typo")); !os.IsNotExist(err) {
		t.Errorf("import created the directory: %v", err)
	}
}

// An inventory holding vrrp_auth_pass written to stdout redirected into a
// group- or world-readable file draws a warning; -o writes mode 0600.
func TestImportWarnsReadableSecret(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cluster.toml")
	f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Chmod(0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	cmd := exec.Command(testutil.HalaBinary(t), "import", "--director", "stash1=192.168.1.210", "--director", "stash2=192.168.1.220", seedConf)
	var errOut strings.Builder
	cmd.Stdout, cmd.Stderr = f, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("import: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "hala: warning: the inventory holds vrrp_auth_pass and stdout is a file of mode 0644") {
		t.Errorf("stderr lacks the warning:\n%s", errOut.String())
	}
	// To a pipe: no warning.
	_, _, stderr := runBinary(t, "import", "--director", "stash1=192.168.1.210", "--director", "stash2=192.168.1.220", seedConf)
	if strings.Contains(stderr, "others may read") {
		t.Errorf("warning on a pipe:\n%s", stderr)
	}
}

// An LVS-only keepalived.conf imports; hala validate then names each
// placeholder and says what to set.
func TestImportLVSOnlyBinary(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cluster.toml")
	code, _, stderr := runBinary(t, "import", "--director", "LVS_DEVEL=10.10.10.10", "-o", out, "../importer/testdata/lvs-only.conf")
	if code != 0 || !strings.Contains(stderr, "hala: hint: 4 values ../importer/testdata/lvs-only.conf does not say are marked PLACEHOLDER") {
		t.Fatalf("import: exit %d, stderr:\n%s", code, stderr)
	}
	code, _, stderr = runBinary(t, "validate", out)
	for _, want := range []string{
		`vip[0] ("vip-10.10.10.2").router_id: 0 is out of range 1-255 (hala import's placeholder`,
		`service[1] ("udp-514").input_id: "" is a placeholder`,
		`hala: hint: hala import writes 0.0.0.0 where keepalived.conf names no director address`,
	} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("validate: exit %d, stderr lacks %q:\n%s", code, want, stderr)
		}
	}
}
