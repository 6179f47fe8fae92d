package cli

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory/inventorytest"
)

// drainInventory's l1 is this host, where the tests serve its API.
var drainInventory = inventorytest.Edit(inventorytest.Base,
	`address = "10.0.0.11"`, `address = "127.0.0.1"`,
	"one_packet = true\n", "")

// hala runs the real binary with the given environment.
func hala(t *testing.T, env []string, args ...string) procResult {
	t.Helper()
	return runProc(t, exec.Command(testutil.HalaBinary(t), args...), env)
}

// The operator's sequence: drain by name, list, hala check reports it
// down (exit 2 = weight 0 with --dynamic-weight), undrain, check passes.
func TestDrainCommandAndCheck(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inv.toml")
	if err := os.WriteFile(inv, []byte(drainInventory), 0o644); err != nil {
		t.Fatal(err)
	}
	drains := filepath.Join(dir, "drain")
	testutil.LetOthersIn(t, dir)
	env := []string{"HALA_DRAIN_DIR=" + drains, "HALA_STATE_DIR=" + t.TempDir(), "HALA_SYSLOG_SOCKET=" + filepath.Join(dir, "nolog")}
	host, port := checkAPI(t, checkBody)

	if r := hala(t, env, "check", "--port", port, host, "udp-5514"); r.code != 0 {
		t.Fatalf("before drain: exit %d %s", r.code, r.stderr)
	}
	r := hala(t, env, "drain", "-i", inv, "l1")
	if r.code != 0 || r.stdout != "drained l1 (127.0.0.1)\n" {
		t.Fatalf("drain: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := hala(t, env, "drain", "-i", inv, "127.0.0.1"); r.code != 0 || !strings.HasPrefix(r.stdout, "l1 (127.0.0.1) already drained since ") {
		t.Errorf("second drain: exit %d stdout %q", r.code, r.stdout)
	}
	if r := hala(t, env, "drain", "--list"); r.code != 0 || !strings.HasPrefix(r.stdout, "127.0.0.1 (l1) drained since ") {
		t.Errorf("list: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = hala(t, env, "check", "--port", port, host, "udp-5514")
	if want := `hala-check: ` + host + `:` + port + ` input "udp-5514": drained since `; r.code != 1 || !strings.HasPrefix(r.stderr, want) || !strings.HasSuffix(r.stderr, " (hala drain)\n") {
		t.Errorf("drained check: exit %d stderr %q, want exit 1 and %q…(hala drain)", r.code, r.stderr, want)
	}
	if r := hala(t, env, "check", "--port", port, "--dynamic-weight", host, "udp-5514"); r.code != 2 || r.stderr != "" {
		t.Errorf("drained check, --dynamic-weight: exit %d stderr %q, want 2 (weight 0)", r.code, r.stderr)
	}
	if r := hala(t, env, "undrain", "-i", inv, "l1"); r.code != 0 || r.stdout != "undrained l1 (127.0.0.1)\n" {
		t.Errorf("undrain: exit %d stdout %q", r.code, r.stdout)
	}
	if r := hala(t, env, "check", "--port", port, host, "udp-5514"); r.code != 0 {
		t.Errorf("after undrain: exit %d %s", r.code, r.stderr)
	}
	if r := hala(t, env, "drain", "--list"); r.stdout != "no backend drained ("+drains+")\n" {
		t.Errorf("list after undrain: %q", r.stdout)
	}
	// An unreadable record never fails the check.
	if err := os.WriteFile(filepath.Join(drains, "127.0.0.1.drain"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := hala(t, env, "check", "--port", port, host, "udp-5514"); r.code != 0 || !strings.Contains(r.stderr, "warning: drain record ignored") {
		t.Errorf("unreadable record: exit %d stderr %q, want 0 and a warning", r.code, r.stderr)
	}
}

func TestDrainCommandErrors(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inv.toml")
	if err := os.WriteFile(inv, []byte(drainInventory), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"HALA_DRAIN_DIR=" + filepath.Join(dir, "drain")}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"drain", "l1"}, "hala: error: backend \"l1\" is not an IP address\nhala: hint: give -i FILE to name a [[logstash]] host\n"},
		{[]string{"drain", "-i", inv, "nope"}, "hala: error: " + inv + ": no [[logstash]] host is called \"nope\"\n"},
		{[]string{"drain", "-i", inv, "192.0.2.9"}, "hala: error: " + inv + ": no [[logstash]] host has address 192.0.2.9\n"},
		{[]string{"drain", "--local", "l1"}, "hala: error: --local only applies to --wait\n"},
		{[]string{"drain", "--wait", "--local", "127.0.0.1"}, "hala: error: --wait --local needs the inventory, for the backend's inputs and ports\n"},
	} {
		r := hala(t, env, tc.args...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, tc.want) {
			t.Errorf("%q: exit %d stderr %q, want exit 1 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "drain")); err == nil {
		t.Error("a failed drain created the drain dir")
	}
}

func TestDrainHostsAndWaitReady(t *testing.T) {
	dir := t.TempDir()
	host, port := checkAPI(t, checkBody)
	inv := filepath.Join(dir, "inv.toml")
	src := strings.Replace(drainInventory, "name = \"l1\"\naddress = \"127.0.0.1\"", "name = \"l1\"\naddress = \""+host+"\"\napi_port = "+port, 1)
	if err := os.WriteFile(inv, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"HALA_DRAIN_DIR=" + filepath.Join(dir, "drain")}
	r := hala(t, env, "drain", "--hosts", "-i", inv)
	if want := "director d1 10.0.0.1\ndirector d2 10.0.0.2\nlogstash l1 " + host + "\nlogstash l2 10.0.0.12\n"; r.code != 0 || r.stdout != want {
		t.Errorf("--hosts: exit %d stdout %q stderr %q, want %q", r.code, r.stdout, r.stderr, want)
	}
	if r := hala(t, env, "drain", "-i", inv, "--wait-ready", "l1"); r.code != 0 || r.stdout != "l1 ("+host+") passes hala check for every input\n" {
		t.Errorf("--wait-ready, healthy: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	bad := strings.Replace(src, `input_id = "udp-5514"`, `input_id = "udp-9999"`, 1)
	if err := os.WriteFile(inv, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	// (The timeout leaves a loaded machine room for one whole check.)
	r = hala(t, env, "drain", "-i", inv, "--wait-ready", "--timeout", "3s", "l1")
	if r.code != 1 || !strings.Contains(r.stderr, `wait for l1 (`+host+`) to pass hala check (3s): `+host+`:`+port+` input "udp-9999" not found`) {
		t.Errorf("--wait-ready, input missing: exit %d stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "drain")); err == nil {
		t.Error("--hosts or --wait-ready wrote a drain record")
	}
}

// asUser runs the hala binary as uid:gid (root only), as keepalived runs
// hala check as its script user.
func asUser(t *testing.T, uid, gid uint32, env []string, args ...string) procResult {
	t.Helper()
	cmd := exec.Command(testutil.HalaBinary(t), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	return runProc(t, cmd, env)
}

// Under umask 077, hala drain still makes its directories 0755 and the
// record 0644, so hala check, run as another user, sees the drain. A
// directory that user cannot enter makes hala drain fail, not succeed
// while the check keeps passing.
func TestDrainUnderUmask077(t *testing.T) {
	dir := t.TempDir()
	testutil.LetOthersIn(t, dir)
	drains := filepath.Join(dir, "var", "lib", "hala", "drain") // three levels to create
	stateDir := t.TempDir()
	testutil.LetOthersIn(t, stateDir)
	if err := os.Chmod(stateDir, 0o777); err != nil {
		t.Fatal(err)
	}
	env := []string{"HALA_DRAIN_DIR=" + drains, "HALA_STATE_DIR=" + stateDir, "HALA_SYSLOG_SOCKET=" + filepath.Join(dir, "nolog")}
	cmd := exec.Command("sh", "-c", `umask 077 && exec "$0" "$@"`, testutil.HalaBinary(t), "drain", "127.0.0.1")
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "drained 127.0.0.1\n" {
		t.Fatalf("drain under umask 077: %v %q", err, out)
	}
	for _, p := range []string{filepath.Join(dir, "var"), filepath.Join(dir, "var", "lib"), filepath.Join(dir, "var", "lib", "hala"), drains, filepath.Join(drains, "127.0.0.1.drain")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o755)
		if !fi.IsDir() {
			want = 0o644
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o under umask 077, want %04o", p, fi.Mode().Perm(), want)
		}
	}

	// hala check as an unprivileged user (nobody) sees the drain.
	host, port := checkAPI(t, checkBody)
	if os.Geteuid() == 0 {
		r := asUser(t, 65534, 65534, env, "check", "--port", port, host, "udp-5514")
		if r.code != 1 || !strings.Contains(r.stderr, "drained since") {
			t.Errorf("check as nobody after the drain: exit %d stderr %q, want exit 1, drained", r.code, r.stderr)
		}
	}

	// A drain dir others cannot enter: the record is there but unseen.
	if err := os.Chmod(drains, 0o700); err != nil {
		t.Fatal(err)
	}
	r := hala(t, env, "drain", "127.0.0.1")
	if r.code != 1 || !strings.Contains(r.stderr, "hala: error: 127.0.0.1 stays in rotation: drain record not readable: user keepalived_script") ||
		!strings.Contains(r.stderr, "cannot enter "+drains+" (mode 0700") || !strings.Contains(r.stderr, "hala: hint: ") {
		t.Errorf("drain into a dir others cannot enter: exit %d stderr %q, want exit 1 naming the user and the dir", r.code, r.stderr)
	}
	if os.Geteuid() == 0 {
		if r := asUser(t, 65534, 65534, env, "check", "--port", port, host, "udp-5514"); r.code != 0 || !strings.Contains(r.stderr, "drain record ignored") {
			t.Errorf("check as nobody, record unreadable: exit %d stderr %q (what hala drain now refuses to report as drained)", r.code, r.stderr)
		}
	}
}

// Arguments that would drain nothing, or not what was meant, and flags
// that would be ignored are refused.
func TestDrainArguments(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inv.toml")
	if err := os.WriteFile(inv, []byte(drainInventory), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"HALA_DRAIN_DIR=" + filepath.Join(dir, "drain")}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"drain", "0.0.0.0"}, "hala: error: backend 0.0.0.0 is the unspecified address, no backend's\n"},
		{[]string{"drain", "::"}, "hala: error: backend :: is the unspecified address, no backend's\n"},
		{[]string{"drain", "fe80::1%eth0"}, "hala: error: backend \"fe80::1%eth0\" has a zone: drain records are per address and would drop it\nhala: hint: give the address without %eth0\n"},
		{[]string{"drain", "10.0.0.12:5514"}, "hala: error: backend \"10.0.0.12:5514\" has a port: a drain takes an address out of every service, whatever the port\nhala: hint: no port: give the address alone, 10.0.0.12\n"},
		{[]string{"drain", "-i", inv, "10.0.0.12:5514"}, "hala: error: backend \"10.0.0.12:5514\" has a port"},
		{[]string{"undrain", "[::1]:5514"}, "hala: error: backend \"[::1]:5514\" has a port: a drain takes an address out of every service, whatever the port\nhala: hint: no port: give the address alone, ::1\n"},
		{[]string{"drain", "--list", "10.0.0.12"}, "hala: error: --list takes no backend (got 10.0.0.12)\nhala: hint: hala drain --list alone, or hala drain BACKEND\n"},
		{[]string{"drain", "--list", "--wait"}, "hala: error: --list cannot be combined with --wait\n"},
		{[]string{"drain", "--list", "--timeout", "5s"}, "hala: error: --list cannot be combined with --timeout\n"},
		{[]string{"drain", "--timeout", "5s", "10.0.0.12"}, "hala: error: --timeout only applies to --wait\nhala: hint: add --wait, or drop --timeout\n"},
		{[]string{"undrain", "--timeout", "5s", "10.0.0.12"}, "hala: error: --timeout only applies to --wait\n"},
	} {
		r := hala(t, env, tc.args...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%q: exit %d stdout %q stderr %q, want exit 1 and %q", tc.args, r.code, r.stdout, r.stderr, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "drain")); err == nil {
		t.Error("a refused drain created the drain dir")
	}
}

// --list -i names a backend drained by its address.
func TestDrainListNamesAddresses(t *testing.T) {
	dir := t.TempDir()
	testutil.LetOthersIn(t, dir)
	inv := filepath.Join(dir, "inv.toml")
	if err := os.WriteFile(inv, []byte(drainInventory), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"HALA_DRAIN_DIR=" + filepath.Join(dir, "drain")}
	for _, a := range []string{"10.0.0.12", "192.0.2.9"} {
		if r := hala(t, env, "drain", a); r.code != 0 {
			t.Fatalf("drain %s: exit %d %s", a, r.code, r.stderr)
		}
	}
	r := hala(t, env, "drain", "--list", "-i", inv)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "10.0.0.12 (l2) drained since ") || !strings.HasPrefix(lines[1], "192.0.2.9 drained since ") {
		t.Errorf("--list -i: exit %d stdout %q stderr %q, want l2 named and 192.0.2.9 (not in the inventory) as is", r.code, r.stdout, r.stderr)
	}
}

// --wait --local against an API that is down says so as soon as a read
// fails and, at the timeout, that the API could not be read, not that
// the input still receives traffic.
func TestDrainWaitLocalAPIDown(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	inv := filepath.Join(dir, "inv.toml")
	src := strings.Replace(drainInventory, "name = \"l1\"\naddress = \"127.0.0.1\"", "name = \"l1\"\naddress = \"127.0.0.1\"\napi_port = "+port, 1)
	if err := os.WriteFile(inv, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r := hala(t, nil, "drain", "-i", inv, "--wait", "--local", "--timeout", "1s", "l1")
	warn := "hala: input \"udp-5514\": cannot read the Logstash API (ask " + addr + ": connect: connection refused); waiting for it until the timeout (a starting or busy Logstash answers later)\n"
	final := "hala: error: wait for input \"udp-5514\" of l1 (127.0.0.1): the Logstash API could not be read for the last "
	if r.code != 1 || !strings.HasPrefix(r.stderr, warn+final) || !strings.HasSuffix(r.stderr, "(ask "+addr+": connect: connection refused): whether the input is idle is not known\n") || strings.Contains(r.stderr, "still receiving traffic") {
		t.Errorf("API down: exit %d stderr %q\nwant exit 1, %q then %q…", r.code, r.stderr, warn, final)
	}
}
