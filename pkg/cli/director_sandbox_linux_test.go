//go:build linux && integration

package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory/inventorytest"
)

// sandboxInventory is a one-director cluster. Every 2s a check, so that a
// check ends well within its derived 1.6s timeout under the test VM's
// emulation (TCG).
var sandboxInventory = inventorytest.DirectorBase + "interval = \"2s\"\n"

// pid1Script runs as PID 1 of a new PID and mount namespace, then becomes
// systemd. It puts a tmpfs on /run and throwaway overlays (upper layers in
// that tmpfs) on /etc, /usr, /var and /tmp, so that what setup.sh installs
// and the users it creates stay in this namespace, and the later tests of
// the same VM boot see none of it. The kernel's modules, bind-mounted
// under /lib/modules by the VM's init, are moved over the overlay (which
// does not show submounts) for setup.sh's modprobe.
//
// The boot's other units are masked (a runtime mask of every unit a
// target wants): the unit's DefaultDependencies pull in sysinit.target and
// basic.target, whose units made a run take 178s instead of 45s under
// emulation, and whose systemd-tmpfiles-setup empties /tmp. The unit itself, its sandbox and
// the targets it names stay as they are. systemd logs to the kernel's ring
// buffer (below the VM console's level), the test prints it on failure.
const pid1Script = `set -eu
mount -t tmpfs -o mode=0755 run /run
scratch=/run/hala-test-overlay
modules=/lib/modules/$(uname -r)
mkdir -p "$scratch/modules"
mount --bind "$modules" "$scratch/modules"
for d in etc usr var tmp; do
	mkdir -p "$scratch/$d/upper" "$scratch/$d/work"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$scratch/$d/upper,workdir=$scratch/$d/work" "/$d"
done
mkdir -p "$modules"
mount --move "$scratch/modules" "$modules"
mkdir -p /run/systemd/system
for w in /lib/systemd/system/*.wants/* /etc/systemd/system/*.wants/*; do
	u=${w##*/}
	case $u in
	'*' | sysinit.target | basic.target | network.target | network-online.target | multi-user.target | hala-*) continue ;;
	esac
	ln -sfn /dev/null "/run/systemd/system/$u"
done
printf '[Unit]\nDescription=hala sandbox test: nothing else\nDefaultDependencies=no\n' >/run/systemd/system/hala-test.target
exec /lib/systemd/systemd --unit=hala-test.target --log-target=kmsg --log-level=info --show-status=no
`

// installScript runs in systemd's namespaces and does what an operator
// does on a director without the package: hala and hala-director in
// /usr/bin (cluster.hala_path's default), the inventory in /etc/hala, then
// the rendered setup.sh, which installs the rendered unit and
// /etc/default/hala-director, creates user hala and /var/lib/hala/drain and,
// as systemd runs, enables and starts hala-director.service. Before it: a
// runtime drop-in that sends the director's output to a file (no journald
// runs here; it sets StandardOutput/StandardError only), and no packaged
// unit (one left on the machine by a package test would win over the
// rendered one).
const installScript = `set -eu
install -D -m 0755 "$1" /usr/bin/hala
install -D -m 0755 "$2" /usr/bin/hala-director
install -D -m 0640 "$3" /etc/hala/inventory.toml
rm -f /lib/systemd/system/hala-director.service /usr/lib/systemd/system/hala-director.service
mkdir -p /run/systemd/system/hala-director.service.d
printf '[Service]\nStandardOutput=append:%s\nStandardError=append:%s\n' "$4" "$4" >/run/systemd/system/hala-director.service.d/test-output.conf
exec sh "$5"
`

// TestIntegrationDirectorSandbox proves that hala-director.service's
// sandbox, as rendered (every hardening setting in the unit file), still
// lets hala director program IPVS. systemd itself applies it: the test
// boots systemd as PID 1 of a PID namespace (systemd's container mode) in
// a network namespace of its own, runs the rendered setup.sh there, which
// installs the rendered unit unchanged and starts it, and then asserts
// with ipvsadm -Ln that the service and both healthy destinations are in
// the kernel's table; that the process runs as user hala with only the
// unit's capabilities, no new privileges and its syscall filter; that
// keepalived's tracking script (from the rendered keepalived.conf) finds
// /healthz and /metrics reports both backends up; that a hala drain
// record takes the backend out of the UDP service and hala undrain puts
// it back; and that systemctl stop ends the unit cleanly.
func TestIntegrationDirectorSandbox(t *testing.T) {
	if os.Getenv("HALA_VM") != "1" {
		t.Skip("installs hala and boots systemd: runs in the test VM only (scripts/vmtest-suite -pkg pkg/cli -run TestIntegrationDirectorSandbox)")
	}
	testutil.RequireKernel(t)
	hala := testutil.HalaBinary(t)
	for _, tool := range []string{"ipvsadm", "curl", "unshare", "nsenter", "systemctl", "useradd", "pgrep"} {
		testutil.RequireTool(t, tool)
	}
	const systemd = "/lib/systemd/systemd"
	if _, err := os.Stat(systemd); err != nil {
		t.Fatalf("systemd: %v (scripts/ensure-deps installs it)", err)
	}

	ns := testutil.NewNetNS(t)
	ns.IP(t, "link", "add", "eth0", "type", "dummy")
	ns.IP(t, "link", "set", "eth0", "up")
	for _, a := range []string{"10.0.0.1/24", "10.0.0.11/24", "10.0.0.12/24"} {
		ns.IP(t, "addr", "add", a, "dev", "eth0")
	}
	// Logstash's API on both backends: a real 8.8 /_node/stats body.
	body := testutil.NodeStats("udp-5514")
	for _, a := range []string{"10.0.0.11:9600", "10.0.0.12:9600"} {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) })}
		go srv.Serve(ns.Listen(t, "tcp", a))
		t.Cleanup(func() { srv.Close() })
	}

	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.toml")
	if err := os.WriteFile(inv, []byte(sandboxInventory), 0o644); err != nil {
		t.Fatal(err)
	}
	rendered := filepath.Join(dir, "rendered")
	if out, err := exec.Command(hala, "render", "-i", inv, "-d", rendered).CombinedOutput(); err != nil {
		t.Fatalf("hala render: %v\n%s", err, out)
	}
	unit, err := os.ReadFile(filepath.Join(rendered, "d1", "hala-director.service"))
	if err != nil {
		t.Fatal(err)
	}
	const directorLog = "/run/hala-director-test.log" // in systemd's /run

	// systemd as PID 1, in the test's network namespace; --kill-child
	// takes it (and with it the whole PID namespace) down with unshare.
	boot := exec.Command("nsenter", "--net="+ns.Path, "unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
		"sh", "-c", pid1Script)
	boot.Env = append(os.Environ(), "container=hala-vm", "SYSTEMD_LOG_TIME=1")
	pid1 := testutil.Start(t, boot)
	sd := &pid1Systemd{t: t, unshare: pid1}
	sd.waitRunning()
	logs := func() string {
		status, _ := sd.systemctl("status", "--no-pager", "hala-director.service")
		director, _ := sd.run(time.Minute, "cat", directorLog)
		kmsg, _ := exec.Command("dmesg").CombinedOutput()
		kmsg = []byte(grepLines(string(kmsg), "systemd"))
		return fmt.Sprintf("systemctl status:\n%s\nhala director's output:\n%s\nsystemd's log (dmesg):\n%s\nPID 1's output:\n%s", status, director, kmsg, pid1.Output())
	}

	start := time.Now()
	if out, err := sd.run(3*time.Minute, "sh", "-c", installScript, "install", hala, filepath.Join(filepath.Dir(hala), "hala-director"),
		inv, directorLog, filepath.Join(rendered, "d1", "setup.sh")); err != nil {
		t.Fatalf("install and rendered setup.sh: %v\n%s\n%s", err, out, logs())
	} else {
		t.Logf("setup.sh (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	}

	// The unit systemd runs is the rendered file, installed unchanged.
	props := sd.show("FragmentPath", "DropInPaths", "ActiveState", "SubState", "MainPID", "UnitFileState")
	if props["FragmentPath"] != "/etc/systemd/system/hala-director.service" {
		t.Fatalf("systemd loaded hala-director.service from %q, want the one setup.sh installed\n%s", props["FragmentPath"], logs())
	}
	if installed, err := sd.run(time.Minute, "cat", props["FragmentPath"]); err != nil || installed != string(unit) {
		t.Fatalf("installed unit differs from the rendered one (%v):\n%s", err, installed)
	}
	for _, p := range strings.Fields(props["DropInPaths"]) {
		if strings.Contains(p, "hala-director") && p != "/run/systemd/system/hala-director.service.d/test-output.conf" {
			t.Fatalf("drop-in %s: only the test's output redirection may change the unit", p)
		}
	}
	if props["ActiveState"] != "active" || props["SubState"] != "running" || props["UnitFileState"] != "enabled" {
		t.Fatalf("after setup.sh the unit is %s/%s (%s), want active/running (enabled): Type=notify, so active means ready\n%s",
			props["ActiveState"], props["SubState"], props["UnitFileState"], logs())
	}

	// ipvsadm is the oracle: the service and both healthy destinations.
	ipvsadm := func() string {
		out, err := ns.Cmd("ipvsadm", "-Ln").CombinedOutput()
		if err != nil {
			t.Fatalf("ipvsadm: %v: %s", err, out)
		}
		return string(out)
	}
	waitTable := func(what string, want func(table string) bool) {
		t.Helper()
		if _, err := testutil.Poll(30*time.Second, 200*time.Millisecond, func() error {
			if !want(ipvsadm()) {
				return os.ErrNotExist
			}
			return nil
		}); err != nil {
			t.Fatalf("%s: not in 30s:\n%s\n%s", what, ipvsadm(), logs())
		}
	}
	service := regexp.MustCompile(`(?m)^UDP  10\.0\.0\.100:5514 `)
	dest := func(addr string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^  -> ` + regexp.QuoteMeta(addr) + `:5514 +Masq +1 `)
	}
	l1, l2 := dest("10.0.0.11"), dest("10.0.0.12")
	waitTable("the service with both destinations at weight 1", func(table string) bool {
		return service.MatchString(table) && l1.MatchString(table) && l2.MatchString(table)
	})
	t.Logf("programmed by the sandboxed director %s after setup.sh began:\n%s", time.Since(start).Round(time.Millisecond), ipvsadm())

	// The sandbox is on the process that did it.
	mainPID := sd.show("MainPID")["MainPID"]
	st, err := sd.run(time.Minute, "cat", "/proc/"+mainPID+"/status")
	if err != nil {
		t.Fatalf("status of MainPID %s: %v\n%s", mainPID, err, st)
	}
	uid, err := sd.run(time.Minute, "id", "-u", "hala")
	if err != nil {
		t.Fatal(err, uid)
	}
	fields := statusFields(st)
	if got := strings.Fields(fields["Uid"]); len(got) == 0 || got[0] != strings.TrimSpace(uid) {
		t.Errorf("Uid %q, want user hala (%s)", fields["Uid"], strings.TrimSpace(uid))
	}
	if fields["NoNewPrivs"] != "1" || fields["Seccomp"] != "2" {
		t.Errorf("NoNewPrivs %q Seccomp %q, want 1 and 2 (NoNewPrivileges, SystemCallFilter)", fields["NoNewPrivs"], fields["Seccomp"])
	}
	const netAdmin, netBind = 1 << 12, 1 << 10 // CAP_NET_ADMIN, CAP_NET_BIND_SERVICE
	if eff, err := strconv.ParseUint(fields["CapEff"], 16, 64); err != nil || eff&netAdmin == 0 || eff&^(netAdmin|netBind) != 0 {
		t.Errorf("CapEff %q, want CAP_NET_ADMIN and at most CAP_NET_BIND_SERVICE besides", fields["CapEff"])
	}
	if bnd, err := strconv.ParseUint(fields["CapBnd"], 16, 64); err != nil || bnd&^(netAdmin|netBind) != 0 {
		t.Errorf("CapBnd %q, want only the unit's CapabilityBoundingSet", fields["CapBnd"])
	}

	// keepalived's tracking script, as rendered, finds the director
	// healthy; /metrics reports both backends up.
	conf, err := os.ReadFile(filepath.Join(rendered, "d1", "keepalived.conf"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*script "(/usr/bin/hala director health [^"]*)"`).FindSubmatch(conf)
	if m == nil {
		t.Fatalf("no hala director health tracking script in the rendered keepalived.conf:\n%s", conf)
	}
	track := string(m[1])
	addr := regexp.MustCompile(`--metrics-address (\S+)`).FindStringSubmatch(track)
	if addr == nil {
		t.Fatalf("no --metrics-address in %q", track)
	}
	// Polled: under emulation on a loaded machine one answer may miss the
	// script's 1s timeout, as keepalived's fall = 3 allows.
	var out string
	if _, err := testutil.Poll(30*time.Second, 500*time.Millisecond, func() (err error) {
		out, err = sd.run(time.Minute, "sh", "-c", track)
		return err
	}); err != nil {
		t.Errorf("%s: %v, want exit 0 (keepalived would take the VIP away)\n%s", track, err, out)
	}
	if _, err := testutil.Poll(30*time.Second, 500*time.Millisecond, func() error {
		metrics, err := sd.run(time.Minute, "curl", "-sSf", "--max-time", "10", "http://"+addr[1]+"/metrics")
		if err != nil {
			return fmt.Errorf("GET /metrics: %v\n%s", err, metrics)
		}
		for _, b := range []string{"l1", "l2"} {
			up := regexp.MustCompile(`(?m)^hala_backend_up\{[^}]*backend="` + b + `"[^}]*\} 1$`)
			if !up.MatchString(metrics) {
				return fmt.Errorf("/metrics: no hala_backend_up 1 for %s:\n%s", b, grepLines(metrics, "hala_backend_up"))
			}
		}
		return nil
	}); err != nil {
		t.Error(err)
	}

	// A drain record (root writes it in /var/lib/hala/drain, outside the
	// sandbox; the director reads it through ProtectSystem=strict) takes
	// l2 out of the UDP service; hala undrain puts it back.
	if out, err := sd.run(time.Minute, "/usr/bin/hala", "drain", "10.0.0.12"); err != nil {
		t.Fatalf("hala drain: %v\n%s", err, out)
	}
	waitTable("l2 drained: gone from the UDP service, l1 kept", func(table string) bool {
		return l1.MatchString(table) && !strings.Contains(table, "10.0.0.12:5514")
	})
	if out, err := sd.run(time.Minute, "/usr/bin/hala", "undrain", "10.0.0.12"); err != nil {
		t.Fatalf("hala undrain: %v\n%s", err, out)
	}
	waitTable("l2 undrained: back at weight 1", func(table string) bool {
		return l1.MatchString(table) && l2.MatchString(table)
	})

	// systemctl stop: SIGTERM, exit 0, the unit inactive, not failed.
	if out, err := sd.systemctl("stop", "hala-director.service"); err != nil {
		t.Fatalf("systemctl stop: %v\n%s\n%s", err, out, logs())
	}
	if p := sd.show("ActiveState", "Result"); p["ActiveState"] != "inactive" || p["Result"] != "success" {
		t.Errorf("after systemctl stop: %s (result %s), want inactive (success)\n%s", p["ActiveState"], p["Result"], logs())
	}
	t.Logf("whole test in systemd: %s", time.Since(start).Round(time.Millisecond))
}

// pid1Systemd is systemd running as PID 1 of the PID namespace that
// unshare made. Commands reach it through nsenter: systemctl refuses to
// start units from a chroot (the VM runs its tests chrooted) and systemd
// ignores a client whose PID it cannot see, so they run in its PID, mount
// and network namespaces, under its root.
type pid1Systemd struct {
	t       *testing.T
	unshare *testutil.Process
	pid     int // systemd's PID as this process sees it
}

// waitRunning finds systemd (unshare's child) and waits until it has
// booted its target.
func (s *pid1Systemd) waitRunning() {
	s.t.Helper()
	if _, err := testutil.Poll(30*time.Second, 100*time.Millisecond, func() error {
		if ended, err := s.unshare.Exited(); ended {
			return fmt.Errorf("PID 1 ended: %v", err)
		}
		data, _ := exec.Command("pgrep", "-P", strconv.Itoa(s.unshare.Pid())).Output()
		f := strings.Fields(string(data))
		if len(f) == 0 {
			return os.ErrNotExist
		}
		pid, err := strconv.Atoi(f[0])
		s.pid = pid
		return err
	}); err != nil {
		s.t.Fatalf("systemd did not start: %v\n%s", err, s.unshare.Output())
	}
	var state string
	if _, err := testutil.Poll(60*time.Second, 250*time.Millisecond, func() error {
		if ended, err := s.unshare.Exited(); ended {
			return fmt.Errorf("systemd ended: %v", err)
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", s.pid))
		if strings.TrimSpace(string(comm)) != "systemd" {
			return fmt.Errorf("PID 1 is %q, not systemd yet", bytes.TrimSpace(comm))
		}
		out, _ := s.systemctl("is-system-running")
		state = strings.TrimSpace(out)
		if state != "running" && state != "degraded" {
			return fmt.Errorf("is-system-running: %s", state)
		}
		return nil
	}); err != nil {
		s.t.Fatalf("systemd did not boot: %v\n%s", err, s.unshare.Output())
	}
}

// run runs a command as root in systemd's namespaces and returns its
// combined output.
func (s *pid1Systemd) run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--target", strconv.Itoa(s.pid),
		"--pid", "--mount", "--net", "--root", "--wd", name}, args...)...)
	cmd.Env = append(os.Environ(), "SYSTEMD_IGNORE_CHROOT=1", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (s *pid1Systemd) systemctl(args ...string) (string, error) {
	return s.run(2*time.Minute, "systemctl", args...)
}

// show returns the named properties of hala-director.service.
func (s *pid1Systemd) show(props ...string) map[string]string {
	s.t.Helper()
	out, err := s.systemctl("show", "hala-director.service", "-p", strings.Join(props, ","))
	if err != nil {
		s.t.Fatalf("systemctl show: %v\n%s", err, out)
	}
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// statusFields parses /proc/PID/status.
func statusFields(status string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
